#!/usr/bin/env node
// `pnpm start`: the README's main job. Caches a real build step, `tsc -p .` over the small
// TypeScript library in examples/tsc-project, with `cairn run`: the first run is a miss and
// compiles, the second is a hit and restores dist/ without compiling. Then an edit to a source
// file shows the key following the inputs, and `cairn stats` shows the store.
//
// Everything happens in one temp directory (a copy of the project and a fresh store), removed
// at the end: the demo writes nothing anywhere else.

import { spawnSync } from 'node:child_process'
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const cairnBin = join(repo, 'packages', 'cli', 'dist', 'cairn.mjs')
const typescript = JSON.parse(readFileSync(join(repo, 'node_modules', 'typescript', 'package.json'), 'utf8'))

const temp = mkdtempSync(join(tmpdir(), 'cairn-demo-'))
const project = join(temp, 'wordstats')
const store = join(temp, 'store')

/**
 * `cairn run` of the build step, as a CI job would write it. The key covers `tsc -p .`, the
 * sources and tsconfig.json (by content), the declared output and the TypeScript version (given
 * with --key-extra, since the compiler itself is not an input file here).
 */
function build(label) {
  const args = [
    'run',
    '--inputs',
    'src/**/*.ts',
    'tsconfig.json',
    '--outputs',
    'dist',
    '--key-extra',
    `typescript@${typescript.version}`,
    '--',
    'tsc',
    '-p',
    '.',
  ]
  console.log(`\n$ cairn ${args.map(shellQuote).join(' ')}    # ${label}`)
  const started = performance.now()
  const result = spawnSync(process.execPath, [cairnBin, ...args], {
    cwd: project,
    stdio: 'inherit',
    // The repository's own tsc, first on the PATH; the store in the temp directory.
    env: {
      ...process.env,
      CAIRN_DIR: store,
      PATH: `${join(repo, 'node_modules', '.bin')}${delimiter}${process.env.PATH}`,
    },
  })
  const ms = performance.now() - started
  if (result.status !== 0) throw new Error(`cairn run exited with ${result.status ?? result.signal}`)
  return ms
}

/** An argument as a POSIX shell would need it, so the printed command can be pasted. */
function shellQuote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`
}

try {
  cpSync(fileURLToPath(new URL('./tsc-project', import.meta.url)), project, {
    recursive: true,
    filter: (source) => !/[/\\](dist|node_modules)$/.test(source),
  })
  console.log(
    `Demo: caching \`tsc -p .\` of examples/tsc-project (TypeScript ${typescript.version}) with cairn run`,
  )
  console.log(`project copy ${project}\nstore        ${store}`)

  const miss = build('first run: a miss, tsc compiles')
  const files = readdirSync(join(project, 'dist')).length
  rmSync(join(project, 'dist'), { recursive: true })
  const hit = build('dist/ deleted; second run: a hit, restored without running tsc')
  const restored = readdirSync(join(project, 'dist')).length
  if (restored !== files) throw new Error(`the hit restored ${restored} files of ${files}`)

  console.log(`\nmiss (compile + store)  ${miss.toFixed(0).padStart(5)} ms`)
  console.log(`hit (restore)           ${hit.toFixed(0).padStart(5)} ms`)
  console.log(
    `time saved              ${(miss - hit).toFixed(0).padStart(5)} ms (${(miss / hit).toFixed(1)}× faster)`,
  )

  appendFileSync(join(project, 'src', 'syllables.ts'), '\n/** Added by the demo. */\nexport const DEMO = 1\n')
  build('an edited source file: a new key, so a miss')

  console.log('\n$ cairn stats')
  const stats = spawnSync(process.execPath, [cairnBin, 'stats'], {
    stdio: 'inherit',
    env: { ...process.env, CAIRN_DIR: store },
  })
  if (stats.status !== 0) throw new Error(`cairn stats exited with ${stats.status}`)
} finally {
  rmSync(temp, { recursive: true, force: true })
}

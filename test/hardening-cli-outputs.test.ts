// `cairn run` refuses a declared output that contains the store, the project root or the working
// directory, or lies inside the store, by where the paths really are, not how they are spelled
// (issue #13, item 4). Real processes: the bundled CLI in temp projects, with real symlinks.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type CliResult, cairn, makeProject } from './fixtures/cli-harness.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

/** A command that would mark that it ran: it must never run when the outputs are refused. */
const MARK = [process.execPath, '-e', "require('fs').writeFileSync('ran.txt', 'ran')"]

function setup() {
  const base = tempDir('cairn-cli-outputs-')
  const project = makeProject(join(base, 'checkout'))
  const run = (outputs: string[], options: { store?: string; env?: Record<string, string> } = {}) =>
    cairn(
      [
        'run',
        ...(options.store === undefined ? [] : ['--store', options.store]),
        '--allow-empty',
        '--outputs',
        ...outputs,
        '--',
        ...MARK,
      ],
      { cwd: project, env: options.env ?? {} },
    )
  return { base, project, run }
}

/** Asserts bad usage (exit 2) naming the output and why, and that the command did not run. */
function expectRefused(result: CliResult, output: string, why: RegExp, project: string): void {
  assert.is(result.code, 2, result.stderr)
  assert.ok(result.stderr.includes(`--outputs ${JSON.stringify(output)}`), result.stderr)
  assert.match(result.stderr, why)
  assert.not.ok(existsSync(join(project, 'ran.txt')), 'the command did not run')
}

const refused = suite('cairn run: outputs that would replace the store or the checkout')
refused.after(removeTempDirs)

refused('an output holding a store reached through a symlinked CAIRN_DIR is refused', async () => {
  const { base, project, run } = setup()
  mkdirSync(join(project, 'out'))
  // CAIRN_DIR names base/cache/store; base/cache is a symlink to the project's out/.
  symlinkSync(join(project, 'out'), join(base, 'cache'))
  const result = await run(['out'], { env: { CAIRN_DIR: join(base, 'cache', 'store') } })
  expectRefused(result, 'out', /would replace the store \(.*, which is .*checkout\/out\/store\)/, project)
  assert.not.ok(existsSync(join(project, 'out', 'store')), 'no store was created inside the output')
})

refused('an output inside the store is refused, spelled directly or through a symlink', async () => {
  const { base, project, run } = setup()
  const store = join(base, 'store')
  mkdirSync(store)
  expectRefused(await run([join(store, 'x')], { store }), join(store, 'x'), /is inside the store/, project)
  symlinkSync(store, join(project, 'cache'))
  expectRefused(await run(['cache/x'], { store }), 'cache/x', /is inside the store/, project)
})

refused('an output that is the project root spelled through a symlinked parent is refused', async () => {
  const { base, project, run } = setup()
  // base/alias is base itself, so ../alias/checkout is the project root under another name.
  symlinkSync(base, join(base, 'alias'))
  const store = join(base, 'store')
  const result = await run(['../alias/checkout'], { store })
  expectRefused(result, '../alias/checkout', /would replace the working directory/, project)
})

/** Bind mounts need root (tests run as root in CI); elsewhere the bind-mount case is skipped. */
const asRoot = process.getuid?.() === 0 ? refused : refused.skip

asRoot('an output that is a bind mount of a directory holding the store is refused', async () => {
  const { base, project, run } = setup()
  const shared = join(base, 'shared')
  mkdirSync(join(shared, 'store'), { recursive: true })
  mkdirSync(join(project, 'out'))
  const mounted = spawnSync('mount', ['--bind', shared, join(project, 'out')], { encoding: 'utf8' })
  assert.is(mounted.status, 0, mounted.stderr)
  try {
    // No path comparison relates checkout/out to base/shared; their device and inode are one.
    const result = await run(['out'], { store: join(shared, 'store') })
    expectRefused(result, 'out', /would replace the store/, project)
  } finally {
    spawnSync('umount', [join(project, 'out')])
  }
})

refused('an output that is itself a symlink to the store is accepted: the link is the output', async () => {
  const { base, project, run } = setup()
  const store = join(base, 'store')
  mkdirSync(store)
  symlinkSync(store, join(project, 'link'))
  const result = await run(['link'], { store })
  assert.is(result.code, 0, result.stderr)
  assert.match(result.stderr, /^cairn: miss /m)
})

refused.run()

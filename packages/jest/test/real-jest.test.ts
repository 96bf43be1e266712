// @cairn/jest with real Jest 30 and babel-jest on the fixture project in test/fixture (32 test
// files: TypeScript through @babel/preset-typescript, ES-module syntax in .js, native ES modules
// in .mjs). Each run is a real `jest` process on a temp copy of the fixture; the fixture's
// count-transformer.cjs wraps babel-jest and appends every file it transforms to $COUNT_FILE,
// so the tests see exactly which files the inner transformer ran on.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const here = fileURLToPath(new URL('.', import.meta.url))
const fixture = join(here, '../../test/fixture')
const workspaceModules = join(here, '../../../../node_modules')

const test = suite('@cairn/jest with real Jest')

let base: string
let counter = 0

test.before(() => {
  base = mkdtempSync(join(tmpdir(), 'cairn-jest-'))
  // Readable and writable by `nobody` for the read-only store test.
  chmodSync(base, 0o777)
})

let started = 0
test.before.each(() => {
  started = performance.now()
})
test.after.each(() => {
  if (process.env.CAIRN_JEST_TEST_TIMES) console.log(`    ${Math.round(performance.now() - started)} ms`)
})

test.after(() => {
  rmSync(base, { recursive: true, force: true })
})

/** A fresh copy of the fixture project at `name` under the temp dir, with the workspace's modules. */
function project(name: string): string {
  const dir = join(base, name)
  cpSync(fixture, dir, { recursive: true })
  symlinkSync(workspaceModules, join(dir, 'node_modules'))
  return dir
}

/** A fresh directory (writable by anyone), e.g. for a Jest cache or a store. */
function fresh(name: string): string {
  const dir = join(base, `${name}-${++counter}`)
  mkdirSync(dir, { mode: 0o777 })
  chmodSync(dir, 0o777)
  return dir
}

interface Run {
  code: number | null
  stderr: string
  /** How often the inner transformer transformed each file (relative to rootDir). */
  calls: Map<string, number>
  /** The lines @cairn/jest warned with. */
  warnings: string[]
}

interface RunOptions {
  cwd: string
  store?: string
  jestCache: string
  args?: string[]
  env?: Record<string, string>
  asNobody?: boolean
}

function startJest(options: RunOptions): { child: ChildProcess; done: Promise<Run> } {
  const countDir = fresh('count')
  const countFile = join(countDir, 'calls')
  const jestArgs = [
    '--experimental-vm-modules',
    '--no-warnings',
    join(options.cwd, 'node_modules/jest/bin/jest.js'),
    '--ci',
    '--cacheDirectory',
    options.jestCache,
    ...(options.args ?? ['-w', '2']),
  ]
  const inherited: NodeJS.ProcessEnv = { ...process.env }
  delete inherited.CAIRN_DISABLE
  delete inherited.CAIRN_JEST_MAX_SIZE
  const env: NodeJS.ProcessEnv = { ...inherited, COUNT_FILE: countFile, ...options.env }
  if (options.store !== undefined) env.CAIRN_DIR = options.store
  const [command, args] = options.asNobody
    ? ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, ...jestArgs]]
    : [process.execPath, jestArgs]
  const child = spawn(command as string, args as string[], { cwd: options.cwd, env, stdio: 'pipe' })
  let stderr = ''
  child.stdout?.resume()
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      const calls = new Map<string, number>()
      const lines = existsSync(countFile) ? readFileSync(countFile, 'utf8').split('\n') : []
      for (const line of lines) if (line !== '') calls.set(line, (calls.get(line) ?? 0) + 1)
      const warnings = stderr.split('\n').filter((line) => line.startsWith('@cairn/jest:'))
      resolve({ code, stderr, calls, warnings })
    })
  })
  return { child, done }
}

function runJest(options: RunOptions): Promise<Run> {
  return startJest(options).done
}

function assertPassed(run: Run, what: string): void {
  if (run.code !== 0) console.log(run.stderr)
  assert.is(run.code, 0, `${what}: jest exits 0`)
  assert.match(run.stderr, /Tests:\s+\d+ passed, \d+ total/, `${what}: tests pass`)
  assert.not.match(run.stderr, /Tests:.*failed/, `${what}: nothing failed`)
}

/** Every file of the fixture that Jest transforms: its test files and the modules they import. */
function fixtureFiles(): string[] {
  return ['src', 'test']
    .flatMap((dir) => readdirSync(join(fixture, dir)).map((name) => `${dir}/${name}`))
    .sort()
}

const sorted = (calls: Map<string, number>): string[] => [...calls.keys()].sort()

let main: string
let store: string

test('cold: every file is transformed once by the inner transformer and every test passes', async () => {
  main = project('main')
  store = join(fresh('store'), 'cairn')
  const run = await runJest({ cwd: main, store, jestCache: fresh('jest-a') })
  assertPassed(run, 'cold run')
  assert.match(run.stderr, /Tests:\s+32 passed, 32 total/)
  assert.equal(sorted(run.calls), fixtureFiles(), 'each file of the fixture was transformed')
  assert.ok(
    [...run.calls.values()].every((count) => count === 1),
    'each exactly once',
  )
  assert.equal(run.warnings, [])
})

test('a fresh Jest cache with the same store: 0 inner calls, the same results', async () => {
  const run = await runJest({ cwd: main, store, jestCache: fresh('jest-b') })
  assertPassed(run, 'warm store')
  assert.match(run.stderr, /Tests:\s+32 passed, 32 total/)
  assert.equal(sorted(run.calls), [], 'the inner transformer never ran')
})

test('the project copied to another directory: 0 inner calls (keys hold no absolute path)', async () => {
  const copy = project('elsewhere/checkout-2')
  const run = await runJest({ cwd: copy, store, jestCache: fresh('jest-c') })
  assertPassed(run, 'copy')
  assert.equal(sorted(run.calls), [])
})

test('one source file edited: exactly that file is transformed again', async () => {
  appendFileSync(join(main, 'src/m03.ts'), '\nexport const edited = true\n')
  const run = await runJest({ cwd: main, store, jestCache: fresh('jest-d') })
  assertPassed(run, 'edit')
  assert.equal(sorted(run.calls), ['src/m03.ts'])
})

// Two Jest processes of 4 workers each, on one empty store at once. Both miss every key at the
// start; a process that misses a key the other is transforming waits (bounded) for its entry
// (busy.ts), so each key is transformed once in all. What must hold: no errors, every test
// passes in both, each file transformed at most once across both processes, and the store ends
// with one valid entry per key (the next run transforms nothing).
const subset = ['--runInBand', 'test/m01']

test('-w 4, two Jest processes sharing one store at once: no errors, each key transformed at most once in all', async () => {
  const shared = join(fresh('store'), 'cairn')
  // Two unedited copies: the same sources, so the same keys (main has an edited m03.ts).
  const first = project('concurrent-1')
  const second = project('concurrent-2')
  const runs = await Promise.all([
    runJest({ cwd: first, store: shared, jestCache: fresh('jest-e'), args: ['-w', '4'] }),
    runJest({ cwd: second, store: shared, jestCache: fresh('jest-f'), args: ['-w', '4'] }),
  ])
  for (const run of runs) {
    assertPassed(run, 'concurrent run')
    assert.equal(run.warnings, [], 'no store errors')
  }
  const files = fixtureFiles()
  for (const file of files) {
    const total = (runs[0]?.calls.get(file) ?? 0) + (runs[1]?.calls.get(file) ?? 0)
    assert.is(total, 1, `${file} transformed ${total} times by two processes`)
  }
  const after = await runJest({ cwd: main, store: shared, jestCache: fresh('jest-g'), args: subset })
  assertPassed(after, 'after the concurrent runs')
  assert.equal(sorted(after.calls), [], 'the store holds valid entries')
})

test('a changed Babel config or transformer option changes the key', async () => {
  const loose = await runJest({
    cwd: main,
    store,
    jestCache: fresh('jest-h'),
    args: subset,
    env: { FIXTURE_BABEL_LOOSE: '1' },
  })
  assertPassed(loose, 'changed Babel config')
  assert.equal(sorted(loose.calls), ['src/m01.ts', 'test/m01.test.ts'])
  const option = await runJest({
    cwd: main,
    store,
    jestCache: fresh('jest-i'),
    args: subset,
    env: { FIXTURE_OPTION: '1' },
  })
  assertPassed(option, 'changed transformer option')
  assert.equal(sorted(option.calls), ['src/m01.ts', 'test/m01.test.ts'])
  const again = await runJest({
    cwd: main,
    store,
    jestCache: fresh('jest-j'),
    args: subset,
    env: { FIXTURE_OPTION: '1' },
  })
  assert.equal(sorted(again.calls), [], 'and the new key is a hit next time')
})

test("coverage: instrumented output embeds its file's path, so it hits only in its own directory", async () => {
  // The pattern first: --coverageReporters takes every argument after it.
  const args = ['--runInBand', 'test/m05', '--coverage', '--coverageReporters=json']
  const first = await runJest({ cwd: main, store, jestCache: fresh('jest-cov'), args })
  assertPassed(first, 'coverage')
  // Jest instruments the module, not the test file, which is a hit from the earlier runs.
  assert.equal(sorted(first.calls), ['src/m05.ts'], 'instrumenting is another key')
  const again = await runJest({ cwd: main, store, jestCache: fresh('jest-cov'), args })
  assert.equal(sorted(again.calls), [], 'a hit in the same directory')
  const copy = project('coverage-copy')
  const there = await runJest({ cwd: copy, store, jestCache: fresh('jest-cov'), args })
  assertPassed(there, 'coverage in a copy')
  assert.equal(sorted(there.calls), ['src/m05.ts'], 'no hit holding the other path')
  const report = JSON.parse(readFileSync(join(copy, 'coverage/coverage-final.json'), 'utf8'))
  assert.ok(Object.keys(report).includes(join(copy, 'src/m05.ts')), 'coverage names the copy')
  assert.ok(
    Object.keys(report).every((file) => file.startsWith(`${copy}/`)),
    'and no file of the first checkout',
  )
})

test('CAIRN_DISABLE=1: the inner transformer runs even with a warm store', async () => {
  const run = await runJest({
    cwd: main,
    store,
    jestCache: fresh('jest-k'),
    args: subset,
    env: { CAIRN_DISABLE: '1' },
  })
  assertPassed(run, 'disabled')
  assert.equal(sorted(run.calls), ['src/m01.ts', 'test/m01.test.ts'])
})

test('a read-only store (run as nobody): the tests pass, with exactly one warning', async () => {
  if (process.getuid?.() !== 0) {
    console.log('    DID NOT RUN: not root, so the run cannot switch to nobody')
    return
  }
  const readOnly = join(fresh('store'), 'cairn')
  await openStore(readOnly) // created by root: nobody can read it but not write it
  chmodSync(join(readOnly, '..'), 0o755)
  const jestCache = fresh('jest-l')
  const run = await runJest({ cwd: main, store: readOnly, jestCache, args: subset, asNobody: true })
  assertPassed(run, 'read-only store')
  assert.equal(sorted(run.calls), ['src/m01.ts', 'test/m01.test.ts'])
  assert.is(run.warnings.length, 1, run.warnings.join('\n'))
  assert.match(run.warnings[0] ?? '', /cannot write to the store/)
})

test('a store on a full tmpfs: the tests pass, with exactly one warning', async () => {
  if (process.getuid?.() !== 0) {
    console.log('    DID NOT RUN: not root, so no tmpfs could be mounted')
    return
  }
  const mountPoint = fresh('disk')
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint])
  try {
    const full = join(mountPoint, 'cairn')
    await openStore(full)
    try {
      // Fill the disk: the store's next write meets ENOSPC.
      writeFileSync(join(mountPoint, 'filler'), Buffer.alloc(1024 * 1024))
    } catch {}
    const run = await runJest({
      cwd: main,
      store: full,
      jestCache: fresh('jest-m'),
      args: ['--runInBand', 'test/m02'],
    })
    assertPassed(run, 'full disk')
    assert.equal(sorted(run.calls), ['src/m02.ts', 'test/m02.test.ts'])
    assert.is(run.warnings.length, 1, run.warnings.join('\n'))
  } finally {
    execFileSync('umount', [mountPoint])
  }
})

test('@cairn/jest/global-teardown prunes the `store` option (relative to rootDir) to maxSize', async () => {
  const maxSize = 3000
  const run = await runJest({
    cwd: main,
    jestCache: fresh('jest-n'),
    args: ['--runInBand', 'test/m0[1-4]'],
    env: { FIXTURE_STORE: '.cache/cairn', FIXTURE_MAX_SIZE: `${maxSize}B` },
  })
  assertPassed(run, 'teardown')
  assert.is(run.calls.size, 8, 'four tests and their modules went into the store')
  const pruned = await openStore(join(main, '.cache/cairn'))
  let bytes = 0
  let entries = 0
  for await (const entry of pruned.entries()) {
    bytes += entry.size
    entries++
  }
  assert.ok(entries > 0 && entries < 8, `the store was pruned to ${entries} entries`)
  assert.ok(bytes <= maxSize, `${bytes} bytes <= ${maxSize}`)
})

test('the teardown works when Jest runs it through a Babel transform matching .cjs', async () => {
  const run = await runJest({
    cwd: main,
    jestCache: fresh('jest-o'),
    args: ['--runInBand', 'test/m01'],
    env: { FIXTURE_STORE: '.cache/cairn', FIXTURE_MAX_SIZE: '1MB', FIXTURE_TRANSFORM_ALL: '1' },
  })
  assertPassed(run, 'transformed teardown')
  assert.ok(
    [...run.calls.keys()].some((file) => file.endsWith('global-teardown.cjs')),
    'Jest transformed the teardown file',
  )
  assert.not.match(run.stderr, /globalTeardown|not defined/, 'the teardown ran')
})

test.run()

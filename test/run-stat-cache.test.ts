// Issue 14, section 3: `cairn run` keeps a stat cache in the store and does not re-read an input
// whose stat (size, mtime ns, ctime ns, inode, device) is unchanged since it was hashed. What the
// cache promises, each checked on real processes:
// - an unchanged input is not opened at all (strace counts the opens of input files);
// - a write the stat would hide (same size, mtime put back by utimes) changes the ctime, so the
//   file is hashed again and the key follows its content;
// - a file changed within the racy margin of a run is hashed again by the next run;
// - a corrupt, truncated, symlinked, FIFO or another user's cache file is ignored (no hang);
// - keys are the same with and without the cache (CAIRN_NO_STAT_CACHE=1).

import { execFileSync, spawnSync } from 'node:child_process'
import {
  chownSync,
  closeSync,
  copyFileSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CAIRN_BIN } from './fixtures/cli-harness.js'
import { writeFiles } from './fixtures/run-project.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

/** Must match RACY_MARGIN_NS in packages/cli/src/run/stat-cache.ts. */
const RACY_MARGIN_NS = 1_000_000_000n
/** A generous bound: only a run that hangs (on a FIFO) comes near it. */
const RUN_TIMEOUT_MS = 60_000

interface Run {
  code: number | null
  stderr: string
  /** The 8 hex characters of the `cairn: hit|miss` line. */
  key: string | undefined
  outcome: string | undefined
  /** How many inputs the run hashed, from its CAIRN_DEBUG line. */
  hashed: number | undefined
}

/** `cairn run` of a step that never reads its inputs, optionally under `strace -o log`. */
function run(
  project: string,
  store: string,
  options: { env?: Record<string, string>; strace?: string } = {},
): Run {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('CAIRN_')) env[name] = value
  Object.assign(env, { CAIRN_DEBUG: '1' }, options.env)
  const cairn = [
    CAIRN_BIN,
    'run',
    '--store',
    store,
    '--inputs',
    'src',
    '--outputs',
    'out',
    '--',
    'sh',
    '-c',
    'mkdir -p out && echo built > out/done',
  ]
  const [file, args] =
    options.strace === undefined
      ? [process.execPath, cairn]
      : ['strace', ['-f', '-qq', '-e', 'trace=open,openat', '-o', options.strace, process.execPath, ...cairn]]
  const result = spawnSync(file, args, { cwd: project, env, encoding: 'utf8', timeout: RUN_TIMEOUT_MS })
  assert.is(result.error, undefined, `cairn run did not finish: ${result.error}`)
  const line = /^cairn: (hit|miss) ([0-9a-f]{8})/m.exec(result.stderr)
  const hashed = /^cairn: debug: hashed (\d+) of \d+ input files/m.exec(result.stderr)
  rmSync(join(project, 'out'), { recursive: true, force: true })
  return {
    code: result.status,
    stderr: result.stderr,
    outcome: line?.[1],
    key: line?.[2],
    hashed: hashed ? Number(hashed[1]) : undefined,
  }
}

/** A project with three small input files under src/. */
function project(base: string): string {
  const dir = join(base, 'project')
  writeFiles(dir, {
    'package.json': '{}\n',
    'src/a.txt': 'alpha',
    'src/b.txt': 'bravo',
    'src/c.txt': 'charlie',
  })
  return dir
}

/** The filesystem's clock now: the ctime of a file created in `dir`. */
function filesystemNow(dir: string): bigint {
  const probe = join(dir, `clock-probe-${process.pid}`)
  const fd = openSync(probe, 'w')
  try {
    return fstatSync(fd, { bigint: true }).ctimeNs
  } finally {
    closeSync(fd)
    unlinkSync(probe)
  }
}

/**
 * Waits (a condition, not a fixed sleep) until every file in `dir/src` was last changed more
 * than the racy margin ago by the filesystem's clock, so that a run from now on may cache them.
 */
async function waitUntilSettled(dir: string): Promise<void> {
  let newest = 0n
  for (const name of readdirSync(join(dir, 'src'))) {
    const { ctimeNs } = statSync(join(dir, 'src', name), { bigint: true })
    if (ctimeNs > newest) newest = ctimeNs
  }
  while (filesystemNow(dir) - RACY_MARGIN_NS <= newest + 1_000_000n) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The path of the one stat cache file in the store. */
function cacheFile(store: string): string {
  const names = readdirSync(join(store, 'run-stat-cache')).filter((name) => !name.endsWith('.tmp'))
  assert.is(names.length, 1, `one cache file: ${names}`)
  return join(store, 'run-stat-cache', names[0] as string)
}

/** A project whose inputs the cache vouches for: after a miss, a run that learnt them, a hit. */
async function cachedProject(prefix: string): Promise<{ dir: string; store: string; key: string }> {
  const base = tempDir(prefix)
  const dir = project(base)
  const store = join(base, 'store')
  await waitUntilSettled(dir)
  const miss = run(dir, store)
  assert.is(miss.outcome, 'miss', miss.stderr)
  assert.is(miss.hashed, 3, miss.stderr)
  // The first run made the store, so it had no cache; the second one writes it.
  const learn = run(dir, store)
  assert.is(learn.outcome, 'hit', learn.stderr)
  assert.is(learn.hashed, 3, learn.stderr)
  const hit = run(dir, store)
  assert.is(hit.outcome, 'hit', hit.stderr)
  assert.is(hit.hashed, 0, hit.stderr)
  return { dir, store, key: miss.key as string }
}

/** The key a run computes without the cache. */
function uncachedKey(dir: string, store: string): string | undefined {
  const result = run(dir, store, { env: { CAIRN_NO_STAT_CACHE: '1' } })
  assert.is(result.hashed, 3, result.stderr)
  return result.key
}

const test = suite('cairn run: stat cache')
test.after(removeTempDirs)

test('an unchanged input is not opened: strace sees no open of any input file', async () => {
  const base = tempDir('cairn-stat-cache-')
  const dir = project(base)
  const store = join(base, 'store')
  await waitUntilSettled(dir)
  assert.is(run(dir, store).outcome, 'miss')
  assert.is(run(dir, store).hashed, 3, 'the first run in a new store has no cache')
  const inputs = ['a.txt', 'b.txt', 'c.txt'].map((name) => join(dir, 'src', name))
  const opensOfInputs = (log: string) =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => inputs.some((input) => line.includes(`"${input}"`)) && !line.includes('ENOENT'))
  // The control: a run without a cache opens every input, and strace shows it.
  const controlLog = join(base, 'control.strace')
  const control = run(dir, store, { strace: controlLog, env: { CAIRN_NO_STAT_CACHE: '1' } })
  assert.is(control.outcome, 'hit', control.stderr)
  assert.is(opensOfInputs(controlLog).length, 3, readFileSync(controlLog, 'utf8'))
  const log = join(base, 'cached.strace')
  const cached = run(dir, store, { strace: log })
  assert.is(cached.outcome, 'hit', cached.stderr)
  assert.is(cached.key, control.key)
  assert.is(cached.hashed, 0, cached.stderr)
  assert.equal(opensOfInputs(log), [])
})

test('a file rewritten with the same size and its mtime put back (utimes) is hashed again', async () => {
  const { dir, store, key } = await cachedProject('cairn-stat-cache-')
  const file = join(dir, 'src', 'b.txt')
  const before = statSync(file, { bigint: true })
  writeFileSync(file, 'BRAVO')
  // utimensat with the exact nanoseconds (touch), so only the ctime tells the write apart.
  const seconds = before.mtimeNs / 1_000_000_000n
  const nanoseconds = String(before.mtimeNs % 1_000_000_000n).padStart(9, '0')
  execFileSync('touch', ['-m', '-d', `@${seconds}.${nanoseconds}`, file])
  const after = statSync(file, { bigint: true })
  assert.is(after.size, before.size)
  assert.is(after.mtimeNs, before.mtimeNs)
  assert.is(after.ino, before.ino)
  const edited = run(dir, store)
  assert.is(edited.outcome, 'miss', edited.stderr)
  assert.is(edited.hashed, 1, edited.stderr)
  assert.is.not(edited.key, key.slice(0, 8))
  assert.is(edited.key, uncachedKey(dir, store))
})

test('a file changed within the racy margin before a run is hashed again by the next run', async () => {
  const { dir, store } = await cachedProject('cairn-stat-cache-')
  const file = join(dir, 'src', 'c.txt')
  // Retried until the run starts within the margin of the write (a busy machine may delay it).
  for (let attempt = 0; ; attempt++) {
    writeFileSync(file, `charlie ${attempt}`)
    const written = statSync(file, { bigint: true }).ctimeNs
    const first = run(dir, store)
    assert.is(first.hashed, 1, first.stderr)
    const second = run(dir, store)
    if (filesystemNow(dir) - written < RACY_MARGIN_NS) {
      // Both runs started within the margin: neither may vouch for the file.
      assert.is(second.hashed, 1, second.stderr)
      assert.is(second.key, uncachedKey(dir, store))
      return
    }
    assert.ok(attempt < 20, 'no run started within the racy margin of a write in 20 attempts')
  }
})

test('a corrupt, truncated, symlinked, FIFO or foreign cache file is ignored: every input is hashed', async () => {
  const { dir, store, key } = await cachedProject('cairn-stat-cache-')
  const cache = cacheFile(store)
  const good = readFileSync(cache)
  const text = good.toString('utf8')
  const aside = join(store, 'good-cache')
  copyFileSync(cache, aside)
  // A wrong digest with the checksum left alone, a truncated file, a stale checksum line.
  const digest = /\t([0-9a-f]{32})\n/.exec(text)?.[1] as string
  const damaged: Record<string, Buffer> = {
    'a flipped digest': Buffer.from(text.replace(digest, '0'.repeat(32))),
    'a truncated file': good.subarray(0, good.length - 20),
    'an empty file': Buffer.alloc(0),
  }
  const ignoredWith = (what: string, make: () => void) => {
    rmSync(cache, { force: true })
    make()
    const result = run(dir, store)
    assert.is(result.code, 0, `${what}: ${result.stderr}`)
    assert.is(result.outcome, 'hit', `${what}: ${result.stderr}`)
    assert.is(result.key, key.slice(0, 8), what)
    assert.is(result.hashed, 3, `${what}: ${result.stderr}`)
  }
  for (const [what, bytes] of Object.entries(damaged)) ignoredWith(what, () => writeFileSync(cache, bytes))
  ignoredWith('a symbolic link to a good cache', () => symlinkSync(aside, cache))
  ignoredWith('a FIFO', () => execFileSync('mkfifo', [cache]))
  // A good cache owned by another user is not read: a co-user cannot vouch for our files.
  ignoredWith('a cache owned by another user', () => {
    copyFileSync(aside, cache)
    chownSync(cache, 65534, 65534)
  })
  // The good file back in place: trusted again.
  rmSync(cache, { force: true })
  renameSync(aside, cache)
  const trusted = run(dir, store)
  assert.is(trusted.hashed, 0, trusted.stderr)
  assert.is(trusted.key, key.slice(0, 8))
})

test('keys are identical with and without the cache; no temp file is left, even by a failed run', async () => {
  const { dir, store, key } = await cachedProject('cairn-stat-cache-')
  assert.is(uncachedKey(dir, store), key.slice(0, 8))
  const usage = spawnSync(
    process.execPath,
    [CAIRN_BIN, 'run', '--store', store, '--inputs', 'nothing-here', '--outputs', 'out', '--', 'true'],
    { cwd: dir, encoding: 'utf8', timeout: RUN_TIMEOUT_MS },
  )
  assert.is(usage.status, 2, usage.stderr)
  assert.equal(
    readdirSync(join(store, 'run-stat-cache')).filter((name) => name.endsWith('.tmp')),
    [],
  )
})

test.run()

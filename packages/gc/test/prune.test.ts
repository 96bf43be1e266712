import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import * as gc from '@cairn/gc'
import { type Policy, type PruneReport, prune } from '@cairn/gc'
import { currentPidSpace } from '@cairn/gc/protocol'
import { Layout, openStore, type Store } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { bytesOf, keyOf, rejectsWith, removeTempDirs, setLastUse, tempDir } from './helpers.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
/**
 * The tests' "now": a minute ahead of the files' real mtimes, so tempGrace 0 sweeps them. Set
 * again before each test (`rebase`): one value for the whole file left its tests 50 s in all
 * before the 10 s content grace stopped sweeping, and the file took 32 s on a busy machine.
 */
let NOW = Date.now() + MINUTE
const at = (): number => NOW
const rebase = () => {
  NOW = Date.now() + MINUTE
}

/**
 * A store with `count` entries of `size` bytes each; entry i was last used `count - i` minutes
 * before NOW (so entry 0 is the least recently used).
 */
async function storeWith(count: number, size = 5000): Promise<{ dir: string; store: Store }> {
  const dir = tempDir()
  const store = await openStore(dir, { touchInterval: 0 })
  for (let i = 0; i < count; i++) {
    store.putSync(keyOf(i), bytesOf(i, size))
    setLastUse(dir, keyOf(i), NOW - (count - i) * MINUTE)
  }
  return { dir, store }
}

/** Which of entries 0..count-1 are there; `hasSync` does not count as a use. */
function present(store: Store, count: number): number[] {
  const found: number[] = []
  for (let i = 0; i < count; i++) if (store.hasSync(keyOf(i))) found.push(i)
  return found
}

/** Every file under `dir` with its size and mtime, to show a dry run changed nothing. */
function snapshot(dir: string): string[] {
  const out: string[] = []
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name)
      if (entry.isDirectory()) walk(full)
      else {
        const info = statSync(full)
        out.push(`${full} ${info.size} ${info.mtimeMs}`)
      }
    }
  }
  walk(dir)
  return out.sort()
}

/** The parts of a report that do not depend on timing or on whether it was a dry run. */
function outcome(report: PruneReport): Omit<PruneReport, 'durationMs' | 'phases' | 'dryRun' | 'index'> {
  const { durationMs: _d, phases: _p, dryRun: _r, index: _i, ...rest } = report
  return rest
}

const exportsSuite = suite('exports')

exportsSuite('the package exports prune, parsePolicy and gcMain', () => {
  assert.type(gc.prune, 'function')
  assert.type(gc.parsePolicy, 'function')
  assert.type(gc.gcMain, 'function')
  assert.is(gc.DEFAULT_TEMP_GRACE_MS, HOUR)
})

exportsSuite.run()

// ---

const lru = suite('least recently used first')
lru.after(removeTempDirs)
lru.before.each(rebase)

lru('entries read recently survive a prune that removes older-written ones (LRU, not FIFO)', async () => {
  const { dir } = await storeWith(10)
  // A reader with touchInterval 0 refreshes the last use of the three oldest-written entries.
  const reader = await openStore(dir, { touchInterval: 0, now: () => NOW - 1000 })
  for (const i of [0, 1, 2]) assert.ok(reader.getSync(keyOf(i)))
  const report = await prune(dir, { maxEntries: 3, now: at })
  assert.equal(present(reader, 10), [0, 1, 2])
  assert.is(report.removed.entries, 7)
  assert.is(report.kept.entries, 3)
})

lru('an entry used after the scan is not removed', async () => {
  const { dir, store } = await storeWith(4)
  let touched = false
  const report = await prune(dir, {
    maxEntries: 0,
    now: at,
    onProgress: (p) => {
      // The last scan callback comes after every file was seen: a hit lands now.
      if (p.phase === 'scan' && !touched && p.done >= 4) {
        touched = true
        setLastUse(dir, keyOf(1), NOW - 5)
      }
    },
  })
  assert.ok(touched)
  assert.equal(present(store, 4), [1])
  assert.is(report.removed.entries, 3)
  assert.is(report.kept.entries, 1)
})

lru('an entry deleted by someone else mid-prune counts as removed, and the prune succeeds', async () => {
  const { dir, store } = await storeWith(3)
  let deleted = false
  const report = await prune(dir, {
    maxEntries: 0,
    now: at,
    onProgress: (p) => {
      if (p.phase === 'scan' && !deleted && p.done >= 3) deleted = store.deleteSync(keyOf(0))
    },
  })
  assert.ok(deleted)
  assert.is(report.removed.entries, 3)
  assert.equal(present(store, 3), [])
})

lru.run()

// ---

const budgets = suite('budgets')
budgets.after(removeTempDirs)
budgets.before.each(rebase)

budgets('maxEntries alone keeps the newest N', async () => {
  const { dir, store } = await storeWith(10)
  const report = await prune(dir, { maxEntries: 4, now: at })
  assert.equal(present(store, 10), [6, 7, 8, 9])
  assert.equal(report.scanned, { entries: 10, bytes: 50_000 })
  assert.equal(report.removed, { entries: 6, bytes: 30_000 })
  assert.equal(report.kept, { entries: 4, bytes: 20_000 })
})

budgets('maxBytes alone keeps the newest entries that fit', async () => {
  const { dir, store } = await storeWith(10)
  const report = await prune(dir, { maxBytes: 4 * 5000 + 4999, now: at })
  assert.equal(present(store, 10), [6, 7, 8, 9])
  assert.equal(report.kept, { entries: 4, bytes: 20_000 })
})

budgets('maxAge alone removes the entries unused for longer', async () => {
  const { dir, store } = await storeWith(10)
  const report = await prune(dir, { maxAge: 5.5 * MINUTE, now: at })
  assert.equal(present(store, 10), [5, 6, 7, 8, 9])
  assert.is(report.removed.entries, 5)
})

budgets('maxAge removes old entries even when the budgets have room', async () => {
  const { dir, store } = await storeWith(6)
  await prune(dir, { maxEntries: 100, maxBytes: 10 ** 9, maxAge: 2.5 * MINUTE, now: at })
  assert.equal(present(store, 6), [4, 5])
})

budgets('combined budgets: the tightest one decides', async () => {
  const { dir, store } = await storeWith(10)
  const first = await prune(dir, { maxAge: 8.5 * MINUTE, maxEntries: 6, maxBytes: 7 * 5000, now: at })
  assert.equal(present(store, 10), [4, 5, 6, 7, 8, 9])
  assert.is(first.kept.entries, 6)
  const second = await prune(dir, { maxAge: 3.5 * MINUTE, maxEntries: 6, maxBytes: 5 * 5000, now: at })
  assert.equal(present(store, 10), [7, 8, 9])
  assert.is(second.removed.entries, 3)
})

budgets('maxBytes 0 and maxEntries 0 keep nothing', async () => {
  const { dir, store } = await storeWith(3)
  assert.is((await prune(dir, { maxBytes: 0, now: at })).kept.entries, 0)
  assert.equal(present(store, 3), [])
})

budgets('maxDiskPercent: 100% keeps everything, a tiny share nothing', async () => {
  const { dir, store } = await storeWith(5)
  assert.is((await prune(dir, { maxDiskPercent: 100, now: at })).removed.entries, 0)
  assert.equal(present(store, 5), [0, 1, 2, 3, 4])
  assert.is((await prune(dir, { maxDiskPercent: 1e-12, now: at })).removed.entries, 5)
  assert.equal(present(store, 5), [])
})

budgets('shared content is counted once, and freeing one of its entries frees no bytes', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const shared = bytesOf(7, 10_000)
  for (const i of [0, 1, 2]) store.putSync(keyOf(i), shared)
  store.putSync(keyOf(3), bytesOf(3, 10_000))
  for (const i of [0, 1, 2, 3]) setLastUse(dir, keyOf(i), NOW - (10 - i) * MINUTE)
  const report = await prune(dir, { maxEntries: 3, now: at })
  assert.equal(report.scanned, { entries: 4, bytes: 20_000 })
  assert.equal(report.removed, { entries: 1, bytes: 0 })
  assert.equal(report.kept, { entries: 3, bytes: 20_000 })
  assert.equal(present(store, 4), [1, 2, 3])
  // One content's worth of bytes: 3 (newest) takes it, so the sharers of the other go.
  const tight = await prune(dir, { maxBytes: 10_000, now: at })
  assert.equal(present(store, 4), [3])
  assert.equal(tight.removed, { entries: 2, bytes: 10_000 })
})

/** The content files in a store, as digest names. */
function contentFiles(dir: string): string[] {
  const content = new Layout(dir).content
  return readdirSync(content).flatMap((shard) => readdirSync(join(content, shard)))
}

budgets('the content of removed entries is deleted by the same prune, not an hour later', async () => {
  const { dir } = await storeWith(4) // files a minute older than NOW
  assert.is(contentFiles(dir).length, 4)
  const report = await prune(dir, { maxEntries: 1, now: at }) // default tempGrace: an hour
  assert.equal(report.removed, { entries: 3, bytes: 15_000 })
  assert.equal(report.content, { removed: 3, bytes: 15_000 })
  assert.is(contentFiles(dir).length, 1, "only the kept entry's content is left")
})

budgets('content younger than the content grace (10 s) waits for the next prune', async () => {
  const { dir } = await storeWith(4)
  // The real clock: the content was written milliseconds ago, so it may be a put in flight.
  const young = await prune(dir, { maxEntries: 1 })
  assert.equal(young.removed, { entries: 3, bytes: 15_000 }, 'freed: the next prune deletes it')
  assert.equal(young.content, { removed: 0, bytes: 0 })
  assert.is(contentFiles(dir).length, 4)
  const later = await prune(dir, { maxEntries: 1, now: at })
  assert.equal(later.removed, { entries: 0, bytes: 0 })
  assert.equal(later.content, { removed: 3, bytes: 15_000 })
  assert.is(contentFiles(dir).length, 1)
})

budgets(
  'the content cutoff is the scan start less min(tempGrace, 10 s); an mtime equal to it stays',
  async () => {
    const now = Math.floor(NOW / 1000) * 1000 // whole seconds, so utimes sets mtimes exactly
    const { dir, store } = await storeWith(3)
    const layout = new Layout(dir)
    const digests = [0, 1, 2].map((i) => store.infoSync(keyOf(i))?.digest as string)
    const setMtime = (digest: string, ms: number) =>
      utimesSync(layout.contentPath(digest), ms / 1000, ms / 1000)
    setMtime(digests[0] as string, now - 10_000) // equal to the cutoff: stays
    setMtime(digests[1] as string, now - 11_000) // older: goes
    setMtime(digests[2] as string, now - 9_000) // younger: stays
    const report = await prune(dir, { maxEntries: 0, now: () => now })
    assert.equal(report.content, { removed: 1, bytes: 5000 })
    assert.equal(contentFiles(dir).sort(), [digests[0], digests[2]].sort())
    // A tempGrace below 10 s is the content grace too: 0 sweeps all but an mtime equal to now.
    setMtime(digests[2] as string, now)
    const zero = await prune(dir, { maxEntries: 0, tempGrace: 0, now: () => now })
    assert.equal(zero.content, { removed: 1, bytes: 5000 })
    assert.equal(contentFiles(dir), [digests[2]])
  },
)

budgets('removed.bytes leaves out content a writer reused during the prune', async () => {
  const { dir, store } = await storeWith(3)
  const layout = new Layout(dir)
  const reused = store.infoSync(keyOf(0))?.digest as string
  let touched = false
  const report = await prune(dir, {
    maxEntries: 0,
    now: at,
    onProgress: (p) => {
      // After the records went and before the sweep: a writer dedups onto content 0 and
      // touches it, as the handshake has it, so the sweep puts it back.
      if (p.phase === 'remove' && !touched) {
        touched = true
        const time = new Date()
        utimesSync(layout.contentPath(reused), time, time)
      }
    },
  })
  assert.ok(touched)
  assert.is(report.removed.entries, 3)
  assert.is(report.removed.bytes, 10_000, 'two contents freed; the reused one stays')
  assert.equal(report.content, { removed: 2, bytes: 10_000 })
  assert.ok(contentFiles(dir).includes(reused))
})

budgets.run()

// ---

const dry = suite('dry run')
dry.after(removeTempDirs)
dry.before.each(rebase)

dry('a dry run deletes nothing, writes nothing, and reports what the real run then does', async () => {
  const { dir, store } = await storeWith(12)
  const layout = new Layout(dir)
  writeFileSync(join(layout.tmp, 'crashed-writer-1'), 'debris')
  utimesSync(join(layout.tmp, 'crashed-writer-1'), (NOW - 2 * HOUR) / 1000, (NOW - 2 * HOUR) / 1000)
  writeFileSync(layout.entryPath(keyOf(100)), 'not a record')
  const policy: Policy = { maxEntries: 5, maxAge: 9.5 * MINUTE, tempGrace: 30_000, now: at }
  const before = snapshot(dir)
  const dryReport = await prune(dir, { ...policy, dryRun: true })
  assert.equal(snapshot(dir), before)
  assert.ok(!existsSync(layout.gcStamp))
  assert.is(dryReport.dryRun, true)
  assert.is(dryReport.removed.entries, 7)
  assert.is(dryReport.temp.removed, 1)
  assert.is(dryReport.corrupt.removed, 1)
  assert.is(dryReport.content.removed, 7)
  const realReport = await prune(dir, policy)
  assert.is(realReport.dryRun, false)
  assert.equal(outcome(realReport), outcome(dryReport))
  assert.equal(present(store, 12), [7, 8, 9, 10, 11])
  assert.ok(existsSync(layout.gcStamp))
})

dry.run()

// ---

const debris = suite('temp debris and hostile files')
debris.after(removeTempDirs)
debris.before.each(rebase)

debris('temp files older than the grace are removed, fresh ones kept', async () => {
  const { dir } = await storeWith(1)
  const tmp = new Layout(dir).tmp
  for (const [name, age] of [
    ['old-1', 2 * HOUR],
    ['old-2', 61 * MINUTE],
    ['fresh', 10 * MINUTE],
  ] as const) {
    writeFileSync(join(tmp, name), name)
    utimesSync(join(tmp, name), (NOW - age) / 1000, (NOW - age) / 1000)
  }
  const report = await prune(dir, { maxEntries: 10, now: at })
  assert.is(report.temp.removed, 2)
  assert.equal(readdirSync(tmp), ['fresh'])
  const shorter = await prune(dir, { maxEntries: 10, tempGrace: 5 * MINUTE, now: at })
  assert.is(shorter.temp.removed, 1)
  assert.equal(readdirSync(tmp), [])
})

debris('a symlink to a directory outside the store: a prune to zero leaves the outside intact', async () => {
  const { dir, store } = await storeWith(3)
  const layout = new Layout(dir)
  const outside = tempDir('cairn-gc-outside-')
  mkdirSync(join(outside, 'deep'))
  writeFileSync(join(outside, 'precious.txt'), 'keep me')
  writeFileSync(join(outside, 'deep', 'also.txt'), 'keep me too')
  const key = 'ab'.repeat(16)
  symlinkSync(outside, layout.entryPath(key)) // an entry name
  symlinkSync(outside, join(layout.content, 'cd', 'cd'.repeat(16))) // a content name
  symlinkSync(outside, join(layout.tmp, 'link-to-outside')) // debris
  symlinkSync(outside, join(layout.entries, 'zz')) // where a shard belongs
  symlinkSync(outside, join(dir, 'outside')) // at the root
  const report = await prune(dir, { maxEntries: 0, tempGrace: 0, now: () => Date.now() + MINUTE })
  assert.equal(readdirSync(outside).sort(), ['deep', 'precious.txt'])
  assert.is(readFileSync(join(outside, 'precious.txt'), 'utf8'), 'keep me')
  assert.is(readFileSync(join(outside, 'deep', 'also.txt'), 'utf8'), 'keep me too')
  assert.equal(present(store, 3), [])
  assert.ok(!existsSync(layout.entryPath(key)), 'the symlink at an entry name is removed (not followed)')
  assert.ok(report.foreign.paths.includes('outside'))
  assert.ok(report.foreign.paths.includes(join('entries', 'zz')))
})

debris('names the format does not define are reported and left alone', async () => {
  const { dir } = await storeWith(2)
  const layout = new Layout(dir)
  writeFileSync(join(dir, 'notes.txt'), 'mine')
  writeFileSync(join(layout.entries, 'ab', 'not-a-key'), 'mine')
  writeFileSync(join(layout.content, 'ab', 'cd00'), 'mine')
  mkdirSync(join(layout.tmp, 'a-directory'))
  const report = await prune(dir, { maxEntries: 0, tempGrace: 0, now: at })
  assert.is(report.foreign.count, 4)
  assert.equal(report.foreign.paths.sort(), [
    join('content', 'ab', 'cd00'),
    join('entries', 'ab', 'not-a-key'),
    'notes.txt',
    join('tmp', 'a-directory'),
  ])
  for (const path of ['notes.txt', 'entries/ab/not-a-key', 'content/ab/cd00', 'tmp/a-directory'])
    assert.ok(existsSync(join(dir, path)), path)
})

debris('corrupt entries are removed and counted', async () => {
  const { dir, store } = await storeWith(2)
  const layout = new Layout(dir)
  writeFileSync(layout.entryPath(keyOf(50)), 'torn')
  const report = await prune(dir, { maxEntries: 10, now: at })
  assert.is(report.corrupt.removed, 1)
  assert.is(report.scanned.entries, 2)
  assert.ok(!existsSync(layout.entryPath(keyOf(50))))
  assert.equal(present(store, 2), [0, 1])
})

debris.run()

// ---

const refusals = suite('refusals')
refusals.after(removeTempDirs)
refusals.before.each(rebase)

refusals('a directory that is not a store is refused with ERR_CAIRN_NOT_A_STORE, untouched', async () => {
  const empty = tempDir()
  await rejectsWith(() => prune(empty, { maxEntries: 0 }), 'ERR_CAIRN_NOT_A_STORE')
  assert.equal(readdirSync(empty), [])
  const home = tempDir()
  writeFileSync(join(home, 'thesis.tex'), 'years of work')
  await rejectsWith(() => prune(home, { maxEntries: 0 }), 'ERR_CAIRN_NOT_A_STORE')
  assert.equal(readdirSync(home), ['thesis.tex'])
  await rejectsWith(() => prune(join(home, 'missing'), { maxEntries: 0 }), 'ERR_CAIRN_NOT_A_STORE')
  await rejectsWith(() => prune(join(home, 'thesis.tex'), { maxEntries: 0 }), 'ERR_CAIRN_NOT_A_STORE')
})

refusals('a bad policy object is refused with ERR_CAIRN_INVALID_POLICY naming the field', async () => {
  const { dir } = await storeWith(1)
  const cases: [unknown, string][] = [
    [{ maxBytes: -1 }, 'maxBytes'],
    [{ maxEntries: 1.5 }, 'maxEntries'],
    [{ maxAge: '7d' }, 'maxAge'],
    [{ maxDiskPercent: 150 }, 'maxDiskPercent'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ dryRun: 'yes' }, 'dryRun'],
    [{ maxbytes: 10 }, 'maxbytes'],
    [null, 'object'],
  ]
  for (const [policy, named] of cases) {
    const error = await rejectsWith(() => prune(dir, policy as Policy), 'ERR_CAIRN_INVALID_POLICY')
    assert.ok(error.message.includes(named), `${error.message} names ${named}`)
  }
  assert.equal(present(await openStore(dir), 1), [0])
})

refusals.run()

// ---

const schedule = suite('interval, stamp and lock')
schedule.after(removeTempDirs)
schedule.before.each(rebase)

schedule(
  'interval skips a prune after a recent one, and the stamp is written only by real prunes',
  async () => {
    const { dir, store } = await storeWith(10)
    const layout = new Layout(dir)
    await prune(dir, { maxEntries: 10, interval: HOUR, dryRun: true, now: at })
    assert.ok(!existsSync(layout.gcStamp), 'a dry run writes no stamp')
    const first = await prune(dir, { maxEntries: 10, interval: HOUR, now: at })
    assert.is(first.skipped, false)
    assert.ok(existsSync(layout.gcStamp))
    const second = await prune(dir, { maxEntries: 10, interval: HOUR, now: () => NOW + 10 * MINUTE })
    assert.is(second.skipped, true)
    assert.is(second.reason, 'interval')
    const later = await prune(dir, { maxEntries: 10, interval: HOUR, now: () => NOW + 2 * HOUR })
    assert.is(later.skipped, false)
    assert.equal(present(store, 10).length, 10)
  },
)

schedule(
  'a store more than 10% over a budget is pruned despite a recent stamp (a restored CI cache)',
  async () => {
    const { dir, store } = await storeWith(20)
    await prune(dir, { maxEntries: 20, interval: HOUR, now: at })
    const within = await prune(dir, { maxEntries: 19, interval: HOUR, now: at }) // 20 > 19 but not by 10%
    assert.is(within.reason, 'interval')
    const over = await prune(dir, { maxEntries: 10, interval: HOUR, now: at })
    assert.is(over.skipped, false)
    assert.is(over.kept.entries, 10)
    assert.equal(present(store, 20).length, 10)
  },
)

schedule('a byte budget exceeded by more than 10% also overrides a recent stamp', async () => {
  const { dir, store } = await storeWith(20) // 20 content files of 5,000 bytes
  await prune(dir, { maxBytes: 10 ** 6, interval: HOUR, now: at })
  const within = await prune(dir, { maxBytes: 95_000, interval: HOUR, now: at })
  assert.is(within.reason, 'interval', '100,000 bytes is within 10% of 95,000')
  const over = await prune(dir, { maxBytes: 50_000, interval: HOUR, now: at })
  assert.is(over.skipped, false)
  assert.equal(over.kept, { entries: 10, bytes: 50_000 })
  assert.equal(present(store, 20), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
})

schedule(
  'after a prune to a byte budget, the next call with interval skips (small and large entries)',
  async () => {
    for (const size of [100, 10_000]) {
      const { dir } = await storeWith(5, size)
      const policy: Policy = { maxBytes: 2 * size, interval: MINUTE }
      const first = await prune(dir, policy)
      assert.is(first.skipped, false)
      assert.equal(first.kept, { entries: 2, bytes: 2 * size })
      // The removed entries' content is younger than the content grace, so it is still on disk:
      // the check must not count it.
      const second = await prune(dir, policy)
      assert.is(second.skipped, true, `${size}-byte entries: the store is within its budget`)
      assert.is(second.reason, 'interval')
    }
  },
)

schedule('a store a prune brought within budget is skipped on every later call', async () => {
  const { dir } = await storeWith(50, 10_000)
  const policy: Policy = { maxBytes: 100_000, interval: MINUTE }
  assert.is((await prune(dir, policy)).kept.entries, 10)
  for (const call of [2, 3, 4]) assert.is((await prune(dir, policy)).reason, 'interval', `call ${call}`)
})

schedule('growth since the stamp: within 10% skips, more than 10% over a budget prunes', async () => {
  const { dir, store } = await storeWith(10, 10_000)
  const policy: Policy = { maxBytes: 50_000, maxEntries: 100, interval: HOUR, now: at }
  assert.equal((await prune(dir, policy)).kept, { entries: 5, bytes: 50_000 })
  store.putSync(keyOf(100), bytesOf(100, 1000)) // inline: 51,000 bytes, within 10%
  store.putSync(keyOf(101), bytesOf(101, 3000)) // 54,000
  assert.is((await prune(dir, policy)).reason, 'interval')
  store.putSync(keyOf(102), bytesOf(102, 10_000)) // 64,000: over by more than 10%
  const over = await prune(dir, policy)
  assert.is(over.skipped, false)
  assert.ok(over.kept.bytes <= 50_000)
  // The same for a count budget.
  const counted: Policy = { maxEntries: 5, interval: HOUR, now: at }
  assert.is((await prune(dir, counted)).skipped, false)
  assert.is((await prune(dir, counted)).reason, 'interval')
  for (const i of [110, 111]) store.putSync(keyOf(i), bytesOf(i, 50)) // 7 entries > 5.5
  assert.is((await prune(dir, counted)).skipped, false)
})

schedule('a stamp restored from a CI cache does not hold off pruning a store over its budget', async () => {
  const small = await storeWith(3, 10_000)
  const policy: Policy = { maxBytes: 50_000, interval: HOUR, now: at }
  assert.is((await prune(small.dir, policy)).skipped, false)
  const stamp = readFileSync(new Layout(small.dir).gcStamp)
  // The CI job restores a store of 20 entries with the stamp of a prune that saw 3.
  const { dir, store } = await storeWith(20, 10_000)
  writeFileSync(new Layout(dir).gcStamp, stamp)
  const report = await prune(dir, policy)
  assert.is(report.skipped, false)
  assert.equal(report.kept, { entries: 5, bytes: 50_000 })
  assert.equal(present(store, 20), [15, 16, 17, 18, 19])
  // A stamp without the figures (an older version's) holds off maxAge, which only waits for the
  // interval, but cannot vouch for a budget.
  const old = await storeWith(20, 10_000)
  writeFileSync(new Layout(old.dir).gcStamp, JSON.stringify({ lastPrune: NOW - MINUTE }))
  assert.is((await prune(old.dir, { maxAge: HOUR * 24, interval: HOUR, now: at })).reason, 'interval')
  assert.is((await prune(old.dir, policy)).skipped, false)
})

schedule('a held lock makes a prune report busy and leaves the lock alone', async () => {
  const { dir, store } = await storeWith(3)
  const layout = new Layout(dir)
  const lock = JSON.stringify({
    pid: process.pid,
    hostname: hostname(),
    startedAt: Date.now(),
    token: 't',
  })
  writeFileSync(layout.gcLock, lock)
  const report = await prune(dir, { maxEntries: 0, now: at })
  assert.is(report.skipped, true)
  assert.is(report.reason, 'busy')
  assert.is(readFileSync(layout.gcLock, 'utf8'), lock)
  assert.equal(present(store, 3), [0, 1, 2])
})

schedule('a dry run reports busy while a live GC holds the lock, as a real run would', async () => {
  const { dir, store } = await storeWith(3)
  const layout = new Layout(dir)
  const host = hostname()
  const live = JSON.stringify({ pid: process.pid, hostname: host, startedAt: Date.now(), token: 'live' })
  writeFileSync(layout.gcLock, live)
  const dry = await prune(dir, { maxEntries: 0, dryRun: true, now: at })
  assert.is(dry.skipped, true)
  assert.is(dry.reason, 'busy')
  assert.is(dry.dryRun, true)
  assert.is(dry.removed.entries, 0)
  assert.is(readFileSync(layout.gcLock, 'utf8'), live, 'the dry run left the lock alone')
  // A stale lock (its process is gone) does not stop a real run, so it does not stop a dry one,
  // which reports and still takes nothing: the stale lock stays for the next real run to take over.
  const pidSpace = currentPidSpace()
  const dead = JSON.stringify({
    pid: 2 ** 22 + 12_345,
    hostname: host,
    pidSpace,
    startedAt: Date.now(),
    token: 'dead',
  })
  writeFileSync(layout.gcLock, dead)
  const report = await prune(dir, { maxEntries: 0, dryRun: true, now: at })
  assert.is(report.skipped, false)
  assert.is(report.removed.entries, 3)
  assert.is(readFileSync(layout.gcLock, 'utf8'), dead)
  assert.equal(present(store, 3), [0, 1, 2])
})

schedule(
  `a lock older than LOCK_STALE_MS, or whose process is gone, is taken over and released`,
  async () => {
    const { dir, store } = await storeWith(3)
    const layout = new Layout(dir)
    const host = hostname()
    const stale = {
      pid: process.pid,
      hostname: host,
      startedAt: Date.now() - gc.LOCK_STALE_MS - MINUTE,
      token: 'old',
    }
    writeFileSync(layout.gcLock, JSON.stringify(stale))
    assert.is((await prune(dir, { maxEntries: 2, now: at })).skipped, false)
    assert.ok(!existsSync(layout.gcLock), 'released after the prune')
    const dead = {
      pid: 2 ** 22 + 12_345,
      hostname: host,
      pidSpace: currentPidSpace(),
      startedAt: Date.now(),
      token: 'dead',
    }
    writeFileSync(layout.gcLock, JSON.stringify(dead))
    assert.is((await prune(dir, { maxEntries: 1, now: at })).skipped, false)
    assert.ok(!existsSync(layout.gcLock))
    assert.equal(present(store, 3), [2])
  },
)

schedule.run()

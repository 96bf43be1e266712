// Issue 14, section 2: the scan index (gc.index). A later scan takes from it what it would read
// from each unchanged record; anything it cannot vouch for (no index, a damaged one, a record
// replaced since) is read, and the plan is the same as without an index.
//
// "Reads no record" is counted by the scan itself (`report.index.recordsRead`: every call that
// opens and reads an entry record adds one). Root can read a file of mode 000, so making the
// records unreadable would prove nothing here; the count is checked against the number of
// records, and the plan against a run without index, so an index that were wrongly trusted or
// wrongly ignored shows either way.

import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { lstatSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { INDEX_HEADER_BYTES, INDEX_RACY_MS, INDEX_VERSION, type PruneReport, prune } from '@cairn/gc'
import { createHasher } from '@cairn/hash'
import { GC_INDEX_FILE, openStore, type Store } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { bytesOf, keyOf, removeTempDirs, setLastUse, tempDir } from './helpers.js'

const HOUR = 3_600_000
const NOW = Date.now() + 60_000
const COUNT = 40

/** Entries 0..COUNT-1, one in four with a content file, older the lower their number. */
async function fill(dir: string): Promise<Store> {
  const store = await openStore(dir)
  for (let i = 0; i < COUNT; i++) {
    store.putSync(keyOf(i), bytesOf(i, i % 4 === 0 ? 5000 + i : 100 + i))
    setLastUse(dir, keyOf(i), NOW - (COUNT - i) * HOUR)
  }
  return store
}

/**
 * Waits until the filesystem's clock is INDEX_RACY_MS past every file written so far, so that
 * the next prune may index them (scan-index.ts: records younger than that are left out). Bounded
 * by the clock moving on, polled every 50 ms.
 */
async function ageRecords(dir: string): Promise<void> {
  const probe = join(dir, 'tmp', 'age-probe')
  const fsNow = () => {
    writeFileSync(probe, '')
    const time = statSync(probe).mtimeMs
    unlinkSync(probe)
    return time
  }
  const start = fsNow()
  while (fsNow() <= start + INDEX_RACY_MS) await new Promise((resolve) => setTimeout(resolve, 50))
}

/** A prune that removes nothing but writes the index. */
async function keepAll(dir: string): Promise<PruneReport> {
  return prune(dir, { maxEntries: 1_000_000, tempGrace: HOUR, now: () => NOW })
}

/** A dry run that evicts the older half. */
async function halfDry(dir: string): Promise<PruneReport> {
  return prune(dir, { maxEntries: COUNT / 2, tempGrace: HOUR, dryRun: true, now: () => NOW })
}

function outcome(report: PruneReport): unknown {
  return { scanned: report.scanned, removed: report.removed, kept: report.kept, corrupt: report.corrupt }
}

const index = suite('scan index: a later scan reads only what changed')
index.after(removeTempDirs)

index('a second prune reads no record; the plan is the one a full read gives', async () => {
  const dir = tempDir()
  await fill(dir)
  const withoutIndex = await halfDry(dir)
  assert.is(withoutIndex.index.recordsRead, COUNT)
  await ageRecords(dir)
  const first = await keepAll(dir)
  assert.is(first.index.recordsRead, COUNT)
  assert.ok(first.index.bytes > INDEX_HEADER_BYTES, 'an index was written')
  assert.is(lstatSync(join(dir, GC_INDEX_FILE)).size, first.index.bytes)
  const second = await keepAll(dir)
  assert.is(second.index.recordsRead, 0, 'every record vouched for by the index')
  assert.equal(outcome(second), outcome(first))
  const dry = await halfDry(dir)
  assert.is(dry.index.recordsRead, 0)
  assert.equal(outcome(dry), outcome(withoutIndex))
  const real = await prune(dir, { maxEntries: COUNT / 2, tempGrace: HOUR, now: () => NOW })
  assert.is(real.index.recordsRead, 0)
  assert.is(real.removed.entries, withoutIndex.removed.entries)
})

index('a record written since the index was written is read, and only it', async () => {
  const dir = tempDir()
  const store = await fill(dir)
  assert.is((await keepAll(dir)).index.recordsRead, COUNT, 'no index yet')
  await ageRecords(dir)
  await keepAll(dir)
  store.putSync(keyOf(1000), bytesOf(1000, 10))
  assert.is((await keepAll(dir)).index.recordsRead, 1, 'only the new record')
})

index(
  'damaged, truncated, foreign-version, wrong-checksum, garbage index: full read, same plan',
  async () => {
    const dir = tempDir()
    await fill(dir)
    const expected = outcome(await halfDry(dir))
    await ageRecords(dir)
    await keepAll(dir)
    const path = join(dir, GC_INDEX_FILE)
    const good = readFileSync(path)
    const damaged = (change: (bytes: Buffer) => Buffer) => {
      unlinkSync(path)
      writeFileSync(path, change(Buffer.from(good)))
    }
    const cases: Array<[string, (bytes: Buffer) => Buffer, boolean]> = [
      ['truncated', (b) => b.subarray(0, b.length - 7), true],
      ['header only', (b) => b.subarray(0, INDEX_HEADER_BYTES), true],
      ['a row byte flipped', (b) => flip(b, INDEX_HEADER_BYTES + 3), false],
      ['last byte flipped', (b) => flip(b, b.length - 1), false],
      ['header checksum flipped', (b) => flip(b, INDEX_HEADER_BYTES - 1), true],
      ['foreign version, checksum right', foreignVersion, true],
      ['bad magic', (b) => flip(b, 0), true],
      ['garbage', (b) => Buffer.alloc(b.length, 0x5a), true],
      ['empty', () => Buffer.alloc(0), true],
      ['longer', (b) => Buffer.concat([b, Buffer.alloc(64)]), true],
    ]
    for (const [name, change, everything] of cases) {
      damaged(change)
      const report = await halfDry(dir)
      assert.equal(outcome(report), expected, name)
      if (everything) assert.is(report.index.recordsRead, COUNT, name)
      else assert.ok(report.index.recordsRead > 0, `${name}: its shard is read`)
    }
    // A real prune replaces the damaged index with a good one.
    damaged((b) => flip(b, 100))
    await keepAll(dir)
    assert.is((await keepAll(dir)).index.recordsRead, 0)
  },
)

index(
  'a record replaced under the same name is read again; a vouched entry whose content went is read',
  async () => {
    const dir = tempDir()
    const store = await fill(dir)
    await ageRecords(dir)
    const before = await keepAll(dir)
    // Entry 5 (inline, 105 bytes) becomes a 9,000-byte entry with a content file: same name, new
    // inode (or a reused one) and a new ctime.
    await store.delete(keyOf(5))
    store.putSync(keyOf(5), bytesOf(5, 9000))
    // Entry 8's content file goes: the index still says it has one.
    await store.delete(keyOf(8))
    store.putSync(keyOf(8), bytesOf(8, 5008))
    const after = await keepAll(dir)
    assert.is(after.index.recordsRead, 2)
    assert.is(after.scanned.bytes, before.scanned.bytes - 105 + 9000)
    assert.equal(store.getSync(keyOf(5))?.data, bytesOf(5, 9000))
  },
)

index(
  'one crowded shard listed in another order than the index rows: each row still found by its key',
  async () => {
    // The scan tries the index's next row first (the order the last scan listed the shard) and
    // falls back to a lookup by key. Removing and adding records in one shard reorders its
    // listing; every unchanged record must still be vouched for, and nothing else.
    const dir = tempDir()
    const store = await openStore(dir)
    const shardKey = (i: number) =>
      `ab${createHash('sha256').update(`crowded ${i}`).digest('hex').slice(0, 30)}`
    for (let i = 0; i < 60; i++) {
      store.putSync(shardKey(i), bytesOf(i, i % 5 === 0 ? 5000 + i : 50 + i))
      setLastUse(dir, shardKey(i), NOW - (60 - i) * HOUR)
    }
    await ageRecords(dir)
    assert.is((await keepAll(dir)).index.recordsRead, 60)
    for (let i = 0; i < 60; i += 3) await store.delete(shardKey(i))
    for (let i = 100; i < 107; i++) {
      store.putSync(shardKey(i), bytesOf(i, 70))
      setLastUse(dir, shardKey(i), NOW - 90 * HOUR)
    }
    const dry = (extra = {}) =>
      prune(dir, { maxEntries: 30, tempGrace: HOUR, dryRun: true, now: () => NOW, ...extra })
    const indexed = await dry()
    assert.is(indexed.index.recordsRead, 7, 'only the seven new records are read')
    unlinkSync(join(dir, GC_INDEX_FILE))
    const full = await dry()
    assert.is(full.index.recordsRead, 47)
    assert.equal(outcome(indexed), outcome(full))
  },
)

index('a content file removed behind the index: the entry is read again before it is judged', async () => {
  const dir = tempDir()
  const store = await fill(dir)
  await ageRecords(dir)
  await keepAll(dir)
  const hasher = await createHasher({ algorithm: store.algorithm })
  const digest = hasher.bytes(bytesOf(0, 5000))
  const content = join(dir, 'content', digest.slice(0, 2), digest)
  unlinkSync(content)
  const report = await keepAll(dir)
  assert.is(report.index.recordsRead, 1, 'the suspect entry, and only it')
  assert.is(report.corrupt.removed, 1)
  assert.is(store.getSync(keyOf(0)), undefined)
  assert.ok(store.getSync(keyOf(4)))
})

index('a symlink or a FIFO at gc.index is not followed, not waited on, and replaced as itself', async () => {
  const dir = tempDir()
  await fill(dir)
  await ageRecords(dir)
  await keepAll(dir)
  const path = join(dir, GC_INDEX_FILE)
  const elsewhere = join(tempDir(), 'index-copy')
  writeFileSync(elsewhere, readFileSync(path))
  unlinkSync(path)
  symlinkSync(elsewhere, path)
  const viaLink = await halfDry(dir)
  assert.is(viaLink.index.recordsRead, COUNT, 'a symlinked index is not read')
  assert.equal(viaLink.foreign.count, 0)
  const copy = readFileSync(elsewhere)
  await keepAll(dir)
  assert.ok(lstatSync(path).isFile(), 'the prune renamed a new index over the link itself')
  assert.equal(readFileSync(elsewhere), copy, 'the link target is untouched')
  unlinkSync(path)
  execFileSync('mkfifo', [path])
  const viaFifo = await halfDry(dir)
  assert.is(viaFifo.index.recordsRead, COUNT, 'a FIFO is no index, and no wait')
})

/** Stores blobs under their digests and a manifest naming them (as run-groups.test.ts does). */
async function storeRun(
  store: Store,
  name: string,
  files: Buffer[],
): Promise<{ manifest: string; blobs: string[] }> {
  const hasher = await createHasher({ algorithm: store.algorithm })
  const blobs = files.map((data) => {
    const digest = hasher.bytes(data)
    store.putSync(digest, data)
    return digest
  })
  const log = Buffer.alloc(0)
  const logDigest = hasher.bytes(log)
  store.putSync(logDigest, log)
  const manifest = {
    format: 'cairn-run',
    version: 1,
    outputs: ['out'],
    entries: [
      { path: 'out', type: 'directory', mode: 0o755 },
      ...blobs.map((digest, i) => ({
        path: `out/${i}`,
        type: 'file',
        mode: 0o644,
        size: files[i]?.length,
        digest,
      })),
    ],
    stdout: { size: 0, digest: logDigest },
    stderr: { size: 0, digest: logDigest },
    exitCode: 0,
    commandMs: 1,
  }
  const key = hasher.key({ run: name })
  await store.put(key, JSON.stringify(manifest), {
    metadata: { cairnRun: 1, command: name, cwd: '.', files: 1, bytes: 1 },
  })
  return { manifest: key, blobs: [...blobs, logDigest] }
}

index('runs are still evicted whole when the scan takes them from the index', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const shared = Buffer.alloc(30_000, 's')
  const old = await storeRun(store, 'old', [Buffer.alloc(30_000, 'a'), shared])
  const recent = await storeRun(store, 'recent', [Buffer.alloc(30_000, 'b'), shared])
  for (const key of [old.manifest, ...old.blobs]) setLastUse(dir, key, NOW - 3 * HOUR)
  for (const key of recent.blobs) setLastUse(dir, key, NOW - 4 * HOUR)
  setLastUse(dir, recent.manifest, NOW - HOUR)
  await ageRecords(dir)
  await keepAll(dir)
  const report = await prune(dir, { maxBytes: 70_000, tempGrace: 0, now: () => NOW })
  assert.is(report.index.recordsRead, 0, 'manifests known from the index')
  assert.is(report.kept.entries, 4, JSON.stringify(report))
  for (const key of [recent.manifest, ...recent.blobs]) assert.ok(store.getSync(key), `kept ${key}`)
  assert.is(store.getSync(old.manifest), undefined)
  assert.is(store.getSync(old.blobs[0] as string), undefined)
})

/** The index as a later version would write it: another version, and a header checksum to match. */
function foreignVersion(bytes: Buffer): Buffer {
  bytes.writeUInt32LE(INDEX_VERSION + 1, 8)
  const end = INDEX_HEADER_BYTES - 16
  createHash('sha256').update(bytes.subarray(0, end)).digest().copy(bytes, end, 0, 16)
  return bytes
}

function flip(bytes: Buffer, at: number): Buffer {
  bytes[at] = (bytes[at] as number) ^ 0xff
  return bytes
}

index.run()

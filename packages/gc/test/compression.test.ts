// Issue 17 at the GC: in a store with compressed entries, byte budgets count what the disk holds
// (a compressed content file at its size), reports give the uncompressed sizes beside
// (`logicalBytes`), a compressed entry is whole (never judged corrupt for being smaller than its
// content), the scan index vouches for it, and a compressed `cairn run` manifest still groups
// its run.

import { lstatSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { INDEX_RACY_MS, prune } from '@cairn/gc'
import { createHasher } from '@cairn/hash'
import { type CompressionOption, Layout, openStore, type Store } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, setLastUse, tempDir } from './helpers.js'

const HOUR = 3_600_000
const NOW = Date.now() + 60_000
const SIZE = 50_000

/** 50 kB of text that compresses well and differs per `i`. */
function textOf(i: number): Buffer {
  let text = ''
  for (let line = 0; text.length < SIZE; line++) text += `entry ${i} line ${line}: some build output\n`
  return Buffer.from(text.slice(0, SIZE))
}

const keyOf = (i: number) => `c0ffee${String(i).padStart(26, '0')}`

async function fill(dir: string, compression: CompressionOption, count: number, from = 0): Promise<Store> {
  const store = await openStore(dir, { compression })
  for (let i = from; i < from + count; i++) {
    store.putSync(keyOf(i), textOf(i))
    setLastUse(dir, keyOf(i), NOW - (count + from - i) * HOUR)
  }
  return store
}

/** Sum of the content files' sizes on disk. */
function contentBytesOnDisk(dir: string, keys: string[], store: Store): number {
  const layout = new Layout(dir)
  let total = 0
  for (const key of keys) {
    const info = store.infoSync(key)
    assert.ok(info, key)
    total += lstatSync(layout.contentPath(info.digest)).size
  }
  return total
}

const keepAll = (dir: string) => prune(dir, { maxEntries: 1_000_000, tempGrace: HOUR, now: () => NOW })

/** Waits until the filesystem's clock is INDEX_RACY_MS past every file written so far. */
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

const gc = suite('prune: compressed entries')
gc.after(removeTempDirs)

gc('bytes are bytes on disk; logicalBytes are the uncompressed sizes; nothing is corrupt', async () => {
  const dir = tempDir()
  const store = await fill(dir, 'gzip', 10)
  const keys = Array.from({ length: 10 }, (_, i) => keyOf(i))
  const onDisk = contentBytesOnDisk(dir, keys, store)
  assert.ok(onDisk * 5 < 10 * SIZE, `gzip compressed the text (${onDisk} bytes on disk)`)
  const report = await keepAll(dir)
  assert.is(report.corrupt.removed, 0)
  assert.equal(report.scanned, { entries: 10, bytes: onDisk })
  assert.equal(report.logicalBytes, { scanned: 10 * SIZE, removed: 0, kept: 10 * SIZE })
  for (const key of keys) assert.ok(store.getSync(key), `still a hit: ${key}`)
})

gc('a byte budget counts what the disk holds: a compressed store keeps what a raw one cannot', async () => {
  const compressed = tempDir()
  const store = await fill(compressed, 'brotli', 10)
  const onDisk = contentBytesOnDisk(
    compressed,
    Array.from({ length: 10 }, (_, i) => keyOf(i)),
    store,
  )
  const budget = Math.max(2 * onDisk, 3 * SIZE)
  assert.ok(budget < 10 * SIZE)
  const kept = await prune(compressed, { maxBytes: budget, tempGrace: 0, now: () => NOW })
  assert.is(kept.removed.entries, 0, JSON.stringify(kept))

  const raw = tempDir()
  await fill(raw, 'none', 10)
  const cut = await prune(raw, { maxBytes: budget, tempGrace: 0, now: () => NOW })
  assert.ok(cut.removed.entries >= 10 - Math.floor(budget / SIZE), JSON.stringify(cut))
  assert.is(cut.logicalBytes.removed, cut.removed.bytes, 'raw: on disk = uncompressed')
})

gc('mixed codecs in one store, and the scan index: whole, vouched for, the same tallies', async () => {
  const dir = tempDir()
  await fill(dir, 'none', 4, 0)
  await fill(dir, 'gzip', 4, 4)
  await fill(dir, { codec: 'brotli', level: 9 }, 4, 8)
  const version = (i: number) => readFileSync(new Layout(dir).entryPath(keyOf(i)))[4]
  assert.equal([version(0), version(4), version(8)], [1, 2, 2], 'raw records are version 1, framed 2')
  const first = await keepAll(dir)
  assert.is(first.corrupt.removed, 0)
  assert.is(first.scanned.entries, 12)
  assert.ok(first.scanned.bytes < first.logicalBytes.scanned)
  await ageRecords(dir)
  const indexed = await keepAll(dir)
  const vouched = await keepAll(dir)
  assert.is(vouched.index.recordsRead, 0, 'every record taken from the index')
  assert.equal(vouched.scanned, first.scanned)
  assert.equal(vouched.logicalBytes, first.logicalBytes)
  assert.equal(indexed.scanned, first.scanned)
  // The budget acts on bytes on disk with the index too: half of them keeps the newest.
  const half = await prune(dir, {
    maxBytes: Math.floor(first.scanned.bytes / 2),
    tempGrace: 0,
    now: () => NOW,
    dryRun: true,
  })
  assert.is(half.index.recordsRead, 0)
  assert.ok(half.kept.bytes <= first.scanned.bytes / 2 && half.kept.entries > 0, JSON.stringify(half))
  assert.is(half.corrupt.removed, 0)
})

gc('a compressed run manifest still makes its run one group', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { compression: 'gzip' })
  const hasher = await createHasher({ algorithm: store.algorithm })
  /** A run of `files` small blobs: its manifest (JSON, several KiB) is compressed. */
  const storeRun = async (name: string, files: number) => {
    const blobs: string[] = []
    const entries = []
    for (let i = 0; i < files; i++) {
      const data = Buffer.from(`${name} output ${i}`)
      const digest = hasher.bytes(data)
      store.putSync(digest, data)
      blobs.push(digest)
      entries.push({ path: `out/${name}-${i}.js`, type: 'file', mode: 0o644, size: data.length, digest })
    }
    const log = hasher.bytes(Buffer.alloc(0))
    store.putSync(log, Buffer.alloc(0))
    const manifest = {
      format: 'cairn-run',
      version: 1,
      outputs: ['out'],
      entries: [{ path: 'out', type: 'directory', mode: 0o755 }, ...entries],
      stdout: { size: 0, digest: log },
      stderr: { size: 0, digest: log },
      exitCode: 0,
      commandMs: 1,
    }
    const key = hasher.key({ run: name })
    await store.put(key, JSON.stringify(manifest), { metadata: { cairnRun: 1, command: name, cwd: '.' } })
    return { manifest: key, blobs }
  }
  const old = await storeRun('old', 80)
  const recent = await storeRun('recent', 80)
  const record = readFileSync(new Layout(dir).entryPath(recent.manifest))
  assert.is(record[4], 2, 'the manifest is stored compressed (record version 2)')
  for (const key of [old.manifest, ...old.blobs]) setLastUse(dir, key, NOW - 3 * HOUR)
  // The recent run's blobs look older than the old run: only the manifest keeps them.
  for (const key of recent.blobs) setLastUse(dir, key, NOW - 5 * HOUR)
  setLastUse(dir, recent.manifest, NOW - HOUR)
  const report = await prune(dir, { maxEntries: 82, tempGrace: 0, now: () => NOW })
  assert.is(report.corrupt.removed, 0)
  assert.ok(store.getSync(recent.manifest), 'the recent manifest stays')
  for (const key of recent.blobs) assert.ok(store.getSync(key), `the recent run's blob ${key} stays`)
  assert.is(store.getSync(old.manifest), undefined, 'the old run goes')
})

gc.run()

// Issue 18, item 6, at the library level: prune keeps a `cairn run` (its manifest and the blob
// entries the manifest names) whole, orders runs by the manifest's last use, keeps a blob that
// several runs share while any of them stays, and removes a manifest whose blobs are gone.

import { prune } from '@cairn/gc'
import { createHasher } from '@cairn/hash'
import { openStore, type Store } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, setLastUse, tempDir } from './helpers.js'

const HOUR = 3_600_000
const NOW = Date.now() + 60_000

/** Stores blobs under their digests and a manifest naming them; returns the keys. */
async function storeRun(
  store: Store,
  name: string,
  files: Buffer[],
  log: Buffer,
): Promise<{ manifest: string; blobs: string[] }> {
  const hasher = await createHasher({ algorithm: store.algorithm })
  const blobs = files.map((data) => {
    const digest = hasher.bytes(data)
    store.putSync(digest, data)
    return digest
  })
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
    stdout: { size: log.length, digest: logDigest },
    stderr: { size: log.length, digest: logDigest },
    exitCode: 0,
    commandMs: 1,
  }
  const key = hasher.key({ run: name })
  await store.put(key, JSON.stringify(manifest), {
    metadata: { cairnRun: 1, command: name, cwd: '.', files: 1, bytes: 1 },
  })
  return { manifest: key, blobs: [...blobs, logDigest] }
}

const groups = suite('prune: cairn runs are groups')
groups.after(removeTempDirs)

groups('runs go whole, oldest first; a blob two runs share stays with the one that stays', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const empty = Buffer.alloc(0)
  const shared = Buffer.alloc(30_000, 's')
  const old = await storeRun(store, 'old', [Buffer.alloc(30_000, 'a'), shared], empty)
  const recent = await storeRun(store, 'recent', [Buffer.alloc(30_000, 'b'), shared], empty)
  for (const key of [old.manifest, ...old.blobs]) setLastUse(dir, key, NOW - 3 * HOUR)
  // The recent run's blobs look old (a hit refreshes them at most hourly): the manifest counts.
  for (const key of recent.blobs) setLastUse(dir, key, NOW - 4 * HOUR)
  setLastUse(dir, recent.manifest, NOW - HOUR)
  const report = await prune(dir, { maxBytes: 70_000, tempGrace: 0, now: () => NOW })
  assert.is(report.kept.entries, 4, JSON.stringify(report))
  for (const key of [recent.manifest, ...recent.blobs]) assert.ok(store.getSync(key), `kept ${key}`)
  assert.is(store.getSync(old.manifest), undefined)
  assert.is(store.getSync(old.blobs[0] as string), undefined)
})

groups(
  'a manifest whose blob is gone is removed; a budget that fits no whole run keeps none of it',
  async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const broken = await storeRun(store, 'broken', [Buffer.alloc(10, 'x')], Buffer.from('log'))
    await store.delete(broken.blobs[0] as string)
    // The most recently used, but past the grace a run being stored during the scan gets.
    for (const key of [broken.manifest, ...broken.blobs.slice(1)]) setLastUse(dir, key, NOW - 20 * 60_000)
    const big = await storeRun(store, 'big', [Buffer.alloc(50_000, 'y')], Buffer.alloc(0))
    // The manifest is the newest part of the run, its blobs older: a plain LRU would keep it alone.
    for (const key of big.blobs) setLastUse(dir, key, NOW - 2 * HOUR)
    setLastUse(dir, big.manifest, NOW - HOUR)
    await prune(dir, { maxBytes: 40_000, tempGrace: 0, now: () => NOW })
    assert.is(store.getSync(broken.manifest), undefined, 'the broken run is gone')
    for (const key of [big.manifest, ...big.blobs])
      assert.is(store.getSync(key), undefined, 'no part of a run that does not fit stays')
  },
)

groups.run()

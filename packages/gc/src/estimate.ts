/**
 * A cheap estimate of a store's size, for deciding whether a budget is exceeded while
 * `interval` says the last prune was recent (prune.ts). It runs on every skipped call (a build
 * tool calls prune at the end of every build), so it reads no file: keys and digests are
 * hashes, so entries and content spread evenly over the 256 shards, and counting a few shards
 * and multiplying by 256 / (shards read) estimates the whole. Shards are taken in random order
 * until at least {@link MIN_SAMPLE_ENTRIES} entries were counted, or all shards: a store of a
 * million entries costs one shard (a readdir of ~4,000 names, plus their lstats when a byte
 * budget is set: about 10 ms here), and a store under a thousand entries is counted whole, so
 * its entry count is exact.
 *
 * Bytes, only when asked: the sizes of the regular files in the sampled content shards, plus,
 * for each sampled record, its size less the smallest header a record can have (the inline
 * bytes, for an inline entry; about 0 for the others). Metadata and unreferenced content count
 * too, so the estimate errs high, by the size of the records' headers at most.
 */

import { isValidKey, type Layout, SHARDS } from '@cairn/store'
import { errnoOf, type FileStat, ioError, lstat, type Protocol, readdir } from '@cairn/store/protocol'

export const MIN_SAMPLE_ENTRIES = 1000

/**
 * The fewest bytes a record holds besides inline content: 12 fixed bytes and the header
 * `{"digest":"…","size":N,"time":T}` with one-digit size and time (record.ts).
 */
const RECORD_OVERHEAD_BYTES = 12 + '{"digest":"","size":0,"time":0}'.length

export interface Estimate {
  entries: number
  /** Content bytes; 0 unless `bytes` was asked for. */
  bytes: number
  /** How many shards were read (out of 256). */
  shards: number
}

/**
 * Estimates the store's entries (and with `bytes`, its content bytes) from a sample of shards.
 * `random` picks the shards (injectable for tests).
 */
export function* estimateStore(
  layout: Layout,
  digestLength: number,
  bytes: boolean,
  random: () => number = Math.random,
): Protocol<Estimate> {
  const order = shuffled(SHARDS, random)
  const estimate: Estimate = { entries: 0, bytes: 0, shards: 0 }
  for (const shard of order) {
    if (estimate.entries >= MIN_SAMPLE_ENTRIES) break
    estimate.shards += 1
    for (const key of yield* listIfDirectory(layout.entryShard(shard))) {
      if (!isValidKey(key) || !key.startsWith(shard)) continue
      estimate.entries += 1
      if (!bytes) continue
      const stat = yield* lstatIfFile(layout.entryPath(key))
      if (stat) estimate.bytes += Math.max(0, stat.size - RECORD_OVERHEAD_BYTES - digestLength)
    }
    if (!bytes) continue
    for (const digest of yield* listIfDirectory(layout.contentShard(shard))) {
      if (!digest.startsWith(shard)) continue
      const stat = yield* lstatIfFile(layout.contentPath(digest))
      if (stat) estimate.bytes += stat.size
    }
  }
  const scale = SHARDS.length / estimate.shards
  return {
    entries: Math.round(estimate.entries * scale),
    bytes: Math.round(estimate.bytes * scale),
    shards: estimate.shards,
  }
}

function* lstatIfFile(path: string): Protocol<FileStat | undefined> {
  try {
    const stat = yield* lstat(path)
    return stat.kind === 'file' ? stat : undefined
  } catch {
    return undefined // removed since the readdir, or unreadable: not counted
  }
}

function* listIfDirectory(path: string): Protocol<string[]> {
  try {
    if ((yield* lstat(path)).kind !== 'directory') return []
    return yield* readdir(path)
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return []
    throw ioError(error, 'sampling', path)
  }
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

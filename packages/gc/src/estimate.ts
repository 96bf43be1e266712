/**
 * A cheap estimate of a store's size, for deciding whether a budget is exceeded while
 * `interval` says the last prune was recent (prune.ts). Keys and digests are hashes, so entries
 * and content spread evenly over the 256 shards: counting a few shards and multiplying by
 * 256 / (shards read) estimates the whole. Shards are taken in random order until at least
 * {@link MIN_SAMPLE_SHARDS} shards and {@link MIN_SAMPLE_ENTRIES} entries were read, or all
 * shards: a store of a million entries costs two shards (about 8,000 small records read, some
 * 80 ms here), and a store under a thousand entries is read whole, so its estimate is exact.
 *
 * Estimated bytes = (sizes of the inline entries in the sampled entry shards, each distinct
 * digest once + sizes of the regular files in the same content shards) x 256 / shards read.
 * Content shared between shards is counted in its own shard only, as in the real accounting;
 * unreferenced content is counted too, so the estimate errs high, and a prune it triggers
 * removes that content anyway.
 */

import { decodeRecord, isValidKey, type Layout, RECORD_MAX_BYTES, SHARDS } from '@cairn/store'
import {
  close,
  errnoOf,
  type FileStat,
  fstat,
  ioError,
  lstat,
  openForReading,
  type Protocol,
  read,
  readdir,
} from '@cairn/store/protocol'

export const MIN_SAMPLE_SHARDS = 2
export const MIN_SAMPLE_ENTRIES = 1000

export interface Estimate {
  entries: number
  bytes: number
  /** How many shards were read (out of 256). */
  shards: number
}

/**
 * Estimates the store's entries and content bytes from a sample of shards. `random` picks the
 * shards (injectable for tests).
 */
export function* estimateStore(
  layout: Layout,
  digestLength: number,
  random: () => number = Math.random,
): Protocol<Estimate> {
  const order = shuffled(SHARDS, random)
  let entries = 0
  let bytes = 0
  let shards = 0
  for (const shard of order) {
    if (shards >= MIN_SAMPLE_SHARDS && entries >= MIN_SAMPLE_ENTRIES) break
    shards += 1
    const sampled = yield* sampleEntryShard(layout, shard, digestLength)
    entries += sampled.entries
    bytes += sampled.inlineBytes
    bytes += yield* sampleContentShard(layout, shard)
  }
  const scale = SHARDS.length / shards
  return { entries: Math.round(entries * scale), bytes: Math.round(bytes * scale), shards }
}

function* sampleEntryShard(
  layout: Layout,
  shard: string,
  digestLength: number,
): Protocol<{ entries: number; inlineBytes: number }> {
  let entries = 0
  let inlineBytes = 0
  const seen = new Set<string>()
  for (const key of yield* listIfDirectory(layout.entryShard(shard))) {
    if (!isValidKey(key) || !key.startsWith(shard)) continue
    entries += 1
    const path = layout.entryPath(key)
    const fd = yield* openForReading({ platform: process.platform }, path)
    if (typeof fd === 'string') continue
    try {
      const stat = yield* fstat(fd)
      if (stat.kind !== 'file' || stat.size > RECORD_MAX_BYTES) continue
      const record = decodeRecord(yield* read(fd, stat.size), digestLength)
      if (typeof record !== 'string' && record.inline !== undefined && !seen.has(record.digest)) {
        seen.add(record.digest)
        inlineBytes += record.size
      }
    } finally {
      try {
        yield* close(fd)
      } catch {
        // The descriptor is gone either way.
      }
    }
  }
  return { entries, inlineBytes }
}

function* sampleContentShard(layout: Layout, shard: string): Protocol<number> {
  let bytes = 0
  const directory = layout.contentShard(shard)
  for (const digest of yield* listIfDirectory(directory)) {
    if (!digest.startsWith(shard)) continue
    let stat: FileStat
    try {
      stat = yield* lstat(layout.contentPath(digest))
    } catch {
      continue
    }
    if (stat.kind === 'file') bytes += stat.size
  }
  return bytes
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

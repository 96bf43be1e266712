/**
 * How much a store grew since the last prune, cheaply, for deciding whether a budget is exceeded
 * while `interval` says that prune was recent (prune.ts). It runs on every skipped call (a build
 * tool calls prune at the end of every build), so it reads no file: it counts names and sizes in
 * a sample of shards. Keys and digests are hashes, so entries and content spread evenly over the
 * 256 shards, and a change in a few shards times 256 / (shards read) estimates the whole.
 *
 * A reading cannot tell what a prune counts: an unreferenced content file looks like any other,
 * and a record's size holds its header besides any inline content. So readings are never taken
 * as the store's size. Instead a prune ends by reading a sample of shards ({@link takeBaseline})
 * and writes it into gc.stamp with the totals it kept (stamp.ts); a later check reads the same
 * shards again ({@link growthSince}) and adds the difference to those totals. Whatever a reading
 * miscounts, it miscounts in both, so the error cancels; what remains is the sampling error of the
 * growth alone.
 *
 * Shards are taken in random order until at least {@link MIN_SAMPLE_ENTRIES} entries were
 * counted, or all shards: a store of a million entries costs one shard (a readdir of ~4,000
 * names, plus, for byte budgets, an lstat of each record and a readdir and lstats of the content
 * shard: about 10 ms here), and a store under a thousand entries is read whole (names and sizes
 * of some 2,000 files at most, plus 512 readdirs), so its growth is exact.
 */

import { isValidKey, type Layout, SHARDS } from '@cairn/store'
import { errnoOf, type FileStat, ioError, lstat, type Protocol, readdir } from '@cairn/store/protocol'

export const MIN_SAMPLE_ENTRIES = 1000

/** A record's 12 fixed bytes and the JSON header `{"digest":"…","size":N,"time":T}` less N's digits. */
const RECORD_FIXED_BYTES = 12 + '{"digest":"","size":,"time":}'.length
/** Digits of a record's `time`, ms since the epoch: 13 from 2001 to 2286. */
const TIME_DIGITS = 13

/** One shard as read: its name, the entries in it and the content bytes they seem to hold. */
export type ShardReading = [shard: string, entries: number, bytes: number]

export interface Growth {
  /** Entries added since the baseline, less those removed (may be negative). */
  entries: number
  /** Content bytes added since the baseline, less those removed; 0 unless asked for. */
  bytes: number
  /** How many shards were read (out of 256). */
  shards: number
}

/**
 * Reads a fresh sample of shards, entries and bytes, in random order (`random` is injectable for
 * tests): what a prune records in gc.stamp, for {@link growthSince}.
 */
export function* takeBaseline(
  layout: Layout,
  digestLength: number,
  random: () => number = Math.random,
): Protocol<ShardReading[]> {
  return yield* readShards(layout, digestLength, shuffled(SHARDS, random), true)
}

/**
 * Reads the shards of `baseline` again, in its order, until {@link MIN_SAMPLE_ENTRIES} entries
 * were counted or its shards run out, and scales the difference to the whole store. With `bytes`
 * false, only the entry shards are listed.
 */
export function* growthSince(
  layout: Layout,
  digestLength: number,
  baseline: readonly ShardReading[],
  bytes: boolean,
): Protocol<Growth> {
  const now = yield* readShards(
    layout,
    digestLength,
    baseline.map(([shard]) => shard),
    bytes,
  )
  let entries = 0
  let bytesGrown = 0
  now.forEach(([, nowEntries, nowBytes], at) => {
    const [, thenEntries, thenBytes] = baseline[at] as ShardReading
    entries += nowEntries - thenEntries
    bytesGrown += nowBytes - thenBytes
  })
  const scale = now.length === 0 ? 0 : SHARDS.length / now.length
  return {
    entries: Math.round(entries * scale),
    bytes: bytes ? Math.round(bytesGrown * scale) : 0,
    shards: now.length,
  }
}

/** Reads shards in `order` until MIN_SAMPLE_ENTRIES entries were counted or `order` ends. */
function* readShards(
  layout: Layout,
  digestLength: number,
  order: readonly string[],
  bytes: boolean,
): Protocol<ShardReading[]> {
  const readings: ShardReading[] = []
  let counted = 0
  for (const shard of order) {
    if (counted >= MIN_SAMPLE_ENTRIES) break
    let entries = 0
    let size = 0
    for (const key of yield* listIfDirectory(layout.entryShard(shard))) {
      if (!isValidKey(key) || !key.startsWith(shard)) continue
      entries += 1
      if (!bytes) continue
      const stat = yield* lstatIfFile(layout.entryPath(key))
      if (stat) size += inlineBytes(stat.size, digestLength)
    }
    if (bytes) {
      for (const digest of yield* listIfDirectory(layout.contentShard(shard))) {
        if (!digest.startsWith(shard)) continue
        const stat = yield* lstatIfFile(layout.contentPath(digest))
        if (stat) size += stat.size
      }
    }
    counted += entries
    readings.push([shard, entries, size])
  }
  return readings
}

/**
 * The inline content a record of `recordSize` bytes holds if its header has no metadata: its
 * size less the header, whose `size` field is that very number written out (so its digits are
 * solved for). A record whose content is stored apart comes out as a few bytes; metadata counts
 * as content. Close enough for growth, where a new 100-byte entry must not count as 200.
 */
export function inlineBytes(recordSize: number, digestLength: number): number {
  const rest = recordSize - RECORD_FIXED_BYTES - digestLength - TIME_DIGITS
  for (let digits = 1; digits <= 16 && rest - digits >= 0; digits++) {
    if (String(rest - digits).length === digits) return rest - digits
  }
  return 0
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

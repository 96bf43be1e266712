/**
 * `gc.stamp` at the store root: when the last completed prune finished, for
 * {@link Policy.interval}, and what it left, so that a recent stamp can still be overruled by a
 * budget. Its content is JSON (not its mtime, because tools that save and restore a CI cache
 * directory reset mtimes):
 *
 *     {"lastPrune": <ms>, "kept": {"entries": N, "bytes": N}, "baseline": [["3f", N, N], ...]}
 *
 * `kept` is the prune's `report.kept`; `baseline` is a sample of shards read right after it
 * (estimate.ts: shard, entries, bytes, in the order read). A check adds the growth of those
 * shards since then to `kept`. A CI restore also brings back the stamp of the prune before the
 * cache was saved; the growth of whatever store is there now is measured against it all the
 * same, so budgets still hold (prune.ts). Written only after a successful, real prune.
 */

import { type Layout, SHARDS } from '@cairn/store'
import {
  checkDirectories,
  close,
  fstat,
  type GuardContext,
  isUnsafePath,
  openForReading,
  type Protocol,
  read,
  rename,
  unlinkInStore,
  writeTemp,
} from '@cairn/store/protocol'
import type { ShardReading } from './estimate.js'

/** A stamp holds at most 256 shard readings of a few dozen bytes each. */
const STAMP_MAX_BYTES = 64 * 1024

const SHARD_SET: ReadonlySet<string> = new Set(SHARDS)

/** What gc.stamp records about the last completed prune. */
export interface Stamp {
  /** When it finished, ms since the epoch. */
  lastPrune: number
  /**
   * What it kept, and a sample read right after it; absent in a stamp of an older version, or a
   * damaged one (then a budget check cannot trust the stamp, and the prune runs).
   */
  measured?: { kept: { entries: number; bytes: number }; baseline: ShardReading[] }
}

/**
 * The last completed prune, or undefined when there is no readable stamp (none yet,
 * unparseable, or not a regular file: then the prune runs and writes a good one).
 */
export function* readStamp(layout: Layout): Protocol<Stamp | undefined> {
  const fd = yield* openForReading({ platform: process.platform }, layout.gcStamp)
  if (typeof fd === 'string') return undefined
  let text: string
  try {
    const stat = yield* fstat(fd)
    if (stat.kind !== 'file' || stat.size > STAMP_MAX_BYTES) return undefined
    text = (yield* read(fd, stat.size)).toString('utf8')
  } finally {
    try {
      yield* close(fd)
    } catch {
      // The descriptor is gone either way.
    }
  }
  let value: { lastPrune?: unknown; kept?: unknown; baseline?: unknown }
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || !isFiniteNumber(value.lastPrune)) return undefined
  const kept = value.kept as { entries?: unknown; bytes?: unknown } | undefined
  const baseline = value.baseline
  const measured =
    typeof kept === 'object' &&
    kept !== null &&
    isCount(kept.entries) &&
    isCount(kept.bytes) &&
    Array.isArray(baseline) &&
    baseline.length > 0 &&
    baseline.every(isReading)
      ? { kept: { entries: kept.entries, bytes: kept.bytes }, baseline: baseline as ShardReading[] }
      : undefined
  return measured === undefined ? { lastPrune: value.lastPrune } : { lastPrune: value.lastPrune, measured }
}

/**
 * Records `stamp` as the last completed prune: written to a temp file, then renamed over the
 * stamp, so a reader sees the old stamp or the new one, never a torn one. (Entries are never
 * published by rename, since a rename can fail on Windows while a reader holds the name; a
 * stamp that fails to update only means one more prune.) In a store others can write, `tmp/`
 * and the store directory are checked right before the temp file is made and renamed
 * (safety.ts in @cairn/store); if either was swapped for a symlink, no stamp is written.
 */
export function* writeStamp(ctx: GuardContext, stamp: Stamp): Protocol<void> {
  const { layout, guard } = ctx
  const { lastPrune, measured } = stamp
  const json =
    measured === undefined ? { lastPrune } : { lastPrune, kept: measured.kept, baseline: measured.baseline }
  let temp: string
  try {
    temp = yield* writeTemp({ layout, durable: false, guard }, Buffer.from(`${JSON.stringify(json)}\n`))
  } catch (error) {
    if (isUnsafePath(error)) return
    throw error
  }
  try {
    yield* checkDirectories(ctx, temp)
    yield* checkDirectories(ctx, layout.gcStamp)
    yield* rename(temp, layout.gcStamp)
  } catch (error) {
    if (!isUnsafePath(error)) throw error
  } finally {
    yield* unlinkInStore(ctx, temp)
  }
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

function isCount(value: unknown): value is number {
  return isFiniteNumber(value) && value >= 0
}

function isReading(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    typeof value[0] === 'string' &&
    SHARD_SET.has(value[0]) &&
    isCount(value[1]) &&
    isCount(value[2])
  )
}

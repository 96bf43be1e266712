/**
 * `gc.stamp` at the store root: when the last completed prune finished, for
 * {@link Policy.interval}. The time is the file's JSON content, `{"lastPrune": <ms>}`, not its
 * mtime, because tools that save and restore a CI cache directory reset mtimes. Such a restore
 * also brings back the stamp of the prune before the cache was saved, which would silently hold
 * time-based pruning off; that is why size and count budgets are checked by sampling even when
 * the stamp is recent (prune.ts). Written only after a successful, real prune.
 */

import type { Layout } from '@cairn/store'
import {
  close,
  fstat,
  openForReading,
  type Protocol,
  read,
  rename,
  unlinkQuietly,
  writeTemp,
} from '@cairn/store/protocol'

const STAMP_MAX_BYTES = 4096

/**
 * The time of the last completed prune, or undefined when there is no readable stamp (none
 * yet, unparseable, or not a regular file: then the prune runs and writes a good one).
 */
export function* readStamp(layout: Layout): Protocol<number | undefined> {
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
  try {
    const { lastPrune } = JSON.parse(text) as { lastPrune?: unknown }
    return typeof lastPrune === 'number' && Number.isFinite(lastPrune) ? lastPrune : undefined
  } catch {
    return undefined
  }
}

/**
 * Records `time` as the last completed prune: written to a temp file, then renamed over the
 * stamp, so a reader sees the old stamp or the new one, never a torn one. (Entries are never
 * published by rename, since a rename can fail on Windows while a reader holds the name; a
 * stamp that fails to update only means one more prune.)
 */
export function* writeStamp(layout: Layout, time: number): Protocol<void> {
  const temp = yield* writeTemp(
    { layout, durable: false },
    Buffer.from(`${JSON.stringify({ lastPrune: time })}\n`),
  )
  try {
    yield* rename(temp, layout.gcStamp)
  } finally {
    yield* unlinkQuietly(temp)
  }
}

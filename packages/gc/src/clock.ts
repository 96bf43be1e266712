/**
 * The store's clock: every cutoff the GC compares with a file's time is read from the store's
 * filesystem, never from this process's clock.
 *
 * File times are set by the filesystem's clock (on NFS, the server's), or by a writer's `utimes`
 * with that writer's clock. A GC whose own clock runs 60 s ahead and computed "the scan's start
 * less 10 s" from it would take content a writer confirmed during the scan for older than the
 * scan, and sweep it (issue 13, item 10). So the GC creates a file in `tmp/` and takes its mtime,
 * which the filesystem set a moment ago, as "now" for the content cutoff, the temp-debris grace,
 * `maxAge`, the copy-mode youth of records and content, and the age of an unreadable or old lock.
 * What is left on the process clock: `gc.stamp`'s `lastPrune` (the interval check only delays or
 * hastens a prune), the lock's `startedAt` (informative), and a dry run, which writes nothing and
 * so cannot read the filesystem's clock: its cutoffs only decide what it reports.
 */

import type { Layout } from '@cairn/store'
import {
  ioError,
  lstat,
  type Protocol,
  type StoreGuard,
  unlinkInStore,
  writeTemp,
} from '@cairn/store/protocol'

/**
 * The filesystem's "now", ms since the epoch: the mtime of an empty file created in `tmp/` (and
 * removed at once). A file created after this call has an mtime at or after it.
 */
export function* filesystemNow(ctx: { layout: Layout; guard?: StoreGuard | undefined }): Protocol<number> {
  const path = yield* writeTemp({ ...ctx, durable: false }, new Uint8Array(0))
  try {
    return (yield* lstat(path)).mtimeMs
  } catch (error) {
    throw ioError(error, 'reading the filesystem clock from', path)
  } finally {
    yield* unlinkInStore(ctx, path)
  }
}

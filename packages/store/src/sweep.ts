/**
 * The GC's half of the content handshake (the writer's half is confirmContent in publish.ts).
 *
 * A GC finds content that no entry references and wants to delete it. Without a lock, a writer
 * may at that very moment publish an entry that references the same content (it found the file
 * already there, or had just linked it). So the GC never deletes content by its name directly:
 *
 *   1. lstat the content: if its ctime is at or after the cutoff, or its mtime changed since
 *      the GC's scan, a writer confirmed it: keep it
 *   2. rename content/<cd>/<digest> to tmp/gc-<digest>-…   (the name is free from now on)
 *   3. lstat the moved file: if its mtime changed since the GC's scan, or is within the grace
 *      period, a writer confirmed it: put it back (EEXIST: a writer re-published it, fine)
 *   4. unlink the moved file
 *
 * The put-back publishes the moved file exactly as a writer publishes content: `link`, or in a
 * copy-mode store (no hard links) an exclusive-create copy from the inode that was moved (never
 * through a symlink a co-user swapped in for it in tmp/: then the content is gone, a miss), so it never replaces a file a writer
 * re-published meanwhile. A copy is not atomic, so a reader may find it half-written: a miss
 * (its size check), as with any copy-mode publish. If the put-back fails for another reason (a
 * full disk), the moved file stays in tmp/ rather than be unlinked: a miss until the writer's
 * next put, and the GC reports the failure.
 *
 * A writer touches its content after publishing its entry. If that touch came before step 2,
 * step 1 or 3 sees it; if after, the touch fails with ENOENT and the writer publishes the
 * content again. A reader between steps 2 and 3 gets a miss, never wrong data.
 *
 * Why step 1 looks at the ctime: a writer sets the mtime to a time it read from the clock a
 * moment earlier, so two writers confirming at once can move the mtime backwards, the slower
 * one overwriting the newer confirmation with its older time, and the GC would take content
 * a just-published entry needs (the model checker found exactly this). Every `utimes` also sets
 * the ctime, from the system's clock, which never goes backwards: a confirmation made after the
 * GC started always leaves a ctime at or after its cutoff. Step 2's own rename changes the
 * ctime, so step 3 can only use the mtime.
 */

import type { StoreContext } from './context.js'
import { errnoOf } from './errors.js'
import { NO_LINKS } from './publish.js'
import { checkDirectories, isSwappedSource, unlinkInStore } from './safety.js'
import { copyExclusive, type FileStat, link, lstat, type Protocol, rename } from './steps.js'

export type SweepResult = 'removed' | 'kept' | 'gone'

/**
 * Deletes content `digest` if it was not used since the scan that saw it with mtime `seenMtimeMs`
 * and is older than `cutoffMs` (ms since the epoch; its status too: ctime). 'gone' if it was
 * already deleted. `cutoffMs` must be a time read from the store's filesystem (a file's mtime),
 * not from a process clock: the ctime it is compared with is set by the filesystem's clock,
 * which on NFS is the server's. `publishMode` (default `link`) says how content is put back.
 */
export function* removeUnusedContent(
  ctx: Pick<StoreContext, 'layout' | 'guard'> & { publishMode?: StoreContext['publishMode'] },
  digest: string,
  seenMtimeMs: number,
  cutoffMs: number,
): Protocol<SweepResult> {
  const path = ctx.layout.contentPath(digest)
  const moved = ctx.layout.sweepPath(digest)
  let current: FileStat
  try {
    current = yield* lstat(path)
    if (current.ctimeMs >= cutoffMs || current.mtimeMs !== seenMtimeMs) return 'kept'
    // A store others can write: both directories must still be the store's (safety.ts).
    yield* checkDirectories(ctx, path)
    yield* checkDirectories(ctx, moved)
    yield* rename(path, moved)
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'gone'
    throw error
  }
  let putBackFailed = false
  try {
    const { mtimeMs, ino, kind } = yield* lstat(moved)
    // A co-user who can write tmp/ swapped the moved file (for a symlink to a file they cannot
    // read, say): it is not ours to publish. The content is gone: a miss. The name in tmp/ is
    // unlinked below, which never follows a symlink.
    if (kind !== 'file' || ino !== current.ino) return 'gone'
    if (mtimeMs !== seenMtimeMs || mtimeMs >= cutoffMs) {
      try {
        yield* checkDirectories(ctx, moved)
        yield* checkDirectories(ctx, path)
        yield* putBack(ctx.publishMode ?? 'link', moved, path, ino)
      } catch (error) {
        // Swapped in tmp/ between the lstat above and the copy: as above, gone.
        if (isSwappedSource(error)) return 'gone'
        putBackFailed = true
        throw error
      }
      return 'kept'
    }
    return 'removed'
  } finally {
    if (!putBackFailed) yield* unlinkInStore(ctx, moved)
  }
}

/**
 * Publishes the moved content at its name again without replacing anything there: link, or an
 * exclusive-create copy in copy mode (or where link turns out unsupported). EEXIST means a writer
 * published the same bytes meanwhile: done.
 */
function* putBack(
  mode: StoreContext['publishMode'],
  moved: string,
  path: string,
  ino: number,
): Protocol<void> {
  let useLinks = mode === 'link'
  for (;;) {
    try {
      if (useLinks) yield* link(moved, path)
      // From the inode moved, never through a symlink swapped in since (steps.ts).
      else yield* copyExclusive(moved, path, ino)
      return
    } catch (error) {
      const code = errnoOf(error)
      if (code === 'EEXIST') return
      if (useLinks && code !== undefined && NO_LINKS.has(code)) {
        useLinks = false
        continue
      }
      throw error
    }
  }
}

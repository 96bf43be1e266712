/**
 * The GC's deletions of entries and debris, as protocols (steps.ts in @cairn/store), so a model
 * checker can run them interleaved with readers and writers one filesystem step at a time. The
 * unlinks themselves are the store's: an entry goes through `deleteEntry` (ENOENT, ENOTDIR and
 * Windows' delete-pending EPERM/EACCES/EBUSY mean "already gone"), content through the store's
 * handshake (`removeUnusedContent`, sweep.ts), so the GC's rules cannot drift from the store's.
 *
 * What the GC adds is the re-check: each file is lstat'ed again just before it goes, and one
 * that changed since the scan stays.
 */

import {
  deleteEntry,
  errnoOf,
  type FileStat,
  ioError,
  lstat,
  type Protocol,
  removeUnusedContent,
  type StoreContext,
  type SweepResult,
  unlink,
} from '@cairn/store/protocol'

/** `used`: the file changed since the scan (a hit refreshed it, or it was re-published); it stays. */
export type RemoveOutcome = 'removed' | 'gone' | 'used'

/**
 * Removes the entry `key` if its record is still the file the scan saw, with the same inode and
 * mtime. A hit since the scan refreshed the mtime (the store's touchInterval allowing), so a
 * build that used the entry mid-prune keeps it. The check and the unlink are two steps: a hit
 * landing between them loses the entry, and that reader, which already has the record open,
 * still gets its bytes; the next read is a miss.
 */
export function* removeEntryIfUnused(
  ctx: StoreContext,
  key: string,
  seen: Pick<FileStat, 'mtimeMs' | 'ino'>,
): Protocol<RemoveOutcome> {
  const path = ctx.layout.entryPath(key)
  let current: FileStat
  try {
    current = yield* lstat(path)
  } catch (error) {
    if (isGone(error, ctx.platform)) return 'gone'
    throw ioError(error, 'checking', path)
  }
  if (current.kind !== 'file' || current.ino !== seen.ino || current.mtimeMs !== seen.mtimeMs) return 'used'
  return (yield* deleteEntry(ctx, key)) ? 'removed' : 'gone'
}

/**
 * Deletes unreferenced content through the store's handshake (sweep.ts), with the GC's error
 * rules on top: on Windows a content file a reader holds open cannot be renamed (EPERM, EACCES,
 * EBUSY), so it stays for the next prune instead of failing this one; any other failure becomes
 * a CairnError (ERR_CAIRN_IO) naming the file.
 */
export function* removeContentIfUnused(
  ctx: StoreContext,
  digest: string,
  seenMtimeMs: number,
  cutoffMs: number,
): Protocol<SweepResult> {
  try {
    return yield* removeUnusedContent(ctx, digest, seenMtimeMs, cutoffMs)
  } catch (error) {
    const code = errnoOf(error)
    if (ctx.platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')) return 'kept'
    throw ioError(error, 'sweeping unused content', ctx.layout.contentPath(digest))
  }
}

/**
 * Removes a file from `tmp/` unless it is now younger than `cutoffMs` (a slow stream writer's
 * temp file grows, and its mtime with it) or has become a directory. Never follows a symlink:
 * unlink removes the link itself.
 */
export function* removeDebris(
  path: string,
  cutoffMs: number,
  platform: NodeJS.Platform,
): Protocol<RemoveOutcome> {
  let current: FileStat
  try {
    current = yield* lstat(path)
  } catch (error) {
    if (isGone(error, platform)) return 'gone'
    throw ioError(error, 'checking', path)
  }
  if (current.kind === 'directory' || current.mtimeMs >= cutoffMs) return 'used'
  try {
    yield* unlink(path)
    return 'removed'
  } catch (error) {
    if (isGone(error, platform)) return 'gone'
    throw ioError(error, 'removing', path)
  }
}

/** ENOENT, ENOTDIR (a shard replaced), or on Windows a file already being deleted. */
function isGone(error: unknown, platform: NodeJS.Platform): boolean {
  const code = errnoOf(error)
  if (code === 'ENOENT' || code === 'ENOTDIR') return true
  return platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')
}

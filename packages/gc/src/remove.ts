/**
 * The GC's deletions of entries and debris, as protocols (steps.ts in @cairn/store), so a model
 * checker can run them interleaved with readers and writers one filesystem step at a time. The
 * unlinks themselves are the store's: an entry goes through `deleteEntry` (ENOENT, ENOTDIR and
 * Windows' delete-pending EPERM/EACCES/EBUSY mean "already gone"), content through the store's
 * handshake (`removeUnusedContent`, sweep.ts), so the GC's rules cannot drift from the store's.
 *
 * What the GC adds is the re-check: each file is lstat'ed again just before it goes, and one
 * that changed since the scan stays. In a store others can write, a file behind a directory
 * swapped for a symlink since the scan also stays (`used`, `kept`): the store's guard
 * (safety.ts in @cairn/store) refuses to act through it and records the directory, which prune
 * reports as foreign.
 */

import {
  checkDirectories,
  errnoOf,
  type FileStat,
  ioError,
  isUnsafePath,
  lstat,
  type Protocol,
  removeEntryFile,
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
  switch (yield* removeEntryFile(ctx, key)) {
    case 'removed':
      return 'removed'
    case 'gone':
      return 'gone'
    case 'unsafe':
      return 'used'
  }
}

/**
 * Deletes unreferenced content through the store's handshake (sweep.ts), with the GC's error
 * rules on top: on Windows a content file a reader holds open cannot be renamed (EPERM, EACCES,
 * EBUSY), so it stays for the next prune instead of failing this one, as does content behind a
 * swapped directory; any other failure becomes a CairnError (ERR_CAIRN_IO) naming the file.
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
    if (isUnsafePath(error)) return 'kept'
    const code = errnoOf(error)
    if (ctx.platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')) return 'kept'
    throw ioError(error, 'sweeping unused content', ctx.layout.contentPath(digest))
  }
}

/**
 * Removes a file from `tmp/` unless it is now younger than `cutoffMs` (a slow stream writer's
 * temp file grows, and its mtime with it) or has become a directory. Never follows a symlink:
 * unlink removes the link itself. In a store others can write, `tmp/` is checked to be the
 * store's real directory right before the unlink: the names come from a listing of `tmp/`,
 * chosen by whoever wrote there, and must never be unlinked in a directory `tmp/` was swapped to.
 */
export function* removeDebris(
  ctx: Pick<StoreContext, 'layout' | 'guard' | 'platform'>,
  path: string,
  cutoffMs: number,
): Protocol<RemoveOutcome> {
  const { platform } = ctx
  let current: FileStat
  try {
    current = yield* lstat(path)
  } catch (error) {
    if (isGone(error, platform)) return 'gone'
    throw ioError(error, 'checking', path)
  }
  if (current.kind === 'directory' || current.mtimeMs >= cutoffMs) return 'used'
  try {
    yield* checkDirectories(ctx, path)
  } catch (error) {
    if (isUnsafePath(error)) return 'used'
    throw error
  }
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

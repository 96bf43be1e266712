import type { StoreContext } from './context.js'
import { errnoOf, ioError } from './errors.js'
import { checkDirectories, isUnsafePath, refuseForeignOwner } from './safety.js'
import { type Protocol, unlink } from './steps.js'

/**
 * Removes the entry record for `key` (already validated); true if there was one. Its content
 * stays for the GC, since other entries may share it. Readers that opened the record finish
 * their read (POSIX) or see it delete-pending and miss (Windows). In a store others can write,
 * an `entries/` or shard directory swapped for a symlink is left alone: false, as if absent.
 */
export function* deleteEntry(ctx: StoreContext, key: string): Protocol<boolean> {
  return (yield* removeEntryFile(ctx, key)) === 'removed'
}

/**
 * {@link deleteEntry}, telling a record already gone (`gone`) from one behind a directory found
 * swapped for a symlink (`unsafe`, see safety.ts), for the GC's report.
 *
 * @throws {CairnError} ERR_CAIRN_FOREIGN_OWNER (root in another user's store, no opt-in),
 *   ERR_CAIRN_IO.
 */
export function* removeEntryFile(ctx: StoreContext, key: string): Protocol<'removed' | 'gone' | 'unsafe'> {
  refuseForeignOwner(ctx, 'delete from')
  const path = ctx.layout.entryPath(key)
  try {
    yield* checkDirectories(ctx, path)
    yield* unlink(path)
    return 'removed'
  } catch (error) {
    if (isUnsafePath(error)) return 'unsafe'
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'gone'
    // Windows: already delete-pending (another process deleted it while a reader had it open).
    if (ctx.platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')) return 'gone'
    throw ioError(error, 'deleting', path)
  }
}

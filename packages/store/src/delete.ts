import type { StoreContext } from './context.js'
import { errnoOf, ioError } from './errors.js'
import { type Protocol, unlink } from './steps.js'

/**
 * Removes the entry record for `key` (already validated); true if there was one. Its content
 * stays for the GC, since other entries may share it. Readers that opened the record finish
 * their read (POSIX) or see it delete-pending and miss (Windows).
 */
export function* deleteEntry(ctx: StoreContext, key: string): Protocol<boolean> {
  const path = ctx.layout.entryPath(key)
  try {
    yield* unlink(path)
    return true
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return false
    // Windows: already delete-pending (another process deleted it while a reader had it open).
    if (ctx.platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')) return false
    throw ioError(error, 'deleting', path)
  }
}

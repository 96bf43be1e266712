import { realpathSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { errnoOf } from '@cairn/store/protocol'

/**
 * Where the absolute path `path` really is: every symbolic link along it resolved, as the kernel
 * would when it is used. A path that does not exist yet (a store or an output not yet created)
 * resolves its nearest existing ancestor and keeps the rest as written. With `keepLast`, the last
 * component is not resolved: a declared output that is itself a symbolic link is recorded and
 * replaced as a link, never followed, so it lies where the link is, not where it points.
 *
 * Comparing these, not the strings given, is what makes "the output contains the store" hold
 * however either path is spelled (a `CAIRN_DIR` through a symlink, `..` through one, a bind of
 * the checkout under another name).
 */
export function realLocation(path: string, keepLast = false): string {
  const absolute = resolve(path)
  if (keepLast && dirname(absolute) !== absolute) {
    return join(realLocation(dirname(absolute)), basename(absolute))
  }
  const missing: string[] = []
  for (let current = absolute; ; ) {
    try {
      return join(realpathSync.native(current), ...missing.reverse())
    } catch (error) {
      const code = errnoOf(error)
      const parent = dirname(current)
      // ENOENT: not created yet; ENOTDIR: a file in the way, which creating it would fail on.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) throw error
      missing.push(basename(current))
      current = parent
    }
  }
}

import { lstatSync } from 'node:fs'

/**
 * Whether anything stands at `path`, a dangling symlink included: an output that is a symlink is
 * stored and restored as the link itself, so `existsSync` (which follows it) would call a
 * restored dangling link missing and put an old copy over it.
 */
export function isPresent(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

import { randomBytes } from 'node:crypto'
import { renameSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { errnoOf } from '@cairn/store/protocol'

/** rename's errors that mean "something is in the way": a directory, or a non-empty one. */
const IN_THE_WAY: ReadonlySet<string> = new Set(['EEXIST', 'ENOTEMPTY', 'EISDIR', 'ENOTDIR', 'EPERM'])

/** Tries before giving up when other processes keep putting something at the target. */
const ATTEMPTS = 5

/**
 * Puts `staged` (a file, directory or symbolic link next to `target`, on the same filesystem) at
 * `target`, replacing whatever is there. Each step is a rename, so `target` is at every moment
 * either the old object or the new one, never a half-restored tree: whatever was in the way is
 * first renamed aside, then removed. Several processes restoring one output at once each end
 * with a complete copy in place (the last rename wins).
 */
export function replacePath(staged: string, target: string): void {
  const asides: string[] = []
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        renameSync(staged, target)
        return
      } catch (error) {
        const code = errnoOf(error)
        if (code === undefined || !IN_THE_WAY.has(code) || attempt === ATTEMPTS) throw error
      }
      const aside = siblingName(target, 'old')
      try {
        renameSync(target, aside)
        asides.push(aside)
      } catch (error) {
        // Someone else moved it first; try again.
        if (errnoOf(error) !== 'ENOENT') throw error
      }
    }
  } finally {
    for (const aside of asides) rmSync(aside, { recursive: true, force: true })
  }
}

/**
 * A fresh name next to `path` for staging or moving aside: `.<name>.cairn-<tag>-<random>`. It
 * starts with a dot so globs like `*` skip it, and names its origin if a crash leaves it behind.
 */
export function siblingName(path: string, tag: string): string {
  return join(dirname(path), `.${basename(path)}.cairn-${tag}-${randomBytes(4).toString('hex')}`)
}

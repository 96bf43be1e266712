import { lstatSync, statSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * The device and inode of `path` and of every existing directory above it, as `dev:ino`
 * strings. `path` should be a real path (see realLocation): the walk then meets no symbolic
 * link but perhaps `path` itself, which is not followed. Missing components are skipped, so a
 * store not created yet is still placed by its nearest existing ancestor.
 *
 * Paths name a directory one way among several: a bind mount or a case-insensitive filesystem
 * shows one directory under names that no path comparison relates, while its device and inode
 * are the same under every name.
 */
export function ancestorIdentities(path: string): Set<string> {
  const identities = new Set<string>()
  for (let current = path; ; current = dirname(current)) {
    const id = identityOf(current, false)
    if (id !== undefined) identities.add(id)
    if (dirname(current) === current) return identities
  }
}

/**
 * `dev:ino` of what is at `path`, following a symbolic link there only with `follow`;
 * undefined if nothing is there.
 */
export function identityOf(path: string, follow: boolean): string | undefined {
  try {
    const stats = (follow ? statSync : lstatSync)(path, { bigint: true })
    return `${stats.dev}:${stats.ino}`
  } catch {
    return undefined
  }
}

import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import type { DeclaredOutput } from './declared-outputs.js'
import { compareStrings } from './input-files.js'

/** A file system object found under a declared output, before its content is hashed. */
export type CollectedEntry =
  | { type: 'directory'; path: string; absolute: string; mode: number }
  | { type: 'file'; path: string; absolute: string; mode: number; size: number; stamp: FileStamp }
  | { type: 'symlink'; path: string; absolute: string; target: string }

/** What tells a file changed between two looks: size, mtime and inode. */
export interface FileStamp {
  size: number
  mtimeMs: number
  ino: number
}

/**
 * Why a command's outputs are not cached although it succeeded: a declared output is missing,
 * a file changed while it was being stored, or something that cannot be cached (a socket, a
 * FIFO, a device) is among them. `cairn run` reports it and exits with the command's code.
 */
export class NotCacheableError extends Error {
  readonly code = 'ERR_CAIRN_NOT_CACHEABLE'

  constructor(message: string) {
    super(message)
    this.name = 'NotCacheableError'
  }
}

/**
 * Every directory, file and symbolic link of the declared outputs, parents before children and
 * siblings sorted by name, as the manifest lists them. Symbolic links are recorded, not followed.
 *
 * @throws {NotCacheableError} when an output is missing or holds something other than these.
 */
export function collectOutputs(outputs: readonly DeclaredOutput[]): CollectedEntry[] {
  const entries: CollectedEntry[] = []
  for (const output of outputs) {
    let stats: Stats
    try {
      stats = lstatSync(output.absolute)
    } catch {
      throw new NotCacheableError(`the declared output ${JSON.stringify(output.path)} does not exist`)
    }
    walk(output.path, output.absolute, stats, entries)
  }
  return entries
}

function walk(path: string, absolute: string, stats: Stats, into: CollectedEntry[]): void {
  const mode = stats.mode & 0o7777
  if (stats.isFile()) {
    into.push({ type: 'file', path, absolute, mode, size: stats.size, stamp: stampOf(stats) })
  } else if (stats.isSymbolicLink()) {
    into.push({ type: 'symlink', path, absolute, target: readlinkSync(absolute) })
  } else if (stats.isDirectory()) {
    into.push({ type: 'directory', path, absolute, mode })
    for (const name of readdirSync(absolute).sort(compareStrings)) {
      const child = join(absolute, name)
      let childStats: Stats
      try {
        childStats = lstatSync(child)
      } catch {
        throw new NotCacheableError(
          `the output ${JSON.stringify(`${path}/${name}`)} vanished while it was read`,
        )
      }
      walk(`${path}/${name}`, child, childStats, into)
    }
  } else {
    throw new NotCacheableError(
      `the output ${JSON.stringify(path)} is neither a file, a directory nor a symbolic link`,
    )
  }
}

export function stampOf(stats: Pick<Stats, 'size' | 'mtimeMs' | 'ino'>): FileStamp {
  return { size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino }
}

import type { Hasher } from '@cairn/hash'
import type { CollectedEntry } from './collect-outputs.js'
import { digestFile } from './file-digest.js'
import type { ManifestEntry } from './manifest.js'
import { manifestEntryOf } from './manifest-entry.js'

/** One way a fresh run's outputs differ from the cached ones. */
export interface OutputDifference {
  path: string
  /** What differs, in words: `content`, `mode 644 -> 755`, `missing from this run`, ... */
  what: string
}

/** The manifest entries of collected outputs, hashing files but storing nothing. */
export async function describeOutputs(
  hasher: Hasher,
  entries: readonly CollectedEntry[],
): Promise<ManifestEntry[]> {
  const described: ManifestEntry[] = []
  for (const entry of entries) {
    described.push(await manifestEntryOf(entry, (file) => digestFile(hasher, file.absolute, file.size)))
  }
  return described
}

/**
 * Every difference between cached outputs and a fresh run's, sorted by path: an object only in
 * one of them, a different type, content, mode or link target. Empty when they are identical,
 * which is what a reproducible step gives.
 */
export function compareOutputs(
  cached: readonly ManifestEntry[],
  fresh: readonly ManifestEntry[],
): OutputDifference[] {
  const freshByPath = new Map(fresh.map((entry) => [entry.path, entry]))
  const differences: OutputDifference[] = []
  for (const old of cached) {
    const now = freshByPath.get(old.path)
    freshByPath.delete(old.path)
    if (now === undefined) {
      differences.push({ path: old.path, what: 'missing from this run' })
    } else if (now.type !== old.type) {
      differences.push({ path: old.path, what: `was a ${old.type}, now a ${now.type}` })
    } else if (old.type === 'file' && now.type === 'file') {
      if (old.digest !== now.digest) {
        const sizes = old.size === now.size ? '' : ` (${old.size} -> ${now.size} bytes)`
        differences.push({ path: old.path, what: `content differs${sizes}` })
      }
      if (old.mode !== now.mode) differences.push({ path: old.path, what: modeChange(old.mode, now.mode) })
    } else if (old.type === 'directory' && now.type === 'directory') {
      if (old.mode !== now.mode) differences.push({ path: old.path, what: modeChange(old.mode, now.mode) })
    } else if (old.type === 'symlink' && now.type === 'symlink' && old.target !== now.target) {
      differences.push({ path: old.path, what: `link target ${old.target} -> ${now.target}` })
    }
  }
  for (const path of freshByPath.keys()) differences.push({ path, what: 'new in this run' })
  return differences.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function modeChange(from: number, to: number): string {
  return `mode ${from.toString(8)} -> ${to.toString(8)}`
}

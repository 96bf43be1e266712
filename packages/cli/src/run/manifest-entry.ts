import type { CollectedEntry } from './collect-outputs.js'
import type { ManifestEntry } from './manifest.js'

/** A collected output file, as {@link manifestEntryOf} hands it to `fileDigest`. */
export type CollectedFile = Extract<CollectedEntry, { type: 'file' }>

/**
 * The manifest entry of a collected output; `fileDigest` gives a file's content digest (by
 * storing it, or only hashing it). Storing a run (storeOutputFiles) and checking one with
 * --verify (describeOutputs) both describe outputs here, so an output that did not change is
 * described the same way by both and never shows as a difference.
 */
export async function manifestEntryOf(
  entry: CollectedEntry,
  fileDigest: (file: CollectedFile) => Promise<string>,
): Promise<ManifestEntry> {
  switch (entry.type) {
    case 'directory':
      return { path: entry.path, type: 'directory', mode: entry.mode }
    case 'symlink':
      return { path: entry.path, type: 'symlink', target: entry.target }
    case 'file': {
      const digest = await fileDigest(entry)
      return { path: entry.path, type: 'file', mode: entry.mode, size: entry.size, digest }
    }
  }
}

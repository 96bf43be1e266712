/**
 * The `cairn run` case (issue 18): a run is a manifest entry plus blob entries keyed by their
 * digests, and a GC must never leave a manifest whose blobs are gone. Explored with a hit that
 * reads the manifest and then its blobs while a GC evicts the run in prune's order (manifest
 * first, blobs only if it went); and, as a counterexample, a GC that removes the blobs first, as
 * a plain per-entry LRU would (the blobs were used least recently), which a hit defeats.
 */

import type { Hasher } from '@cairn/hash'
import { blobsFirstGcActor, type RunGroup, runGcActor, runHitActor } from './actors.js'
import { KEY_1, prepareStore, VALUE_A, VALUE_SMALL } from './configurations.js'
import type { Configuration } from './explore.js'

/** The run's configurations on both filesystems, and the counterexample (POSIX). */
export function buildRunConfigurations(hasher: Hasher): {
  configurations: Configuration[]
  counterexample: Configuration
} {
  // One blob in a content file, one inline (a small stderr); the manifest's bytes do not matter.
  const run: RunGroup = { manifest: KEY_1, blobs: [hasher.bytes(VALUE_A), hasher.bytes(VALUE_SMALL)] }
  const existing: [string, Buffer][] = [
    [KEY_1, Buffer.from('{"format":"cairn-run"}')],
    [run.blobs[0] as string, VALUE_A],
    [run.blobs[1] as string, VALUE_SMALL],
  ]
  const configuration = (
    name: string,
    semantics: 'posix' | 'windows',
    gc: typeof runGcActor,
  ): Configuration => ({
    name: `${name} [${semantics}]`,
    semantics,
    platform: semantics === 'windows' ? 'win32' : 'linux',
    actors: [runHitActor('hit', run), gc('gc', run)],
    initial: prepareStore(semantics, hasher, existing),
    crashes: false,
    checkContent: true,
    runs: [run],
  })
  return {
    configurations: (['posix', 'windows'] as const).map((semantics) =>
      configuration('a GC evicts a run (manifest first) while a hit restores it', semantics, runGcActor),
    ),
    counterexample: configuration(
      'a GC evicts a run blobs first while a hit restores it',
      'posix',
      blobsFirstGcActor,
    ),
  }
}

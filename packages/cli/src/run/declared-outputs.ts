import { relative, resolve } from 'node:path'
import { UsageError } from '../args.js'
import { toPosixPath } from '../format.js'
import { ancestorIdentities, identityOf } from './ancestor-identities.js'
import { containsPath } from './contains-path.js'
import { compareStrings } from './input-files.js'
import { realLocation } from './real-location.js'

/** An output path declared with `--outputs`. */
export interface DeclaredOutput {
  /**
   * Relative to the working directory, `/`-separated: what the key and the manifest record.
   * Always inside the project root (an output outside it is a UsageError).
   */
  path: string
  absolute: string
}

/** What {@link declareOutputs} checks the paths against. */
export interface DeclareContext {
  cwd: string
  root: string
  storeDir: string
}

/**
 * Normalizes `--outputs` paths: relative to the working directory, sorted, each once, and an
 * output inside another declared output dropped (the outer one holds it). A hit replaces every
 * output wholesale, so a path that would replace the working directory, the project root or
 * the store, or any directory holding them, is refused as bad usage rather than deleted; so is
 * an output inside the store, which a hit would write into and a GC would prune. Both checks
 * compare the paths as written, where they really are (symbolic links resolved, see
 * {@link realLocation}: a store reached through a symlinked `CAIRN_DIR` that points into an
 * output is still the store), and, for paths that exist, by device and inode (a bind mount or
 * a case-insensitive filesystem spells one directory in ways no path comparison relates).
 */
export function declareOutputs(paths: readonly string[], context: DeclareContext): DeclaredOutput[] {
  const guarded = [
    { what: 'the working directory', dir: context.cwd },
    { what: 'the project root', dir: context.root },
    { what: 'the store', dir: context.storeDir },
  ].map((guard) => {
    const real = realLocation(guard.dir)
    return { ...guard, lexical: resolve(guard.dir), real, above: ancestorIdentities(real) }
  })
  const store = guarded[2] as (typeof guarded)[number]
  const storeIdentity = identityOf(store.real, true)
  const byPath = new Map<string, DeclaredOutput>()
  for (const given of paths) {
    if (given === '') throw new UsageError('--outputs needs a path, got an empty string.')
    const absolute = resolve(context.cwd, given)
    const real = realLocation(absolute, true)
    const identity = identityOf(real, false)
    for (const { what, dir, lexical, real: realDir, above } of guarded) {
      const holds =
        containsPath(absolute, lexical) ||
        containsPath(real, realDir) ||
        (identity !== undefined && above.has(identity))
      if (holds) {
        throw new UsageError(
          `--outputs ${JSON.stringify(given)} would replace ${what} (${describe(dir, realDir)}) on every hit: declare the files or directories the command writes instead.`,
        )
      }
    }
    const inStore =
      containsPath(store.lexical, absolute) ||
      containsPath(store.real, real) ||
      (storeIdentity !== undefined && ancestorIdentities(real).has(storeIdentity))
    if (inStore) {
      throw new UsageError(
        `--outputs ${JSON.stringify(given)} is inside the store (${describe(store.dir, store.real)}): a hit would write into the store and the GC would prune the output; declare outputs outside it.`,
      )
    }
    if (!containsPath(context.root, absolute)) {
      throw new UsageError(
        `--outputs ${JSON.stringify(given)} names ${absolute}, which is outside the project root ${context.root}. Every path in the key is relative to the root (the nearest .git, else workspace root, else package.json), so that checkouts elsewhere share hits: pass --root DIR with a directory that holds it, or write the outputs inside the project.`,
      )
    }
    const path = toPosixPath(relative(context.cwd, absolute))
    byPath.set(path, { path, absolute })
  }
  const sorted = [...byPath.values()].sort((a, b) => compareStrings(a.path, b.path))
  return sorted.filter(
    (output) => !sorted.some((other) => other !== output && containsPath(other.absolute, output.absolute)),
  )
}

/** A guarded directory for a message: as given, and where it really is when that differs. */
function describe(dir: string, real: string): string {
  return resolve(dir) === real ? dir : `${dir}, which is ${real}`
}

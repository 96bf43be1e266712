import { relative, resolve } from 'node:path'
import { UsageError } from './args.js'
import { containsPath } from './contains-path.js'
import { toPosixPath } from './format.js'
import { compareStrings } from './input-files.js'

/** An output path declared with `--outputs`. */
export interface DeclaredOutput {
  /**
   * Relative to the working directory, `/`-separated: what the key and the manifest record. An
   * output outside the project root keeps its absolute path, which, unlike a relative one, does
   * not depend on where the checkout is.
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
 * the store, or any directory holding them, is refused as bad usage rather than deleted.
 */
export function declareOutputs(paths: readonly string[], context: DeclareContext): DeclaredOutput[] {
  const byPath = new Map<string, DeclaredOutput>()
  for (const given of paths) {
    if (given === '') throw new UsageError('--outputs needs a path, got an empty string.')
    const absolute = resolve(context.cwd, given)
    for (const [what, dir] of [
      ['the working directory', context.cwd],
      ['the project root', context.root],
      ['the store', context.storeDir],
    ] as const) {
      if (containsPath(absolute, resolve(dir))) {
        throw new UsageError(
          `--outputs ${JSON.stringify(given)} would replace ${what} (${dir}) on every hit: declare the files or directories the command writes instead.`,
        )
      }
    }
    const path = toPosixPath(
      containsPath(context.root, absolute) ? relative(context.cwd, absolute) : absolute,
    )
    byPath.set(path, { path, absolute })
  }
  const sorted = [...byPath.values()].sort((a, b) => compareStrings(a.path, b.path))
  return sorted.filter(
    (output) => !sorted.some((other) => other !== output && containsPath(other.absolute, output.absolute)),
  )
}

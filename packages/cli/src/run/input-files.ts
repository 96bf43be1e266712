import { relative, resolve } from 'node:path'
import { glob } from 'tinyglobby'
import { UsageError } from '../args.js'
import { toPosixPath } from '../format.js'
import { containsPath } from './contains-path.js'

/** One input file of a `cairn run` step. */
export interface InputFile {
  /**
   * Relative to the project root, with `/` separators: the same in every checkout. A file outside
   * the project (a system header, say) keeps its absolute path: relative to the root it would
   * depend on how deep the checkout is.
   */
  path: string
  /** Absolute path, for reading it. */
  absolute: string
}

/** How {@link expandInputs} matches. */
export interface ExpandOptions {
  /** Patterns are relative to this directory. */
  cwd: string
  /** Paths in the result are relative to this directory. */
  root: string
  /** Whether a pattern may match nothing (`--allow-empty`); otherwise that is a UsageError. */
  allowEmpty: boolean
  /** Absolute paths (the declared outputs, the store) whose files are never inputs. */
  exclude: readonly string[]
}

/**
 * The files matched by `--inputs` patterns, sorted by their root-relative path, each once.
 * Patterns are tinyglobby globs relative to the working directory, with shell conventions:
 * `*` and `**` do not match names starting with a dot (name them explicitly), and a directory
 * stands for every file under it. Only files are inputs; symbolic links are followed.
 *
 * Files under a declared output or the store are left out: `--inputs '**\/*.ts' --outputs dist`
 * would otherwise count the `.d.ts` files the step writes as its inputs, and every run would
 * change the next one's key, so the step would never hit.
 *
 * A pattern that matches nothing is a UsageError (exit 2) unless `allowEmpty`: it is almost
 * always a typo, and a typo in an input list makes a key that ignores the inputs it meant,
 * so the cache would return stale outputs after they change.
 */
export async function expandInputs(
  patterns: readonly string[],
  options: ExpandOptions,
): Promise<InputFile[]> {
  const byPath = new Map<string, InputFile>()
  for (const pattern of patterns) {
    const matches = await glob(pattern, { cwd: options.cwd, onlyFiles: true, dot: false })
    const files = matches
      .map((match) => resolve(options.cwd, match))
      .filter((absolute) => !options.exclude.some((excluded) => containsPath(excluded, absolute)))
    if (files.length === 0 && !options.allowEmpty) {
      const where =
        matches.length === 0
          ? `no file in ${options.cwd}`
          : 'only files under the declared outputs or the store'
      throw new UsageError(
        `--inputs ${JSON.stringify(pattern)} matches ${where} (pass --allow-empty if that is expected).`,
      )
    }
    for (const absolute of files) {
      const path = toPosixPath(
        containsPath(options.root, absolute) ? relative(options.root, absolute) : absolute,
      )
      byPath.set(path, { path, absolute })
    }
  }
  return [...byPath.values()].sort((a, b) => compareStrings(a.path, b.path))
}

/** Orders strings by UTF-16 code units: the same on every machine, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

import { statSync } from 'node:fs'
import type { Hasher } from '@cairn/hash'
import { digestFile } from './file-digest.js'
import type { InputFile } from './input-files.js'
import type { StatCache } from './stat-cache.js'

/**
 * Version of what goes into a `cairn run` key. It is hashed into every key, so changing what a
 * key covers (adding a field, changing how paths are written) changes every key instead of
 * letting a key of the old meaning hit under the new one. Version 2: the root rewriting became
 * injective (`<` is written `<<`, and the root must start a path), issue #13.
 */
export const RUN_KEY_VERSION = 2

/** Everything a `cairn run` key covers. Nothing else: never absolute paths, never timestamps. */
export interface RunKeyParts {
  /**
   * The command and its arguments as given after `--`, except that the project root's absolute
   * path is written `<root>` and every `<` is written `<<` (see relocatable.ts).
   */
  command: readonly string[]
  /** The working directory relative to the project root, `/`-separated; `.` for the root. */
  cwd: string
  /** Input files, sorted by path: root-relative path and content digest. */
  inputs: readonly (readonly [path: string, digest: string])[]
  /**
   * The variables named by `--env`, sorted by name, the project root written `<root>`; null for a
   * variable that is not set.
   */
  env: Readonly<Record<string, string | null>>
  /** Declared outputs, relative to the working directory, `/`-separated, sorted. */
  outputs: readonly string[]
  /** `--key-extra`, or null without it. */
  keyExtra: string | null
}

/** The key of a `cairn run` step: `hasher.key` of its parts with the key version. */
export function runKey(hasher: Hasher, parts: RunKeyParts): string {
  return hasher.key({
    cairnRun: RUN_KEY_VERSION,
    command: [...parts.command],
    cwd: parts.cwd,
    inputs: parts.inputs.map(([path, digest]) => [path, digest]),
    env: { ...parts.env },
    outputs: [...parts.outputs],
    keyExtra: parts.keyExtra,
  })
}

/**
 * The `[path, digest]` pairs of input files, in the order given (already sorted by path). With a
 * `cache`, a file whose stat is unchanged since it was hashed is not read again (stat-cache.ts).
 */
export async function digestInputs(
  hasher: Hasher,
  inputs: readonly InputFile[],
  cache?: StatCache,
): Promise<[path: string, digest: string][]> {
  const pairs: [string, string][] = []
  for (const input of inputs) {
    // Stat first, then read: a write after the stat changes the ctime, so the next run re-hashes.
    const stat = input.stat ?? statSync(input.absolute, { bigint: true })
    let digest = cache?.lookup(input.path, stat)
    if (digest === undefined) {
      digest = await digestFile(hasher, input.absolute, Number(stat.size))
      cache?.record(input.path, stat, digest)
    }
    pairs.push([input.path, digest])
  }
  return pairs
}

/**
 * The values of the named variables, sorted by name, each passed through `map`; null for one
 * that is not set.
 */
export function pickEnv(
  env: NodeJS.ProcessEnv,
  names: readonly string[],
  map: (value: string) => string = (value) => value,
): Record<string, string | null> {
  // No prototype: a variable named `__proto__` is a name like any other here.
  const picked: Record<string, string | null> = Object.create(null)
  for (const name of [...new Set(names)].sort()) {
    const value = env[name]
    picked[name] = value === undefined ? null : map(value)
  }
  return picked
}

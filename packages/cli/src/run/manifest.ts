/**
 * The manifest of a cached `cairn run`: the content of the entry stored under the run's key.
 * Output files, stdout and stderr are not in it: each is stored as its own entry, keyed by its
 * content digest, and the manifest names them (docs/FORMAT.md, "cairn run entries"). Example:
 *
 *     {"format":"cairn-run","version":1,"outputs":["dist"],
 *      "entries":[{"path":"dist","type":"directory","mode":493},
 *                 {"path":"dist/main.js","type":"file","mode":420,"size":1520,"digest":"26c7…"}],
 *      "stdout":{"size":0,"digest":"99aa…"},"stderr":{"size":0,"digest":"99aa…"},
 *      "exitCode":0,"commandMs":2140}
 */

import { isValidKey } from '@cairn/store'

/** The manifest format's version; a manifest of another version is a miss. */
export const MANIFEST_VERSION = 1

/** One file system object of the outputs; paths are relative to the working directory, `/`-separated. */
export type ManifestEntry =
  | { path: string; type: 'directory'; mode: number }
  | { path: string; type: 'file'; mode: number; size: number; digest: string }
  | { path: string; type: 'symlink'; target: string }

/** Captured stdout or stderr: stored like a file, by digest. */
export interface CapturedOutput {
  size: number
  digest: string
}

/**
 * The parts of the key a run was stored under, as `cairn run --explain` compares them with a new
 * run's: the command (the root written `<root>`), the working directory relative to the root,
 * every input's root-relative path and content digest, each `--env` variable's value digest
 * (null when unset; values are not recorded, they may be secrets), the declared outputs and
 * `--key-extra`.
 */
export interface RecordedKey {
  command: string[]
  cwd: string
  inputs: [path: string, digest: string][]
  env: Record<string, string | null>
  outputs: string[]
  keyExtra: string | null
}

export interface RunManifest {
  format: 'cairn-run'
  version: typeof MANIFEST_VERSION
  /** The declared outputs, as in the key. */
  outputs: string[]
  /** Every declared output and everything under it, sorted by path (parents first). */
  entries: ManifestEntry[]
  stdout: CapturedOutput
  stderr: CapturedOutput
  /** Always 0: failed commands are not cached. Recorded so a reader need not assume it. */
  exitCode: 0
  /** How long the command took when it ran: what a hit saves. */
  commandMs: number
  /** The key's parts (absent from manifests written before they were recorded). */
  key?: RecordedKey
}

/** The manifest's bytes: JSON, one line. */
export function encodeManifest(manifest: RunManifest): Buffer {
  return Buffer.from(JSON.stringify(manifest), 'utf8')
}

/**
 * Parses a manifest for a run whose declared outputs are `outputs`, or returns undefined if the
 * bytes are not a manifest of this version for exactly those outputs. Every entry's path must be
 * a declared output or lie under one (no `.`, `..` or empty segments below it): a damaged or
 * planted manifest can never make a hit write outside the declared outputs.
 */
export function parseManifest(bytes: Uint8Array, outputs: readonly string[]): RunManifest | undefined {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    return undefined
  }
  if (!isObject(value) || value.format !== 'cairn-run' || value.version !== MANIFEST_VERSION) return undefined
  if (!sameStrings(value.outputs, outputs)) return undefined
  if (value.exitCode !== 0 || !isCount(value.commandMs)) return undefined
  if (!isCaptured(value.stdout) || !isCaptured(value.stderr)) return undefined
  if (!Array.isArray(value.entries)) return undefined
  const seenRoots = new Set<string>()
  for (const entry of value.entries as unknown[]) {
    if (!isEntry(entry)) return undefined
    const root = declaredOutputOf(entry.path, outputs)
    if (root === undefined) return undefined
    if (root === entry.path) seenRoots.add(root)
  }
  if (seenRoots.size !== outputs.length) return undefined
  const manifest = value as unknown as RunManifest
  // The key's parts only explain a miss; parts that do not parse are dropped, never trusted.
  if (manifest.key !== undefined && !isRecordedKey(manifest.key)) delete manifest.key
  return manifest
}

/** Parses the bytes of any run manifest, whatever its outputs, for `--explain`. */
export function parseAnyManifest(bytes: Uint8Array): RunManifest | undefined {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    return undefined
  }
  if (!isObject(value) || !Array.isArray(value.outputs)) return undefined
  const outputs = value.outputs.filter((output): output is string => typeof output === 'string')
  return parseManifest(bytes, outputs)
}

function isRecordedKey(value: unknown): value is RecordedKey {
  if (!isObject(value)) return false
  const strings = (list: unknown) => Array.isArray(list) && list.every((item) => typeof item === 'string')
  return (
    strings(value.command) &&
    typeof value.cwd === 'string' &&
    Array.isArray(value.inputs) &&
    value.inputs.every((pair) => Array.isArray(pair) && pair.length === 2 && strings(pair)) &&
    isObject(value.env) &&
    Object.values(value.env).every((digest) => digest === null || typeof digest === 'string') &&
    strings(value.outputs) &&
    (value.keyExtra === null || typeof value.keyExtra === 'string')
  )
}

/** The declared output that `path` is, or lies under; undefined if none or a bad segment. */
function declaredOutputOf(path: string, outputs: readonly string[]): string | undefined {
  for (const output of outputs) {
    if (path === output) return output
    if (path.startsWith(`${output}/`)) {
      const below = path.slice(output.length + 1).split('/')
      return below.every((segment) => segment !== '' && segment !== '.' && segment !== '..')
        ? output
        : undefined
    }
  }
  return undefined
}

function isEntry(value: unknown): value is ManifestEntry {
  if (!isObject(value) || typeof value.path !== 'string') return false
  switch (value.type) {
    case 'directory':
      return isMode(value.mode)
    case 'file':
      return isMode(value.mode) && isCount(value.size) && isValidKey(value.digest)
    case 'symlink':
      return typeof value.target === 'string' && value.target !== '' && !value.target.includes('\0')
    default:
      return false
  }
}

function isCaptured(value: unknown): value is CapturedOutput {
  return isObject(value) && isCount(value.size) && isValidKey(value.digest)
}

function isMode(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0o7777
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function sameStrings(value: unknown, expected: readonly string[]): boolean {
  return (
    Array.isArray(value) && value.length === expected.length && value.every((item, i) => item === expected[i])
  )
}

import { isAbsolute, relative, resolve, sep } from 'node:path'

/** How a path relative to rootDir is written in keys and stored entries: never absolute. */
const ROOT = '<rootDir>'

/**
 * `path` written relative to `rootDir` (with `/` on every platform), prefixed with `<rootDir>`
 * so that it cannot be mistaken for a path relative to something else. Paths outside rootDir
 * (a monorepo's hoisted node_modules) become `<rootDir>/../..`, which is the same in two
 * checkouts with the same layout.
 */
export function relativePath(rootDir: string, path: string): string {
  const rel = relative(rootDir, path).split(sep).join('/')
  return rel === '' ? ROOT : `${ROOT}/${rel}`
}

/** The inverse of {@link relativePath} for this checkout's rootDir. */
export function absolutePath(rootDir: string, written: string): string {
  if (written === ROOT) return rootDir
  return resolve(rootDir, written.slice(ROOT.length + 1))
}

export function isRelativeWritten(value: string): boolean {
  return value === ROOT || value.startsWith(`${ROOT}/`)
}

/**
 * A JSON-like copy of `value` for a key: absolute paths made relative to rootDir, functions as
 * their source text (an inline Babel plugin's code is what it does), regular expressions as
 * their source, and anything else that cannot be encoded as its string form.
 */
export function keyable(value: unknown, rootDir: string, depth = 0): KeyableValue {
  if (depth > 32) return '[too deep]'
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value
  if (typeof value === 'string') return isAbsolute(value) ? relativePath(rootDir, value) : value
  if (value === undefined) return null
  if (typeof value === 'function') return `[function ${value.toString()}]`
  if (value instanceof RegExp) return `[regexp ${value.toString()}]`
  if (Array.isArray(value)) return value.map((item) => keyable(item, rootDir, depth + 1))
  if (typeof value === 'object') {
    const out: { [name: string]: KeyableValue } = {}
    for (const [name, item] of Object.entries(value)) {
      if (item !== undefined) out[name] = keyable(item, rootDir, depth + 1)
    }
    return out
  }
  return String(value)
}

export type KeyableValue =
  | string
  | number
  | boolean
  | null
  | KeyableValue[]
  | { [name: string]: KeyableValue }

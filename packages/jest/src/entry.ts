import { isAbsolute } from 'node:path'
import type { TransformResult } from './inner.js'
import { absolutePath, isRelativeWritten, relativePath } from './paths.js'

/** Version of what an entry holds; part of every key, so a change never reads old entries. */
export const ENTRY_VERSION = 1

interface SourceMapLike {
  sources?: unknown
  file?: unknown
  sourceRoot?: unknown
  [other: string]: unknown
}

/**
 * The stored form of a transform result: JSON of `{ code, map }` with the map's `sources`,
 * `file` and `sourceRoot` made relative to rootDir, so that a hit in another checkout points at
 * that checkout's files. `bound` says whether rootDir's absolute path is still in it (an
 * instrumented file embeds its path for coverage): such an entry is valid in this directory only.
 */
export function encodeEntry(
  result: TransformResult,
  rootDir: string,
): { text: string; bound: boolean } | undefined {
  if (typeof result?.code !== 'string') return undefined
  let map: unknown = result.map ?? null
  if (typeof map === 'string') {
    try {
      map = JSON.parse(map)
    } catch {
      return undefined
    }
  }
  if (map !== null && typeof map === 'object' && !Array.isArray(map)) {
    const copy: SourceMapLike = { ...(map as SourceMapLike) }
    if (Array.isArray(copy.sources)) copy.sources = copy.sources.map((source) => toRelative(source, rootDir))
    copy.file = toRelative(copy.file, rootDir)
    copy.sourceRoot = toRelative(copy.sourceRoot, rootDir)
    map = copy
  }
  const text = JSON.stringify({ v: ENTRY_VERSION, code: result.code, map })
  // Also as JSON escapes it, for Windows paths' backslashes.
  const escaped = JSON.stringify(rootDir).slice(1, -1)
  const inline = inlineMap(result.code)
  const bound =
    text.includes(rootDir) ||
    text.includes(escaped) ||
    (inline !== undefined && (inline.includes(rootDir) || inline.includes(escaped)))
  return { text, bound }
}

/**
 * The text of a base64 inline source map at the end of `code` (babel-jest's `sourceMaps: 'both'`,
 * ts-jest's `inlineSourceMap`): an absolute path in it is invisible to a plain search.
 */
function inlineMap(code: string): string | undefined {
  const match =
    /sourceMappingURL=data:application\/json;(?:charset=[^;,]+;)?base64,([A-Za-z0-9+/=]+)\s*$/.exec(
      code.slice(-4_000_000),
    )
  return match?.[1] === undefined ? undefined : Buffer.from(match[1], 'base64').toString('utf8')
}

/** The result stored by {@link encodeEntry}, with paths made absolute for this rootDir; undefined if malformed. */
export function decodeEntry(text: string, rootDir: string): TransformResult | undefined {
  let value: { v?: unknown; code?: unknown; map?: unknown }
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (value?.v !== ENTRY_VERSION || typeof value.code !== 'string') return undefined
  const map = value.map
  if (map === null || map === undefined) return { code: value.code }
  if (typeof map !== 'object' || Array.isArray(map)) return undefined
  const copy: SourceMapLike = { ...(map as SourceMapLike) }
  if (Array.isArray(copy.sources)) copy.sources = copy.sources.map((source) => toAbsolute(source, rootDir))
  copy.file = toAbsolute(copy.file, rootDir)
  copy.sourceRoot = toAbsolute(copy.sourceRoot, rootDir)
  for (const name of ['file', 'sourceRoot'] as const) if (copy[name] === undefined) delete copy[name]
  return { code: value.code, map: copy }
}

function toRelative(value: unknown, rootDir: string): unknown {
  return typeof value === 'string' && isAbsolute(value) ? relativePath(rootDir, value) : value
}

function toAbsolute(value: unknown, rootDir: string): unknown {
  return typeof value === 'string' && isRelativeWritten(value) ? absolutePath(rootDir, value) : value
}

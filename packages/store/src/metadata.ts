import { CairnError } from './errors.js'
import { type JsonValue, METADATA_MAX_BYTES } from './record.js'

/**
 * The deepest metadata accepted: at most this many arrays and objects nested inside one
 * another. Deeper values are refused with ERR_CAIRN_INVALID_METADATA (they would otherwise
 * overflow the stack of the check, of JSON.stringify, or of a reader's). 256 is far beyond any
 * tool's metadata and far below the ~10,000 levels where V8's recursion gives out.
 */
export const METADATA_MAX_DEPTH = 256

/**
 * Checks that `metadata` is plain JSON (null, booleans, finite numbers, strings, arrays and
 * plain objects; `undefined` object properties are dropped, as JSON does) and no larger than
 * METADATA_MAX_BYTES, nested at most METADATA_MAX_DEPTH deep, and returns its JSON text, or undefined when there is no metadata.
 * Anything JSON.stringify would silently change (NaN, a Date, a class instance) is refused, so
 * `get` returns exactly what `put` was given.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_METADATA naming the bad value's path.
 */
export function encodeMetadata(metadata: unknown): string | undefined {
  if (metadata === undefined) return undefined
  checkJson(metadata, 'metadata', new Set(), 0)
  const json = JSON.stringify(metadata)
  const bytes = Buffer.byteLength(json, 'utf8')
  if (bytes > METADATA_MAX_BYTES) {
    throw new CairnError(
      'ERR_CAIRN_INVALID_METADATA',
      `Entry metadata is ${bytes} bytes as JSON; the limit is ${METADATA_MAX_BYTES}. Store large data as the entry's content instead.`,
    )
  }
  return json
}

function checkJson(
  value: unknown,
  path: string,
  ancestors: Set<object>,
  depth: number,
): asserts value is JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (Number.isFinite(value)) return
      return invalid(path, `${value}, which JSON cannot represent`)
    case 'object': {
      if (value === null) return
      if (ancestors.has(value)) return invalid(path, 'a cyclic reference')
      if (depth >= METADATA_MAX_DEPTH) {
        return invalid(path, `nested deeper than ${METADATA_MAX_DEPTH} arrays and objects (the limit)`)
      }
      ancestors.add(value)
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++)
          checkJson(value[index], `${path}[${index}]`, ancestors, depth + 1)
      } else {
        const prototype = Object.getPrototypeOf(value)
        if (prototype !== Object.prototype && prototype !== null) {
          return invalid(path, `an instance of ${value.constructor?.name ?? 'a class'}`)
        }
        for (const [name, inner] of Object.entries(value)) {
          if (inner !== undefined) checkJson(inner, `${path}.${name}`, ancestors, depth + 1)
        }
      }
      ancestors.delete(value)
      return
    }
    default:
      return invalid(path, typeof value === 'undefined' ? 'undefined inside an array' : `a ${typeof value}`)
  }
}

function invalid(path: string, found: string): never {
  throw new CairnError(
    'ERR_CAIRN_INVALID_METADATA',
    `Entry metadata must be plain JSON, but ${path} is ${found}. Convert it first (a bigint to a string, a Date to toISOString()).`,
  )
}

/**
 * Canonical encoding of a key value: the exact bytes that are hashed into a key.
 *
 * Every value is written as a one-byte type tag followed by a fixed-size payload or a
 * length-prefixed one, so no two distinct values share an encoding: `["ab","c"]` and
 * `["a","bc"]` differ in their length prefixes, `1` and `"1"` in their tags. Object
 * properties are sorted, so property order never changes a key. The full byte layout is
 * specified in docs/FORMAT.md ("Key encoding"); another implementation can reproduce keys
 * from that document alone, and the golden vectors in test/vectors.json pin it.
 */

import { UnsupportedValueError } from './errors.js'

/** A value that can be part of a cache key. */
export type KeyValue =
  | string
  | number
  | boolean
  | null
  | bigint
  | Uint8Array
  | KeyValue[]
  | { [property: string]: KeyValue | undefined }

/**
 * Version of the encoding. It is the third byte of every encoding, so keys made by one
 * version can never equal keys made by another: changing the encoding changes every key
 * instead of silently mixing two meanings in one store.
 */
export const ENCODING_VERSION = 1

/** The bytes every encoding starts with: "CK" (Cairn Key) and the encoding version. */
const HEADER = Uint8Array.of(0x43, 0x4b, ENCODING_VERSION)

/** Type tags. Their values are part of the format: never renumber them. */
export const Tag = {
  null: 0x00,
  false: 0x01,
  true: 0x02,
  number: 0x03,
  bigint: 0x04,
  string: 0x05,
  bytes: 0x06,
  array: 0x07,
  object: 0x08,
} as const

/**
 * The deepest key value accepted: at most this many arrays and objects nested inside one
 * another. Deeper values are refused with ERR_CAIRN_UNSUPPORTED_VALUE instead of overflowing
 * the stack (a RangeError at about 10,000 levels in V8). 256 is far beyond any real build
 * description; the limit is part of what a key can be, not of the encoding's bytes.
 */
export const KEY_VALUE_MAX_DEPTH = 256

/** Lengths and counts are unsigned 32-bit big-endian integers. */
const MAX_LENGTH = 0xffff_ffff

/**
 * Returns the canonical bytes of `value`, with the encoding header.
 *
 * @throws {UnsupportedValueError} (`code: 'ERR_CAIRN_UNSUPPORTED_VALUE'`) for anything
 *   that is not a {@link KeyValue}: functions, symbols, `undefined` outside an object
 *   property, Map, Set, Date, class instances, typed arrays other than Uint8Array, and
 *   cyclic structures, and values nested deeper than {@link KEY_VALUE_MAX_DEPTH}. The message names the path of the bad value, e.g. `value.flags[2]`.
 */
export function encodeCanonical(value: KeyValue): Uint8Array {
  const writer = new ByteWriter()
  writer.bytes(HEADER)
  try {
    encodeValue(writer, value, undefined, new Set())
  } catch (error) {
    if (!(error instanceof UnsupportedValueError)) throw error
    // Paths are built only to name a bad value: encoding again with them finds it (the same
    // value fails at the same place) and throws the error with its path.
    encodeValue(new ByteWriter(), value, 'value', new Set())
    throw error
  }
  return writer.finish()
}

/**
 * Where a value sits in the key (`value.inputs[3][0]`), or undefined while encoding a valid
 * value: building a path string for every element was a third of encoding a `cairn run` key
 * over 10,000 inputs, for a name only an error ever shows.
 */
type Path = string | undefined

function encodeValue(writer: ByteWriter, value: unknown, path: Path, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
      writer.tag(Tag.string)
      writer.string(value, path)
      return
    case 'boolean':
      writer.tag(value ? Tag.true : Tag.false)
      return
    case 'number':
      writer.tag(Tag.number)
      writer.float64(value)
      return
    case 'bigint':
      writer.tag(Tag.bigint)
      writer.byte(value < 0n ? 1 : 0)
      writer.lengthPrefixed(magnitudeBytes(value < 0n ? -value : value), path)
      return
    case 'object':
      if (value === null) {
        writer.tag(Tag.null)
        return
      }
      if (value instanceof Uint8Array) {
        writer.tag(Tag.bytes)
        writer.lengthPrefixed(value, path)
        return
      }
      if (ancestors.has(value)) throw new UnsupportedValueError(path ?? 'value', 'a cyclic reference')
      // The ancestors are exactly the enclosing arrays and objects, so their count is the depth.
      if (ancestors.size >= KEY_VALUE_MAX_DEPTH) {
        throw new UnsupportedValueError(
          path ?? 'value',
          `a value nested deeper than ${KEY_VALUE_MAX_DEPTH} arrays and objects (the limit)`,
        )
      }
      ancestors.add(value)
      if (Array.isArray(value)) encodeArray(writer, value, path, ancestors)
      else if (isPlainObject(value)) encodeObject(writer, value, path, ancestors)
      else throw new UnsupportedValueError(path ?? 'value', describe(value))
      ancestors.delete(value)
      return
    default:
      throw new UnsupportedValueError(path ?? 'value', describe(value))
  }
}

function encodeArray(writer: ByteWriter, array: unknown[], path: Path, ancestors: Set<object>): void {
  writer.tag(Tag.array)
  writer.length(array.length, path)
  for (let index = 0; index < array.length; index++) {
    // A hole in a sparse array reads as undefined and is rejected like an explicit one.
    encodeValue(writer, array[index], path === undefined ? undefined : `${path}[${index}]`, ancestors)
  }
}

function encodeObject(
  writer: ByteWriter,
  object: Record<string, unknown>,
  path: Path,
  ancestors: Set<object>,
): void {
  // Sorting the UTF-8 (WTF-8) bytes of the names orders them by code point, which
  // JavaScript's default sort (by UTF-16 code unit) does not for astral characters.
  const properties = Object.keys(object)
    .filter((name) => object[name] !== undefined)
    .map((name) => ({ name, bytes: encodeWtf8(name) }))
    .sort((a, b) => compareBytes(a.bytes, b.bytes))
  writer.tag(Tag.object)
  writer.length(properties.length, path)
  for (const { name, bytes } of properties) {
    writer.lengthPrefixed(bytes, path)
    encodeValue(writer, object[name], path === undefined ? undefined : propertyPath(path, name), ancestors)
  }
}

function isPlainObject(value: object): value is Record<string, unknown> {
  // Symbol-keyed properties would be silently ignored; reject them instead.
  return hasPlainPrototype(value) && Object.getOwnPropertySymbols(value).length === 0
}

function hasPlainPrototype(value: object): boolean {
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined (allowed only as an object property, which is then omitted)'
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'symbol') return 'a symbol'
  if (typeof value === 'object' && value !== null) {
    if (hasPlainPrototype(value)) {
      return 'an object with symbol-keyed properties'
    }
    const name = value.constructor?.name
    return name ? `an instance of ${name}` : 'an object with an unusual prototype'
  }
  return typeof value
}

function propertyPath(path: string, name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`
}

/**
 * UTF-8 bytes of a string, except that a lone surrogate is written as its own three-byte
 * sequence (WTF-8) instead of being replaced by U+FFFD as TextEncoder does. Without this,
 * every string with an unpaired surrogate would collide with the same string holding U+FFFD.
 */
export function encodeWtf8(text: string): Uint8Array {
  if (isWellFormed(text)) return Buffer.from(text, 'utf8')
  const out: number[] = []
  for (let index = 0; index < text.length; index++) {
    let point = text.charCodeAt(index)
    if (point >= 0xd800 && point <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        point = 0x10000 + ((point - 0xd800) << 10) + (next - 0xdc00)
        index++
      }
    }
    pushCodePoint(out, point)
  }
  return Uint8Array.from(out)
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text)
}

function pushCodePoint(out: number[], point: number): void {
  if (point < 0x80) out.push(point)
  else if (point < 0x800) out.push(0xc0 | (point >> 6), 0x80 | (point & 0x3f))
  else if (point < 0x10000)
    out.push(0xe0 | (point >> 12), 0x80 | ((point >> 6) & 0x3f), 0x80 | (point & 0x3f))
  else {
    out.push(
      0xf0 | (point >> 18),
      0x80 | ((point >> 12) & 0x3f),
      0x80 | ((point >> 6) & 0x3f),
      0x80 | (point & 0x3f),
    )
  }
}

/** Big-endian bytes of a non-negative bigint, without leading zero bytes (0n is empty). */
function magnitudeBytes(magnitude: bigint): Uint8Array {
  if (magnitude === 0n) return new Uint8Array(0)
  let hex = magnitude.toString(16)
  if (hex.length % 2 === 1) hex = `0${hex}`
  return Buffer.from(hex, 'hex')
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

/** A growable byte buffer; encodings are small, so doubling keeps copies rare. */
class ByteWriter {
  // A Buffer, so strings are written into it directly (Buffer#write).
  private buffer = Buffer.alloc(256)
  private view = new DataView(this.buffer.buffer)
  private used = 0

  tag(tag: number): void {
    this.byte(tag)
  }

  byte(value: number): void {
    this.reserve(1)
    this.buffer[this.used++] = value
  }

  float64(value: number): void {
    this.reserve(8)
    // -0 and 0 are the same key; every NaN is written as the one canonical NaN below.
    if (Number.isNaN(value)) {
      this.view.setUint32(this.used, 0x7ff8_0000)
      this.view.setUint32(this.used + 4, 0)
    } else {
      this.view.setFloat64(this.used, value === 0 ? 0 : value)
    }
    this.used += 8
  }

  length(length: number, path: Path): void {
    if (length > MAX_LENGTH)
      throw new UnsupportedValueError(path ?? 'value', `a value longer than ${MAX_LENGTH} units`)
    this.reserve(4)
    this.view.setUint32(this.used, length)
    this.used += 4
  }

  lengthPrefixed(bytes: Uint8Array, path: Path): void {
    this.length(bytes.length, path)
    this.bytes(bytes)
  }

  /**
   * A string's WTF-8 bytes, length-prefixed. A well-formed string (nearly all) is written
   * straight into the buffer, without a Buffer of its own.
   */
  string(text: string, path: Path): void {
    if (!isWellFormed(text)) {
      this.lengthPrefixed(encodeWtf8(text), path)
      return
    }
    const length = Buffer.byteLength(text, 'utf8')
    this.length(length, path)
    this.reserve(length)
    this.used += this.buffer.write(text, this.used, 'utf8')
  }

  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length)
    this.buffer.set(bytes, this.used)
    this.used += bytes.length
  }

  finish(): Uint8Array {
    return new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.used)
  }

  private reserve(extra: number): void {
    const needed = this.used + extra
    if (needed <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < needed) size *= 2
    const grown = Buffer.alloc(size)
    grown.set(this.buffer.subarray(0, this.used))
    this.buffer = grown
    this.view = new DataView(grown.buffer)
  }
}

/**
 * A fast reading of an entry record's JSON header in the one form encodeRecord writes:
 *
 *     {"digest":"<hex>","size":<n>,"time":<n>[,"codec":"<name>","stored":<n>][,"metadata":<json>]}
 *
 * with the numbers as plain non-negative safe integers. A hit decodes one header,
 * and JSON.parse of the whole header (with the string it needs first) was about a tenth of a
 * small `getSync`; here the fixed parts are compared byte by byte and only the caller's metadata,
 * when there is any, goes through JSON.parse.
 *
 * Anything else (other spacing or order, escapes, other numbers, extra or repeated fields) is
 * not read here: {@link readCanonicalHeader} returns undefined and decodeRecord parses the header
 * with JSON.parse as before, so this only ever agrees with that reading or declines. Whatever it
 * accepts, JSON.parse reads as the same values: the fixed parts are ASCII without escapes, and
 * the metadata is the rest of the object up to its closing brace, parsed on its own.
 */

/** The fields of a header in encodeRecord's form; checking them is decodeRecord's job. */
export interface CanonicalHeader {
  digest: string
  size: number
  time: number
  codec: string | undefined
  stored: number | undefined
  metadata: unknown
}

const DIGEST_OPEN = Buffer.from('{"digest":"', 'latin1')
const SIZE_OPEN = Buffer.from('","size":', 'latin1')
const TIME_OPEN = Buffer.from(',"time":', 'latin1')
const CODEC_OPEN = Buffer.from(',"codec":"', 'latin1')
const STORED_OPEN = Buffer.from('","stored":', 'latin1')
const METADATA_OPEN = Buffer.from(',"metadata":', 'latin1')
const CLOSE_BRACE = 0x7d
const QUOTE = 0x22
/** Number.MAX_SAFE_INTEGER has 16 digits; larger numbers are left to JSON.parse. */
const MAX_DIGITS = 16
const MAX_CODEC_NAME = 16

/**
 * Reads the header at bytes[start, end) if it is in encodeRecord's form, with a digest of
 * `digestLength` lowercase hex characters; undefined otherwise (the caller then uses JSON.parse).
 * Never throws.
 */
export function readCanonicalHeader(
  bytes: Buffer,
  start: number,
  end: number,
  digestLength: number,
): CanonicalHeader | undefined {
  let at = expect(bytes, start, end, DIGEST_OPEN)
  if (at < 0 || at + digestLength > end) return undefined
  for (let i = at; i < at + digestLength; i++) {
    const c = bytes[i] as number
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return undefined
  }
  const digest = bytes.toString('latin1', at, at + digestLength)
  at = expect(bytes, at + digestLength, end, SIZE_OPEN)
  const size = readInteger(bytes, at, end)
  if (size === undefined) return undefined
  at = expect(bytes, size.end, end, TIME_OPEN)
  const time = readInteger(bytes, at, end)
  if (time === undefined) return undefined
  at = time.end
  let codec: string | undefined
  let stored: number | undefined
  const codecAt = expect(bytes, at, end, CODEC_OPEN)
  if (codecAt >= 0) {
    const quote = bytes.indexOf(QUOTE, codecAt)
    if (quote < 0 || quote >= end || quote - codecAt > MAX_CODEC_NAME) return undefined
    for (let i = codecAt; i < quote; i++) {
      const c = bytes[i] as number
      if (c < 0x61 || c > 0x7a) return undefined
    }
    codec = bytes.toString('latin1', codecAt, quote)
    const storedInteger = readInteger(bytes, expect(bytes, quote, end, STORED_OPEN), end)
    if (storedInteger === undefined) return undefined
    stored = storedInteger.value
    at = storedInteger.end
  }
  let metadata: unknown
  const metadataAt = expect(bytes, at, end, METADATA_OPEN)
  if (metadataAt >= 0) {
    if (bytes[end - 1] !== CLOSE_BRACE) return undefined
    try {
      metadata = JSON.parse(bytes.toString('utf8', metadataAt, end - 1))
    } catch {
      return undefined
    }
  } else if (at !== end - 1 || bytes[at] !== CLOSE_BRACE) {
    return undefined
  }
  return { digest, size: size.value, time: time.value, codec, stored, metadata }
}

/** The offset after `literal` if bytes[at, end) starts with it, else -1. */
function expect(bytes: Buffer, at: number, end: number, literal: Buffer): number {
  if (at < 0 || at + literal.length > end) return -1
  for (let i = 0; i < literal.length; i++) {
    if (bytes[at + i] !== literal[i]) return -1
  }
  return at + literal.length
}

/** A plain safe integer (`0`, or digits without a leading zero) at `at`, and where it ends. */
function readInteger(bytes: Buffer, at: number, end: number): { value: number; end: number } | undefined {
  if (at < 0) return undefined
  let value = 0
  let i = at
  while (i < end && i - at <= MAX_DIGITS) {
    const c = bytes[i] as number
    if (c < 0x30 || c > 0x39) break
    value = value * 10 + (c - 0x30)
    i++
  }
  const digits = i - at
  if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && bytes[at] === 0x30)) return undefined
  // Up to 2^53 every step of the sum above was exact, so the value is the one JSON.parse reads.
  if (value > Number.MAX_SAFE_INTEGER) return undefined
  return { value, end: i }
}

/**
 * The `compression` option of openStore: which codec this process writes new content with.
 * It applies only to what this process writes; every entry records its own codec, so one store
 * holds entries of several codecs and changing the option invalidates nothing.
 */

import { availableCodecs, CODEC_LEVELS, type Codec, type CompressingCodec, zstdUnavailable } from './codec.js'
import { CairnError } from './errors.js'
import { CONTENT_FRAME_HEADER_BYTES, encodeContentFrameHeader } from './frame.js'
import { INLINE_MAX_BYTES } from './record.js'

/**
 * `compression` of openStore: a codec name, or a codec with its level and threshold.
 * - `level`: the codec's own scale, gzip 1–9 (default 6), brotli 0–11 (default 5), zstd 1–19
 *   (default 3).
 * - `threshold`: content of more than this many bytes is compressed; default and minimum
 *   4096, since content up to 4 KiB is stored inline in its record and never compressed.
 */
export type CompressionOption = Codec | { codec: Codec; level?: number; threshold?: number }

/** A validated compression option. */
export interface CompressionSettings {
  codec: Codec
  level: number
  threshold: number
}

/** Default and minimum threshold: the largest inline content (record.ts). */
export const COMPRESSION_THRESHOLD_MIN = INLINE_MAX_BYTES

/** No compression: what a store writes unless asked. */
export const NO_COMPRESSION: CompressionSettings = {
  codec: 'none',
  level: 0,
  threshold: COMPRESSION_THRESHOLD_MIN,
}

/**
 * Checks a `compression` option. Throws CairnError ERR_CAIRN_INVALID_OPTION for an unknown
 * codec, a level outside the codec's range, a threshold below 4096 or not an integer, an object
 * with other properties, or zstd where this Node has none.
 */
export function parseCompression(option: unknown): CompressionSettings {
  if (option === undefined) return NO_COMPRESSION
  const object =
    typeof option === 'object' && option !== null ? (option as Record<string, unknown>) : undefined
  const codec = object ? object.codec : option
  if (codec !== 'none' && codec !== 'gzip' && codec !== 'brotli' && codec !== 'zstd') {
    throw invalid(
      object ? 'compression.codec' : 'compression',
      codec,
      `one of ${availableCodecs()
        .map((name) => `'${name}'`)
        .join(', ')}, or { codec, level?, threshold? }`,
    )
  }
  if (!availableCodecs().includes(codec)) throw zstdUnavailable()
  if (object) {
    for (const name of Object.keys(object)) {
      if (name !== 'codec' && name !== 'level' && name !== 'threshold') {
        throw new CairnError(
          'ERR_CAIRN_INVALID_OPTION',
          `openStore option compression has no property ${JSON.stringify(name)}; it takes codec, level and threshold.`,
        )
      }
    }
  }
  const threshold = object?.threshold ?? COMPRESSION_THRESHOLD_MIN
  if (
    typeof threshold !== 'number' ||
    !Number.isSafeInteger(threshold) ||
    threshold < COMPRESSION_THRESHOLD_MIN
  ) {
    throw invalid(
      'compression.threshold',
      threshold,
      `an integer number of bytes, at least ${COMPRESSION_THRESHOLD_MIN}`,
    )
  }
  if (codec === 'none') {
    if (object?.level !== undefined)
      throw invalid('compression.level', object.level, "no level with codec 'none'")
    return { codec, level: 0, threshold }
  }
  const range = CODEC_LEVELS[codec as CompressingCodec]
  const level = object?.level ?? range.default
  if (typeof level !== 'number' || !Number.isInteger(level) || level < range.min || level > range.max) {
    throw invalid('compression.level', level, `an integer from ${range.min} to ${range.max} for ${codec}`)
  }
  return { codec, level, threshold }
}

function invalid(name: string, value: unknown, expected: string): CairnError {
  const shown =
    typeof value === 'string'
      ? JSON.stringify(value)
      : value === null
        ? 'null'
        : typeof value === 'object'
          ? 'an object'
          : String(value)
  return new CairnError(
    'ERR_CAIRN_INVALID_OPTION',
    `openStore option ${name} is ${shown}; expected ${expected}.`,
  )
}

/**
 * The 10 % rule: the framed content file (16-byte header + `compressed`) for content of `size`
 * bytes, or undefined when it would be more than 90 % of `size`. So a framed file is always
 * smaller than its content, which is how a content file's size tells raw from framed (frame.ts).
 */
export function frameIfSmaller(
  codec: CompressingCodec,
  size: number,
  compressed: Uint8Array,
): { codec: CompressingCodec; bytes: Buffer } | undefined {
  if (CONTENT_FRAME_HEADER_BYTES + compressed.length > maxFramedBytes(size)) return undefined
  return { codec, bytes: Buffer.concat([encodeContentFrameHeader(codec, size), compressed]) }
}

/** The largest framed file worth keeping for content of `size` bytes: 90 % of it. */
export function maxFramedBytes(size: number): number {
  return Math.floor(size * 0.9)
}

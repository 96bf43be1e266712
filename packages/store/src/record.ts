/**
 * The entry record: the small immutable file at `entries/<ab>/<key>`. Layout (docs/FORMAT.md,
 * "Entry record"):
 *
 *     offset  bytes  field
 *     0       4      magic "CRNE" (43 52 4E 45)
 *     4       1      format version: 01 (STORE_FORMAT_VERSION), or 02 when the content is framed
 *                    (compressed): an older Cairn then sees 'other-version', a miss, rather than
 *                    a content file of the wrong size, which it would delete under other entries
 *     5       1      flags: bit 0 set = content is inline
 *     6       2      zero
 *     8       4      header length H, u32 big-endian
 *     12      H      header: UTF-8 JSON {"digest","size","time"[,"codec","stored"][,"metadata"]}
 *     12+H    size   the content itself, only when inline
 *
 * The total length must be exactly 12 + H (+ size when inline): a torn or padded record never
 * parses. Contents of at most INLINE_MAX_BYTES are inline, so a small hit is one file read.
 */

import type { Codec } from './codec.js'
import { CONTENT_FRAME_HEADER_BYTES } from './frame.js'
import { STORE_FORMAT_VERSION } from './layout.js'
import { readCanonicalHeader } from './record-header.js'

/** Any value JSON can represent. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/**
 * Contents up to this size are stored inside the entry record. On this machine a put costs about
 * one file creation and a get one open+read+close per file, so inlining halves both for the
 * small outputs that dominate builds; 4 KiB is one page, so the record stays one read.
 */
export const INLINE_MAX_BYTES = 4096

/** Metadata larger than this (as JSON) is rejected: records are read whole on every hit. */
export const METADATA_MAX_BYTES = 64 * 1024

const MAGIC = 0x43524e45
const FIXED_BYTES = 12
const FLAG_INLINE = 1
/** Byte 4 of a record whose content file is framed (compressed): docs/FORMAT.md. */
export const RECORD_VERSION_FRAMED = 2
/** No valid record is larger: a bigger file is corrupt and is not read into memory. */
export const RECORD_MAX_BYTES = FIXED_BYTES + METADATA_MAX_BYTES + 1024 + INLINE_MAX_BYTES

/** What a record says about its entry. */
export interface EntryRecord {
  digest: string
  size: number
  /** Creation time, ms since the epoch. */
  time: number
  metadata: JsonValue | undefined
  /** The content, when it is stored inline. */
  inline: Buffer | undefined
  /**
   * How the content file is stored: `none` for raw bytes (and for inline content); otherwise
   * the file is a content frame (frame.ts) compressed with this codec.
   */
  codec: Codec
  /** Bytes of the content file on disk: `size` when raw, the framed file's size, 0 when inline. */
  stored: number
}

/**
 * The record's bytes. A raw or inline entry is written exactly as before compression existed
 * (version 01, no codec fields); a framed one as version 02 with `codec` and `stored`.
 */
export function encodeRecord(
  record: Pick<EntryRecord, 'digest' | 'size' | 'time' | 'inline' | 'codec' | 'stored'>,
  metadataJson: string | undefined,
): Buffer {
  const framed = record.codec !== 'none'
  const header = Buffer.from(
    `{"digest":${JSON.stringify(record.digest)},"size":${record.size},"time":${record.time}${
      framed ? `,"codec":"${record.codec}","stored":${record.stored}` : ''
    }${metadataJson === undefined ? '' : `,"metadata":${metadataJson}`}}`,
    'utf8',
  )
  const inline = record.inline
  const out = Buffer.allocUnsafe(FIXED_BYTES + header.length + (inline?.length ?? 0))
  out.writeUInt32BE(MAGIC, 0)
  out.writeUInt8(framed ? RECORD_VERSION_FRAMED : STORE_FORMAT_VERSION, 4)
  out.writeUInt8(inline ? FLAG_INLINE : 0, 5)
  out.writeUInt16BE(0, 6)
  out.writeUInt32BE(header.length, 8)
  header.copy(out, FIXED_BYTES)
  inline?.copy(out, FIXED_BYTES + header.length)
  return out
}

/** Why a record was rejected; each is a miss (read.ts). */
export type RecordProblem = 'bad-record' | 'other-version'

/**
 * Parses a record, or says why it is not one. Never throws, whatever the bytes: the fuzz tests
 * feed it random and mutated records. `digestLength` is the store algorithm's hex length.
 */
export function decodeRecord(bytes: Buffer, digestLength: number): EntryRecord | RecordProblem {
  if (bytes.length < FIXED_BYTES || bytes.readUInt32BE(0) !== MAGIC) return 'bad-record'
  const version = bytes.readUInt8(4)
  if (version !== STORE_FORMAT_VERSION && version !== RECORD_VERSION_FRAMED) return 'other-version'
  const flags = bytes.readUInt8(5)
  if ((flags & ~FLAG_INLINE) !== 0 || bytes.readUInt16BE(6) !== 0) return 'bad-record'
  const headerLength = bytes.readUInt32BE(8)
  if (headerLength > bytes.length - FIXED_BYTES) return 'bad-record'
  // encodeRecord's own form is read without JSON.parse of the whole header (record-header.ts);
  // any other form is parsed, and either way judged by the same checks below.
  let header: unknown = readCanonicalHeader(bytes, FIXED_BYTES, FIXED_BYTES + headerLength, digestLength)
  // That reading took only a digest of `digestLength` lowercase hex characters.
  const digestChecked = header !== undefined
  if (header === undefined) {
    try {
      header = JSON.parse(bytes.toString('utf8', FIXED_BYTES, FIXED_BYTES + headerLength))
    } catch {
      return 'bad-record'
    }
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return 'bad-record'
  const { digest, size, time, metadata, codec, stored } = header as Record<string, unknown>
  if (
    typeof digest !== 'string' ||
    digest.length !== digestLength ||
    (!digestChecked && !/^[0-9a-f]+$/.test(digest))
  ) {
    return 'bad-record'
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return 'bad-record'
  if (typeof time !== 'number' || !Number.isFinite(time)) return 'bad-record'
  const isInline = (flags & FLAG_INLINE) !== 0
  const expectedLength = FIXED_BYTES + headerLength + (isInline ? size : 0)
  if (bytes.length !== expectedLength || (isInline && size > INLINE_MAX_BYTES)) return 'bad-record'
  // Version 01: raw or inline, no codec fields. Version 02: a framed content file, which is
  // never inline and always smaller than the content (frame.ts), but holds at least its header.
  if (version === STORE_FORMAT_VERSION) {
    if (codec !== undefined || stored !== undefined) return 'bad-record'
  } else if (
    isInline ||
    (codec !== 'gzip' && codec !== 'brotli' && codec !== 'zstd') ||
    typeof stored !== 'number' ||
    !Number.isSafeInteger(stored) ||
    stored < CONTENT_FRAME_HEADER_BYTES ||
    stored >= size
  ) {
    return 'bad-record'
  }
  return {
    digest,
    size,
    time,
    metadata: metadata as JsonValue | undefined,
    inline: isInline ? bytes.subarray(FIXED_BYTES + headerLength) : undefined,
    codec: version === STORE_FORMAT_VERSION ? 'none' : (codec as Codec),
    stored: version === STORE_FORMAT_VERSION ? (isInline ? 0 : size) : (stored as number),
  }
}

/**
 * The content frame: the 16-byte header that makes a compressed content file describe itself
 * (docs/FORMAT.md, "Content"). A raw content file has no header: it is the bytes themselves.
 *
 *     offset  bytes  field
 *     0       4      magic "CRNZ" (43 52 4E 5A)
 *     4       1      frame version: 01
 *     5       1      codec: 1 gzip, 2 brotli, 3 zstd
 *     6       2      zero
 *     8       8      uncompressed size, u64 big-endian
 *     16      …      the compressed stream
 *
 * A framed file is always smaller than its uncompressed size (it is kept only when it saves at
 * least 10 %), so a content file's size alone tells raw from framed: the size of the entry means
 * raw; any other size must parse as a frame whose size field is the entry's size.
 */

import type { Codec } from './codec.js'

/** Bytes of the frame header; the compressed stream starts at this offset. */
export const CONTENT_FRAME_HEADER_BYTES = 16

const MAGIC = 0x43524e5a
const FRAME_VERSION = 1

/** The frame's codec numbers; 0 is never written (raw content has no frame). */
const CODEC_IDS: Readonly<Record<Exclude<Codec, 'none'>, number>> = { gzip: 1, brotli: 2, zstd: 3 }
const CODECS_BY_ID: readonly (Exclude<Codec, 'none'> | undefined)[] = [undefined, 'gzip', 'brotli', 'zstd']

/** What a content frame header says. */
export interface ContentFrameHeader {
  /** How the stream after the header is compressed. */
  codec: Exclude<Codec, 'none'>
  /** The size of the uncompressed content, in bytes. */
  size: number
}

/** The 16-byte header of a framed content file holding `size` bytes compressed with `codec`. */
export function encodeContentFrameHeader(codec: Exclude<Codec, 'none'>, size: number): Buffer {
  const header = Buffer.alloc(CONTENT_FRAME_HEADER_BYTES)
  header.writeUInt32BE(MAGIC, 0)
  header.writeUInt8(FRAME_VERSION, 4)
  header.writeUInt8(CODEC_IDS[codec], 5)
  header.writeBigUInt64BE(BigInt(size), 8)
  return header
}

/**
 * Parses the first 16 bytes of a content file as a frame header, or returns undefined when they
 * are not one (too short, another magic or version, an unknown codec number, nonzero reserved
 * bytes, a size beyond Number.MAX_SAFE_INTEGER). Never throws. It checks the header only: the
 * caller still compares `size` and `codec` with the entry's record, and the file's size with the
 * record's `stored`.
 */
export function readContentFrameHeader(bytes: Uint8Array): ContentFrameHeader | undefined {
  if (bytes.length < CONTENT_FRAME_HEADER_BYTES) return undefined
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, CONTENT_FRAME_HEADER_BYTES)
  if (view.readUInt32BE(0) !== MAGIC || view.readUInt8(4) !== FRAME_VERSION) return undefined
  if (view.readUInt16BE(6) !== 0) return undefined
  const codec = CODECS_BY_ID[view.readUInt8(5)]
  if (codec === undefined) return undefined
  const size = view.readBigUInt64BE(8)
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  return { codec, size: Number(size) }
}

/**
 * A content file's bytes back to the entry's original bytes, for code outside the store that
 * reads a content file whole from a descriptor it checked (the GC reading a `cairn run`
 * manifest): raw content is returned as it is, framed content decompressed, each only if it is
 * exactly what the record says.
 */

import { canDecode, decodeContent } from './codec.js'
import { CONTENT_FRAME_HEADER_BYTES, readContentFrameHeader } from './frame.js'
import type { EntryRecord } from './record.js'

/**
 * The original bytes of the content file `file` of the entry `record` describes, or undefined
 * when the file is not that content: a raw file of another size, a framed file of another size
 * than the record's `stored`, a frame header that disagrees with the record, a stream that does
 * not decode to exactly `size` bytes, or a codec this process cannot decode (not corruption:
 * ask {@link canDecode} to tell).
 */
export function originalContent(record: EntryRecord, file: Buffer): Buffer | undefined {
  if (record.codec === 'none') return file.length === record.size ? file : undefined
  if (file.length !== record.stored || !canDecode(record.codec)) return undefined
  const header = readContentFrameHeader(file)
  if (header === undefined || header.codec !== record.codec || header.size !== record.size) return undefined
  return decodeContent(header.codec, file.subarray(CONTENT_FRAME_HEADER_BYTES), record.size)
}

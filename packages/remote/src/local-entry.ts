import type { Readable } from 'node:stream'
import { type Algorithm, DIGEST_LENGTH } from '@cairn/hash'
import {
  CONTENT_FRAME_HEADER_BYTES,
  canDecode,
  decodeContentStream,
  decodeRecord,
  type EntryRecord,
  type Layout,
  RECORD_MAX_BYTES,
  readContentFrameHeader,
} from '@cairn/store'
import { openStoreFile, readExactly, readRange, type StoreFile } from './store-file.js'

/** A local entry as an upload or a download's read-back needs it: its record and its bytes' file. */
export interface LocalEntry {
  record: EntryRecord
  /**
   * The content file, opened without following a symlink and checked (by fstat of the
   * descriptor) to be a regular file of `record.stored` bytes: the raw bytes (`record.codec`
   * 'none'), or a content frame whose header names the record's codec and size. Undefined when
   * the content is inline in the record. The caller reads from this descriptor only (through
   * {@link readLocalBytes} or {@link openLocalContent}), then calls `close`.
   */
  content: StoreFile | undefined
  close(): Promise<void>
}

/**
 * Reads the local record of `key` and opens its content, or returns undefined if there is no
 * usable entry: none (deleted, or pruned by the GC since it was put), or a record or content
 * file that is a symlink, a FIFO or anything but a regular file, content of another size than
 * the record says, a frame header that is not the record's, or content compressed with a codec
 * this process cannot decode (zstd before Node 22.15: such an entry is not shared from here).
 * Reads the files directly, not through Store.get: an upload is not a use of the entry, so it
 * must neither count as a hit nor refresh the entry's last-use time.
 */
export async function readLocalEntry(
  layout: Layout,
  algorithm: Algorithm,
  key: string,
): Promise<LocalEntry | undefined> {
  const record = await readRecord(layout, algorithm, key)
  if (record === undefined) return undefined
  if (record.inline !== undefined) return { record, content: undefined, close: async () => {} }
  if (record.codec !== 'none' && !canDecode(record.codec)) return undefined
  const content = await openStoreFile(layout.contentPath(record.digest))
  if (content === undefined) return undefined
  if (content.size !== record.stored || !(await frameMatches(content, record))) {
    await content.handle.close().catch(() => {})
    return undefined
  }
  return { record, content, close: () => content.handle.close().catch(() => {}) }
}

/** For a framed entry: whether the open content file starts with the frame header its record describes. */
async function frameMatches(content: StoreFile, record: EntryRecord): Promise<boolean> {
  if (record.codec === 'none') return true
  try {
    const bytes = await readExactly(content.handle, CONTENT_FRAME_HEADER_BYTES)
    const header = bytes === undefined ? undefined : readContentFrameHeader(bytes)
    return header !== undefined && header.codec === record.codec && header.size === record.size
  } catch {
    return false
  }
}

/**
 * The original bytes of `entry`'s content file as a stream, from its open descriptor: the file
 * itself when raw, decompressed (in bounded memory, stopping at the record's size) when
 * framed. A framed file that does not decode to exactly `record.size` bytes fails the stream
 * with CairnError ERR_CAIRN_CORRUPT. The descriptor stays open: destroying the stream does not
 * close it, `entry.close` does. Only for an entry with a content file.
 */
export function openLocalContent(entry: LocalEntry & { content: StoreFile }): Readable {
  const { record, content } = entry
  if (record.codec === 'none') return readRange(content.handle, 0, record.stored)
  const stream = readRange(content.handle, CONTENT_FRAME_HEADER_BYTES, record.stored)
  return decodeContentStream(stream, record.codec, record.size)
}

/**
 * The original bytes of `entry` (inline, read from its open content descriptor, or decompressed
 * from it), or undefined if the file was truncated since it was opened or does not decode to
 * its size. The caller checks them against the digest if it must.
 */
export async function readLocalBytes(entry: LocalEntry): Promise<Buffer | undefined> {
  const { inline, size, codec } = entry.record
  if (inline !== undefined) return Buffer.from(inline)
  const { content } = entry
  if (content === undefined) return undefined
  if (codec === 'none') return readExactly(content.handle, size)
  const chunks: Buffer[] = []
  try {
    for await (const chunk of openLocalContent({ ...entry, content })) chunks.push(chunk as Buffer)
  } catch {
    return undefined
  }
  return Buffer.concat(chunks)
}

async function readRecord(
  layout: Layout,
  algorithm: Algorithm,
  key: string,
): Promise<EntryRecord | undefined> {
  const file = await openStoreFile(layout.entryPath(key))
  if (file === undefined) return undefined
  try {
    if (file.size > RECORD_MAX_BYTES) return undefined
    const bytes = await readExactly(file.handle, file.size)
    if (bytes === undefined) return undefined
    const record = decodeRecord(bytes, DIGEST_LENGTH[algorithm])
    return typeof record === 'string' ? undefined : record
  } catch {
    return undefined
  } finally {
    await file.handle.close().catch(() => {})
  }
}

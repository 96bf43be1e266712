import { type Algorithm, DIGEST_LENGTH } from '@cairn/hash'
import { decodeRecord, type EntryRecord, type Layout, RECORD_MAX_BYTES } from '@cairn/store'
import { openStoreFile, readExactly, type StoreFile } from './store-file.js'

/** A local entry as an upload or a download's read-back needs it: its record and its bytes' file. */
export interface LocalEntry {
  record: EntryRecord
  /**
   * The content file, opened without following a symlink and checked (by fstat of the
   * descriptor) to be a regular file of `record.size` bytes; undefined when the content is
   * inline in the record. The caller reads from this descriptor only, then calls `close`.
   */
  content: StoreFile | undefined
  close(): Promise<void>
}

/**
 * Reads the local record of `key` and opens its content, or returns undefined if there is no
 * usable entry: none (deleted, or pruned by the GC since it was put), or a record or content
 * file that is a symlink, a FIFO or anything but a regular file, or content of the wrong size.
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
  const content = await openStoreFile(layout.contentPath(record.digest))
  if (content === undefined) return undefined
  if (content.size !== record.size) {
    await content.handle.close().catch(() => {})
    return undefined
  }
  return { record, content, close: () => content.handle.close().catch(() => {}) }
}

/**
 * The bytes of `entry` (inline, or read from its open content descriptor), or undefined if the
 * file was truncated since it was opened. The caller checks them against the digest if it
 * must.
 */
export async function readLocalBytes(entry: LocalEntry): Promise<Buffer | undefined> {
  const { inline, size } = entry.record
  if (inline !== undefined) return Buffer.from(inline)
  return entry.content === undefined ? undefined : readExactly(entry.content.handle, size)
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

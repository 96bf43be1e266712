import { readFile } from 'node:fs/promises'
import { type Algorithm, DIGEST_LENGTH } from '@cairn/hash'
import { decodeRecord, type EntryRecord, type Layout, RECORD_MAX_BYTES } from '@cairn/store'

/** A local entry as an upload needs it: its record and where its bytes are. */
export interface LocalEntry {
  record: EntryRecord
  /** The content file, unless the content is inline in the record. */
  contentPath: string | undefined
}

/**
 * Reads the local record of `key` for an upload, or undefined if there is none (deleted, or
 * pruned by the GC since it was put). Reads the record file directly, not through Store.get:
 * an upload is not a use of the entry, so it must neither count as a hit nor refresh the
 * entry's last-use time. The content file is opened later, by the upload; if the GC removes it
 * in between, that upload fails and is dropped.
 */
export async function readLocalEntry(
  layout: Layout,
  algorithm: Algorithm,
  key: string,
): Promise<LocalEntry | undefined> {
  let bytes: Buffer
  try {
    bytes = await readFile(layout.entryPath(key))
  } catch {
    return undefined
  }
  if (bytes.length > RECORD_MAX_BYTES) return undefined
  const record = decodeRecord(bytes, DIGEST_LENGTH[algorithm])
  if (typeof record === 'string') return undefined
  return { record, contentPath: record.inline === undefined ? layout.contentPath(record.digest) : undefined }
}

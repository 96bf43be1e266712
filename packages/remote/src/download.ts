import type { Hasher } from '@cairn/hash'
import type { Entry, Layout, Store } from '@cairn/store'
import { RemoteFailure } from './failure.js'
import type { HttpCache } from './http-cache.js'
import { readLocalBytes, readLocalEntry } from './local-entry.js'
import {
  decodeRemoteRecord,
  REMOTE_RECORD_MAX_BYTES,
  type RemoteRecord,
  type RemoteRecordProblem,
} from './remote-record.js'

/** What a download found. `entry` (with its data) is set when the caller asked to keep the bytes. */
export type Download =
  | { found: true; entry: Entry | undefined }
  /**
   * No record, or a record whose content the server no longer has: a plain miss. Or a record
   * this store cannot use: another format version or algorithm, or content larger than
   * `maxEntryBytes`.
   */
  | { found: false; reason: 'absent' | 'other-version' | 'other-algorithm' | 'too-large' }

/**
 * Fetches the entry for `key` from the remote and publishes it in `local` with the store's own
 * put, so it is published with the same link protocol as any other entry. The content streams
 * into the store's temp file, checked against the record's size and digest before the put
 * publishes it: bytes from the network are never trusted, and never held in memory whole (a
 * record may name a gigabyte). Content larger than `maxEntryBytes` is not asked for. With
 * `keep`, the published entry is read back (from descriptors, not through Store.get, which
 * would count a local hit) and returned with its bytes, for `get`.
 *
 * @throws {RemoteFailure} for a failed request, a damaged record (ERR_CAIRN_REMOTE_CORRUPT) or
 *   content that is not what the record says.
 * @throws {CairnError} if publishing locally fails (ERR_CAIRN_IO: disk full, permissions).
 */
export async function downloadEntry(
  client: HttpCache,
  hasher: Hasher,
  local: Store,
  layout: Layout,
  key: string,
  options: { keep: boolean; maxEntryBytes: number },
): Promise<Download> {
  const record = await fetchRecord(client, hasher, key)
  if (typeof record === 'string') return { found: false, reason: record }
  if (record.size > options.maxEntryBytes) return { found: false, reason: 'too-large' }
  const content = await client.getContent(record.digest, record.size, hasher.stream())
  // The record is there but not its content: the server evicted it (or an upload broke off
  // between the two, which uploadEntry's order makes impossible for a correct server).
  if (content === undefined) return { found: false, reason: 'absent' }
  const metadata = record.metadata === undefined ? {} : { metadata: record.metadata }
  try {
    await local.put(key, content.chunks, metadata)
  } finally {
    await content.close()
  }
  if (!options.keep) return { found: true, entry: undefined }
  return { found: true, entry: await readBack(layout, hasher, key) }
}

/**
 * The entry just published for `key`, as Store.get would return it, or undefined if it is
 * gone already (pruned) or its files are not what they should be. Its bytes are hashed again:
 * between the put and this read, a co-user could have swapped the files.
 */
async function readBack(layout: Layout, hasher: Hasher, key: string): Promise<Entry | undefined> {
  const entry = await readLocalEntry(layout, hasher.algorithm, key)
  if (entry === undefined) return undefined
  try {
    const { record } = entry
    const data = await readLocalBytes(entry)
    if (data === undefined || hasher.bytes(data) !== record.digest) return undefined
    return {
      key,
      size: record.size,
      storedSize: record.codec === 'none' ? record.size : record.stored,
      digest: record.digest,
      metadata: record.metadata,
      time: new Date(record.time),
      data,
    }
  } finally {
    await entry.close()
  }
}

async function fetchRecord(
  client: HttpCache,
  hasher: Hasher,
  key: string,
): Promise<RemoteRecord | 'absent' | 'other-version' | 'other-algorithm'> {
  const bytes = await client.getSmall('ac', key, REMOTE_RECORD_MAX_BYTES)
  if (bytes === undefined) return 'absent'
  const record = decodeRemoteRecord(bytes, key, hasher.algorithm)
  if (typeof record !== 'string') return record
  if (record === 'other-version' || record === 'other-algorithm') return record
  throw new RemoteFailure('ERR_CAIRN_REMOTE_CORRUPT', `GET ${client.url('ac', key)}`, describeProblem(record))
}

function describeProblem(problem: Exclude<RemoteRecordProblem, 'other-version' | 'other-algorithm'>): string {
  return problem === 'other-key'
    ? 'the record is for another key'
    : 'the body is not a Cairn remote record (damaged, or written by another tool)'
}

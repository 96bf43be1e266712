import type { Hasher } from '@cairn/hash'
import type { Entry, Store } from '@cairn/store'
import { RemoteFailure } from './failure.js'
import type { HttpCache } from './http-cache.js'
import {
  decodeRemoteRecord,
  REMOTE_RECORD_MAX_BYTES,
  type RemoteRecord,
  type RemoteRecordProblem,
} from './remote-record.js'

/** What a download found. `entry` (with its data) is set when the caller asked to keep the bytes. */
export type Download =
  | { found: true; entry: Entry | undefined }
  /** No record, or a record whose content the server no longer has: a plain miss. */
  | { found: false; reason: 'absent' | 'other-version' | 'other-algorithm' }

/**
 * Fetches the entry for `key` from the remote and publishes it in `local` with the store's own
 * put, so it is published with the same link protocol as any other entry. The content is
 * checked against the record's size and digest before the put publishes it: bytes from the
 * network are never trusted. With `keep`, the bytes are collected in memory and returned as the
 * Entry (for `get`, which returns them anyway); without, they stream to the store's temp file.
 *
 * @throws {RemoteFailure} for a failed request, a damaged record (ERR_CAIRN_REMOTE_CORRUPT) or
 *   content that is not what the record says.
 * @throws {CairnError} if publishing locally fails (ERR_CAIRN_IO: disk full, permissions).
 */
export async function downloadEntry(
  client: HttpCache,
  hasher: Hasher,
  local: Store,
  key: string,
  keep: boolean,
): Promise<Download> {
  const record = await fetchRecord(client, hasher, key)
  if (typeof record === 'string') return { found: false, reason: record }
  const content = await client.getContent(record.digest, record.size, hasher.stream())
  // The record is there but not its content: the server evicted it (or an upload broke off
  // between the two, which uploadEntry's order makes impossible for a correct server).
  if (content === undefined) return { found: false, reason: 'absent' }
  const metadata = record.metadata === undefined ? {} : { metadata: record.metadata }
  let data: Buffer | undefined
  try {
    if (keep) {
      const parts: Uint8Array[] = []
      for await (const chunk of content.chunks) parts.push(chunk)
      data = Buffer.concat(parts, record.size)
      await local.put(key, data, metadata)
    } else {
      await local.put(key, content.chunks, metadata)
    }
  } finally {
    await content.close()
  }
  if (data === undefined) return { found: true, entry: undefined }
  return {
    found: true,
    entry: {
      key,
      size: record.size,
      digest: record.digest,
      metadata: record.metadata,
      time: new Date(record.time),
      data,
    },
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

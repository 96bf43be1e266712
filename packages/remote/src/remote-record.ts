/**
 * The remote entry record: the bytes Cairn stores at `<url>/ac/<key>` (docs/FORMAT.md, "Remote
 * protocol"). One line of UTF-8 JSON, properties in this order:
 *
 *     {"cairnRemote":1,"key":"3fa1…","algorithm":"sha256","digest":"9c04…","size":5,
 *      "time":1795583112073,"metadata":{"exit":0}}
 *
 * JSON rather than the local record's binary layout so that other tools (a dashboard, a script
 * with curl and jq) can read it; the content itself is never inside it, even when small, so
 * every record has one shape and `cas/` holds every byte under its digest.
 */

import { type Algorithm, DIGEST_LENGTH } from '@cairn/hash'
import { encodeMetadata, type JsonValue, METADATA_MAX_BYTES } from '@cairn/store'

/** Version of the remote record. A reader treats any other version as a miss. */
export const REMOTE_FORMAT_VERSION = 1

/** No valid remote record is larger: metadata's limit plus room for the other fields. */
export const REMOTE_RECORD_MAX_BYTES = METADATA_MAX_BYTES + 1024

/** What a remote record says about its entry. */
export interface RemoteRecord {
  key: string
  algorithm: Algorithm
  /** Digest of the content, which is at `cas/<digest>`. */
  digest: string
  size: number
  /** When the entry was created on the machine that uploaded it, ms since the epoch. */
  time: number
  metadata: JsonValue | undefined
}

export function encodeRemoteRecord(record: RemoteRecord): Buffer {
  const fields = [
    `"cairnRemote":${REMOTE_FORMAT_VERSION}`,
    `"key":${JSON.stringify(record.key)}`,
    `"algorithm":${JSON.stringify(record.algorithm)}`,
    `"digest":${JSON.stringify(record.digest)}`,
    `"size":${record.size}`,
    `"time":${record.time}`,
  ]
  if (record.metadata !== undefined) fields.push(`"metadata":${JSON.stringify(record.metadata)}`)
  return Buffer.from(`{${fields.join(',')}}`, 'utf8')
}

/** Why a remote record cannot be used; each is a miss. */
export type RemoteRecordProblem =
  /** Not JSON, a field missing or of the wrong type: a damaged or foreign document. */
  | 'bad-record'
  /** Written by another version of this format. */
  | 'other-version'
  /** Written by a store with another digest algorithm, whose content this store cannot check. */
  | 'other-algorithm'
  /** The document names another key: the server answered for the wrong name. */
  | 'other-key'

/**
 * Parses a remote record fetched for `key`, for a store using `algorithm`. Never throws,
 * whatever the bytes: they come from the network.
 */
export function decodeRemoteRecord(
  bytes: Uint8Array,
  key: string,
  algorithm: Algorithm,
): RemoteRecord | RemoteRecordProblem {
  if (bytes.length > REMOTE_RECORD_MAX_BYTES) return 'bad-record'
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'))
  } catch {
    return 'bad-record'
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'bad-record'
  const fields = parsed as Record<string, unknown>
  if (!('cairnRemote' in fields)) return 'bad-record'
  if (fields.cairnRemote !== REMOTE_FORMAT_VERSION) return 'other-version'
  if (fields.key !== key) return typeof fields.key === 'string' ? 'other-key' : 'bad-record'
  if (fields.algorithm !== algorithm) {
    return fields.algorithm === 'xxh128' || fields.algorithm === 'sha256' ? 'other-algorithm' : 'bad-record'
  }
  const { digest, size, time, metadata } = fields
  if (
    typeof digest !== 'string' ||
    digest.length !== DIGEST_LENGTH[algorithm] ||
    !/^[0-9a-f]+$/.test(digest)
  ) {
    return 'bad-record'
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return 'bad-record'
  if (typeof time !== 'number' || !Number.isFinite(time)) return 'bad-record'
  // Metadata must be what the local store accepts, checked by the store's own rule: JSON.parse
  // reads `1e999` as Infinity and nests as deep as the bytes go, and publishing such metadata
  // would throw (ERR_CAIRN_INVALID_METADATA, or a RangeError in JSON.stringify), not miss.
  if (metadata !== undefined && !isStorableMetadata(metadata)) return 'bad-record'
  return { key, algorithm, digest, size, time, metadata: metadata as JsonValue | undefined }
}

function isStorableMetadata(metadata: unknown): boolean {
  try {
    encodeMetadata(metadata)
    return true
  } catch {
    // ERR_CAIRN_INVALID_METADATA: not JSON, too deep, or over METADATA_MAX_BYTES.
    return false
  }
}

import type { FileHandle } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import type { Hasher } from '@cairn/hash'
import { CairnError } from '@cairn/store'
import type { BodySource, HttpCache } from './http-cache.js'
import { type LocalEntry, openLocalContent } from './local-entry.js'
import { encodeRemoteRecord } from './remote-record.js'

/**
 * Content at least this large is looked for (HEAD) before it is sent: equal outputs of
 * different runs share a digest, and a HEAD costs a round trip where a PUT of 64 KiB costs
 * about as much. Smaller content is sent without asking.
 */
export const HEAD_FIRST_BYTES = 64 * 1024

/** How much of a content file is read per chunk of an upload. */
const CHUNK_BYTES = 256 * 1024

/**
 * Thrown when the local bytes are not what their record says (damaged on disk, or changed by a
 * co-user while being sent). Not a remote failure: the upload is dropped, the remote is not
 * blamed, and the server never received the whole body (see fileBody).
 */
export class DamagedLocalContent extends Error {
  constructor(key: string, detail: string) {
    super(`the local content of ${key} ${detail}; it is not uploaded`)
    this.name = 'DamagedLocalContent'
  }
}

/**
 * Uploads one local entry: its content to `cas/<digest>` first, then its record to `ac/<key>`,
 * so a remote reader that finds the record finds its content (a server that loses content
 * later, by its own eviction, is a miss for the reader, who checks). `skipIfPresent` first
 * asks whether the record is there, for an entry this machine did not just create (it may have
 * come from the remote, or have been uploaded by an earlier run).
 *
 * The content is read from the descriptor `entry` holds (opened without following symlinks)
 * and hashed while it is sent: bytes that are not the record's digest never become the
 * remote's `cas/<digest>`, whatever happened to the local file. A compressed (framed) content
 * file is decompressed as it is sent: the remote's `cas/` holds raw bytes (Bazel's protocol),
 * so stores with and without compression share one remote.
 *
 * @returns false when the record was already there and nothing was sent.
 * @throws {RemoteFailure} if a request failed; the entry may then be half uploaded (content
 *   without record), which readers never see as an entry.
 * @throws {DamagedLocalContent} if the local bytes do not match the record.
 */
export async function uploadEntry(
  client: HttpCache,
  hasher: Hasher,
  key: string,
  entry: LocalEntry,
  skipIfPresent: boolean,
): Promise<boolean> {
  if (skipIfPresent && (await client.has('ac', key))) return false
  const { record } = entry
  const contentThere = record.size >= HEAD_FIRST_BYTES && (await client.has('cas', record.digest))
  if (!contentThere) {
    // fetch reports a body stream that failed as a network error: keep our own reason.
    let damage: DamagedLocalContent | undefined
    const body = checkedBody(key, hasher, entry, (error) => {
      damage = error
    })
    try {
      await client.put('cas', record.digest, record.size, body)
    } catch (error) {
      throw damage ?? error
    }
  }
  const document = encodeRemoteRecord({
    key,
    algorithm: hasher.algorithm,
    digest: record.digest,
    size: record.size,
    time: record.time,
    metadata: record.metadata,
  })
  await client.put('ac', key, document.length, () => document)
  return true
}

/**
 * The entry's content as a request body whose bytes are checked against the record's digest.
 * Inline content is checked before it is sent; a content file is checked as it is read (see
 * fileBody), and a framed one as it is decompressed (see decodedBody).
 *
 * @throws {DamagedLocalContent} for damaged inline content; a damaged file fails its stream
 *   and is passed to `report` first.
 */
function checkedBody(
  key: string,
  hasher: Hasher,
  entry: LocalEntry,
  report: (error: DamagedLocalContent) => void,
): BodySource {
  const { record, content } = entry
  if (record.inline !== undefined) {
    const inline = record.inline
    if (inline.length !== record.size || hasher.bytes(inline) !== record.digest) {
      throw new DamagedLocalContent(key, 'does not match its digest')
    }
    return () => inline
  }
  if (content === undefined) throw new DamagedLocalContent(key, 'is missing')
  const damaged = (detail: string) => {
    const error = new DamagedLocalContent(key, detail)
    report(error)
    return error
  }
  if (record.codec !== 'none') {
    return (progress) =>
      decodedBody(
        () => openLocalContent({ ...entry, content }),
        record.size,
        record.digest,
        hasher,
        progress,
        damaged,
      )
  }
  return (progress) => fileBody(content.handle, record.size, record.digest, hasher, progress, damaged)
}

/**
 * The content file open at `handle` as a request body of `size` bytes, read by position one
 * chunk per pull (memory stays bounded; each attempt of a retried PUT starts at byte 0), and
 * hashed as it goes. The chunk that completes `size` is held back until the digest is known: if
 * it is not `expected`, the stream fails instead, so the server sees a body shorter than its
 * Content-Length and stores nothing (nginx, bazel-remote and any server that checks the length
 * drop a cut-off PUT). `damaged` turns what was wrong into the stream's error (and lets the
 * caller tell it from a network failure, which is how fetch reports it).
 */
function fileBody(
  handle: FileHandle,
  size: number,
  expected: string,
  hasher: Hasher,
  progress: (bytes: number) => void,
  damaged: (detail: string) => Error,
): ReadableStream<Uint8Array> {
  const digest = hasher.stream()
  let position = 0
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, detail: string): void => {
    controller.error(damaged(detail))
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const wanted = Math.min(CHUNK_BYTES, size - position)
      const buffer = Buffer.allocUnsafe(wanted)
      let read = 0
      while (read < wanted) {
        const { bytesRead } = await handle.read(buffer, read, wanted - read, position + read)
        if (bytesRead === 0) return fail(controller, `was cut short at ${position + read} of ${size} bytes`)
        read += bytesRead
      }
      position += read
      digest.update(buffer)
      if (position === size) {
        const found = digest.digest()
        if (found !== expected) return fail(controller, `hashes to ${found}, not to its digest ${expected}`)
      }
      progress(read)
      controller.enqueue(buffer)
      if (position === size) controller.close()
    },
  })
}

/**
 * A compressed content file as a request body of its `size` original bytes: `open` gives the
 * decompressing stream (openLocalContent, from the descriptor, bounded: it fails rather than
 * emit a byte past `size`), pulled one chunk at a time (memory stays bounded; each attempt of a
 * retried PUT opens a new one from byte 0), hashed as it goes. As in fileBody, the chunk that
 * completes `size` is sent only once the digest is known to be `expected`; a stream that does
 * not decode, or decodes to other bytes, fails the body short of its Content-Length.
 */
function decodedBody(
  open: () => Readable,
  size: number,
  expected: string,
  hasher: Hasher,
  progress: (bytes: number) => void,
  damaged: (detail: string) => Error,
): ReadableStream<Uint8Array> {
  const digest = hasher.stream()
  let position = 0
  let source: Readable | undefined
  let chunks: AsyncIterator<Buffer> | undefined
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, detail: string): void => {
    source?.destroy()
    controller.error(damaged(detail))
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      source ??= open()
      chunks ??= source[Symbol.asyncIterator]()
      let next: IteratorResult<Buffer>
      try {
        next = await chunks.next()
      } catch (error) {
        // The decoder's verdict on the file; anything else (EIO) fails the body as it is.
        if (error instanceof CairnError && error.code === 'ERR_CAIRN_CORRUPT') {
          return fail(controller, `is damaged compressed content: ${error.message}`)
        }
        throw error
      }
      if (next.done) return fail(controller, `decompressed to ${position} of ${size} bytes`)
      const chunk = next.value
      position += chunk.length
      digest.update(chunk)
      if (position === size) {
        const found = digest.digest()
        if (found !== expected) return fail(controller, `hashes to ${found}, not to its digest ${expected}`)
      }
      progress(chunk.length)
      controller.enqueue(chunk)
      if (position === size) {
        // Whatever the stream holds past `size` is not sent; the decoder is not waited for.
        source.destroy()
        controller.close()
      }
    },
    cancel() {
      source?.destroy()
    },
  })
}

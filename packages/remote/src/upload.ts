import { open } from 'node:fs/promises'
import type { Algorithm } from '@cairn/hash'
import type { BodySource, HttpCache } from './http-cache.js'
import type { LocalEntry } from './local-entry.js'
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
 * Uploads one local entry: its content to `cas/<digest>` first, then its record to `ac/<key>`,
 * so a remote reader that finds the record finds its content (a server that loses content
 * later, by its own eviction, is a miss for the reader, who checks). `skipIfPresent` first
 * asks whether the record is there, for an entry this machine did not just create (it may have
 * come from the remote, or have been uploaded by an earlier run).
 *
 * @returns false when the record was already there and nothing was sent.
 * @throws {RemoteFailure} if a request failed; the entry may then be half uploaded (content
 *   without record), which readers never see as an entry.
 */
export async function uploadEntry(
  client: HttpCache,
  key: string,
  algorithm: Algorithm,
  entry: LocalEntry,
  skipIfPresent: boolean,
): Promise<boolean> {
  if (skipIfPresent && (await client.has('ac', key))) return false
  const { record, contentPath } = entry
  const contentThere = record.size >= HEAD_FIRST_BYTES && (await client.has('cas', record.digest))
  if (!contentThere) {
    const inline = record.inline
    const body: BodySource =
      inline !== undefined ? () => inline : (progress) => fileBody(contentPath as string, progress)
    await client.put('cas', record.digest, record.size, body)
  }
  const document = encodeRemoteRecord({
    key,
    algorithm,
    digest: record.digest,
    size: record.size,
    time: record.time,
    metadata: record.metadata,
  })
  await client.put('ac', key, document.length, () => document)
  return true
}

/**
 * A content file as a request body, read one chunk per pull, so memory stays bounded and
 * `progress` hears of every chunk the connection takes. The file is immutable while it exists
 * (docs/DESIGN.md); if the GC removes it first, opening fails and so does the upload.
 */
function fileBody(path: string, progress: (bytes: number) => void): ReadableStream<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  return new ReadableStream<Uint8Array>({
    async start() {
      handle = await open(path, 'r')
    },
    async pull(controller) {
      const file = handle as NonNullable<typeof handle>
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES)
      let bytesRead: number
      try {
        ;({ bytesRead } = await file.read(buffer, 0, CHUNK_BYTES, null))
      } catch (error) {
        handle = undefined
        await file.close().catch(() => {})
        throw error
      }
      if (bytesRead === 0) {
        handle = undefined
        await file.close()
        controller.close()
        return
      }
      progress(bytesRead)
      controller.enqueue(buffer.subarray(0, bytesRead))
    },
    async cancel() {
      await handle?.close()
      handle = undefined
    },
  })
}

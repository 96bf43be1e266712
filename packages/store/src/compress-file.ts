/**
 * Compressing a stream put's temp file into a framed temp file, in bounded memory, for content
 * over the store's compression threshold. The raw temp file is read from a descriptor opened
 * without following symlinks and checked to be the very file the put wrote (its inode and size),
 * so a co-user who swaps the name in tmp/ cannot get other bytes stored under the digest.
 */

import { pipeline } from 'node:stream/promises'
import { createCompressor } from './codec.js'
import type { CompressionSettings } from './compression.js'
import { maxFramedBytes } from './compression.js'
import type { StoreContext } from './context.js'
import { ioError } from './errors.js'
import { CONTENT_FRAME_HEADER_BYTES, encodeContentFrameHeader } from './frame.js'
import { createReadStream } from './fs.js'
import { createTemp } from './publish.js'
import { closeQuietly, openForReading } from './read.js'
import { unlinkInStore } from './safety.js'
import { close, fstat, fsync, type Protocol, write } from './steps.js'

type Runner = <T>(protocol: Protocol<T>) => Promise<T>

/** Thrown inside the pipeline to stop compressing once the result can no longer be kept. */
const NOT_WORTH_IT = Symbol('not worth it')

/**
 * Compresses the raw temp file `tempPath` (`size` bytes, inode `ino`) into a new framed temp file.
 * Returns its path and size, or undefined when compression does not save at least 10 % (it
 * stops as soon as the output passes that) or the raw file is not the one written: then the raw
 * file is published as it is. The raw temp file stays; the caller removes whichever is unused.
 */
export async function compressTempFile(
  ctx: StoreContext,
  settings: CompressionSettings & { codec: 'gzip' | 'brotli' | 'zstd' },
  tempPath: string,
  size: number,
  ino: number,
  run: Runner,
): Promise<{ tempPath: string; stored: number } | undefined> {
  const input = await run(openForReading(ctx, tempPath))
  if (typeof input === 'string') return undefined
  const stat = await run(fstat(input)).catch(() => undefined)
  if (stat === undefined || stat.kind !== 'file' || stat.ino !== ino || stat.size !== size) {
    await run(closeQuietly(input))
    return undefined
  }
  const output = await run(createTemp(ctx))
  let stored = CONTENT_FRAME_HEADER_BYTES
  const limit = maxFramedBytes(size)
  let kept = false
  let closed = false
  // Set before throwing NOT_WORTH_IT: pipeline may reject with the AbortError of the stream it
  // destroyed rather than with what the last stage threw, so the symbol alone is not seen.
  let notWorthIt = false
  try {
    await run(write(output.fd, encodeContentFrameHeader(settings.codec, size)))
    await pipeline(
      createReadStream('', { fd: input, autoClose: false, start: 0, end: size - 1 }),
      createCompressor(settings.codec, settings.level, size),
      async (compressed: AsyncIterable<Buffer>) => {
        for await (const chunk of compressed) {
          stored += chunk.length
          if (stored > limit) {
            notWorthIt = true
            throw NOT_WORTH_IT
          }
          await run(write(output.fd, chunk))
        }
      },
    )
    if (ctx.durable) await run(fsync(output.fd))
    closed = true
    await run(close(output.fd))
    kept = true
    return { tempPath: output.path, stored }
  } catch (error) {
    if (notWorthIt) return undefined
    throw ioError(error, 'compressing into', output.path)
  } finally {
    await run(closeQuietly(input))
    if (!kept) {
      if (!closed) await run(closeQuietly(output.fd))
      await run(unlinkInStore(ctx, output.path))
    }
  }
}

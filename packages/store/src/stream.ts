/**
 * Writing a stream into a temp file while hashing it, in bounded memory: a 2 GiB file passes
 * through one chunk at a time. Only the first INLINE_MAX_BYTES + 1 bytes are kept, in case the
 * whole stream turns out small enough to be stored inline.
 */

import type { StoreContext } from './context.js'
import { CairnError, ioError } from './errors.js'
import { createTemp, type PutSource, unlinkQuietly } from './publish.js'
import { closeQuietly } from './read.js'
import { INLINE_MAX_BYTES } from './record.js'
import { close, fstat, fsync, type Protocol, write } from './steps.js'

type Runner = <T>(protocol: Protocol<T>) => Promise<T>

/**
 * Drains `source` into a new temp file. Rejects with the source's own error if it fails, with
 * the signal's reason if aborted, with ERR_CAIRN_INVALID_DATA if it yields something other than
 * bytes or strings, and with ERR_CAIRN_IO if the disk fails; in every case the temp file is gone.
 */
export async function writeStreamToTemp(
  ctx: StoreContext,
  source: AsyncIterable<unknown>,
  signal: AbortSignal | undefined,
  run: Runner,
): Promise<PutSource & { kind: 'temp'; ino: number }> {
  const { path, fd } = await run(createTemp(ctx))
  const digest = ctx.hasher.stream()
  const head: Buffer[] = []
  let size = 0
  let ino = 0
  const iterator = source[Symbol.asyncIterator]()
  const abort = abortPromise(signal)
  try {
    for (;;) {
      const next = await (abort ? Promise.race([iterator.next(), abort.promise]) : iterator.next())
      if (next.done) break
      const bytes = chunkBytes(next.value, size)
      if (bytes.length === 0) continue
      digest.update(bytes)
      // Chunks may be reused by their producer, so the few bytes kept are copied.
      if (size <= INLINE_MAX_BYTES) head.push(Buffer.from(bytes.subarray(0, INLINE_MAX_BYTES + 1 - size)))
      size += bytes.length
      await writeOrFail(run, fd, path, bytes)
    }
    signal?.throwIfAborted()
    if (ctx.durable) await run(fsync(fd)).catch((error) => Promise.reject(ioError(error, 'writing', path)))
    // The inode, so that compressing the file later reads this very file (compress-file.ts).
    ino = (await run(fstat(fd)).catch((error) => Promise.reject(ioError(error, 'writing', path)))).ino
    await run(close(fd)).catch((error) => Promise.reject(ioError(error, 'writing', path)))
  } catch (error) {
    await run(closeQuietly(fd))
    await run(unlinkQuietly(path))
    // Let the source release what it holds (a file stream closes its descriptor). Not awaited:
    // a source stalled inside an await would only finish returning once it wakes up.
    Promise.resolve(iterator.return?.()).catch(() => {})
    throw error
  } finally {
    abort?.dispose()
  }
  return {
    kind: 'temp',
    tempPath: path,
    digest: digest.digest(),
    size,
    inline: size <= INLINE_MAX_BYTES ? Buffer.concat(head) : undefined,
    ino,
  }
}

async function writeOrFail(run: Runner, fd: number, path: string, bytes: Uint8Array): Promise<void> {
  try {
    await run(write(fd, bytes))
  } catch (error) {
    throw ioError(error, 'writing', path)
  }
}

function chunkBytes(chunk: unknown, offset: number): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8')
  const found =
    chunk === null
      ? 'null'
      : typeof chunk === 'object'
        ? `an instance of ${chunk.constructor?.name ?? 'Object'}`
        : typeof chunk
  throw new CairnError(
    'ERR_CAIRN_INVALID_DATA',
    `The stream given to put yielded ${found} after ${offset} bytes; it must yield Uint8Arrays (Buffers) or strings. Nothing was stored.`,
  )
}

/** A promise that rejects when `signal` aborts, and a way to stop listening. */
function abortPromise(
  signal: AbortSignal | undefined,
): { promise: Promise<never>; dispose(): void } | undefined {
  if (!signal) return undefined
  let onAbort = () => {}
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  promise.catch(() => {})
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) }
}

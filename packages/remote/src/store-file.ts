import { constants, type FileHandle, open } from 'node:fs/promises'
import { Readable } from 'node:stream'

/**
 * How a store file is opened: never through a symlink (a co-user who can write the store could
 * swap one in for a record or a content file, and this process would read, then upload, any
 * file it can read: an SSH key), and never waiting on a FIFO (opening one to read blocks until
 * a writer comes, forever).
 */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK

/** An open regular file of the store and its size, from fstat of that same descriptor. */
export interface StoreFile {
  handle: FileHandle
  size: number
}

/**
 * Opens the store file at `path` for reading, or undefined if it is absent, a symlink, a FIFO,
 * a directory or anything else but a regular file. Everything read afterwards must come from
 * `handle`: the path may point elsewhere by then.
 */
export async function openStoreFile(path: string): Promise<StoreFile | undefined> {
  let handle: FileHandle
  try {
    handle = await open(path, READ_FLAGS)
  } catch {
    return undefined // ENOENT, ELOOP (a symlink), EACCES...: not a file this store may use
  }
  try {
    const stats = await handle.stat()
    if (stats.isFile()) return { handle, size: stats.size }
  } catch {
    // fstat failing on an open descriptor: treat as unusable.
  }
  await handle.close().catch(() => {})
  return undefined
}

/**
 * Reads exactly `size` bytes from the start of `handle`, or undefined if the file holds fewer
 * (truncated since its fstat). Reads by position, so it does not depend on the file offset.
 */
export async function readExactly(handle: FileHandle, size: number): Promise<Buffer | undefined> {
  const buffer = Buffer.allocUnsafe(size)
  let done = 0
  while (done < size) {
    const { bytesRead } = await handle.read(buffer, done, size - done, done)
    if (bytesRead === 0) return undefined
    done += bytesRead
  }
  return buffer
}

/** How much of a store file {@link readRange} reads at a time. */
const RANGE_CHUNK_BYTES = 256 * 1024

/**
 * Bytes `start` to `end` (exclusive) of the file open at `handle`, as a stream in bounded memory,
 * read by position (a retried upload opens a new one from the start). Destroying the stream
 * leaves `handle` open: its owner closes it (a file stream of the handle would close it).
 * Ends early if the file is shorter.
 */
export function readRange(handle: FileHandle, start: number, end: number): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let position = start
    while (position < end) {
      const buffer = Buffer.allocUnsafe(Math.min(RANGE_CHUNK_BYTES, end - position))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
      if (bytesRead === 0) return
      position += bytesRead
      yield buffer.subarray(0, bytesRead)
    }
  }
  return Readable.from(chunks(), { objectMode: false })
}

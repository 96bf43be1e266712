/**
 * The store's only door to the disk. Every filesystem call Cairn makes goes through here, by
 * graceful-fs, so that hundreds of concurrent operations queue on EMFILE instead of failing
 * (2,000 of 2,000 concurrent opens succeeded under `ulimit -n 64`, against 45 with plain
 * fs.promises). graceful-fs patches only the callback API, so the async driver promisifies it.
 * The sync driver calls node:fs directly: a synchronous call cannot be queued, so graceful-fs
 * adds nothing there but wrapper cost on the hottest path (getSync of a small entry).
 */

import nodeFs, { constants, type Stats } from 'node:fs'
import { promisify } from 'node:util'
import gfs from 'graceful-fs'
import type { FileStat, OpenHow, Protocol, Step } from './steps.js'

// Windows has neither flag; there, symlinks need privileges to create and FIFOs do not exist.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0
const O_NONBLOCK = constants.O_NONBLOCK ?? 0
const OPEN_FLAGS: Record<OpenHow, number> = {
  read: constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK,
  create: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
}

export function toFileStat(stats: Stats): FileStat {
  const kind = stats.isFile()
    ? 'file'
    : stats.isDirectory()
      ? 'directory'
      : stats.isSymbolicLink()
        ? 'symlink'
        : 'other'
  return { kind, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino }
}

/** Runs a protocol against the real filesystem with synchronous calls. */
export function runSync<T>(protocol: Protocol<T>, clock: () => number = Date.now): T {
  let next = protocol.next()
  while (!next.done) {
    let result: unknown
    try {
      result = performSync(next.value, clock)
    } catch (error) {
      next = protocol.throw(error)
      continue
    }
    next = protocol.next(result)
  }
  return next.value
}

/** Runs a protocol against the real filesystem with asynchronous (graceful-fs) calls. */
export async function runAsync<T>(protocol: Protocol<T>, clock: () => number = Date.now): Promise<T> {
  let next = protocol.next()
  while (!next.done) {
    let result: unknown
    try {
      result = await performAsync(next.value, clock)
    } catch (error) {
      next = protocol.throw(error)
      continue
    }
    next = protocol.next(result)
  }
  return next.value
}

/** Performs one step synchronously; for tests and tools that drive a protocol step by step. */
export function performSync(step: Step, clock: () => number = Date.now): unknown {
  switch (step.op) {
    case 'open':
      return nodeFs.openSync(step.path, OPEN_FLAGS[step.how], step.mode)
    case 'fstat':
      return toFileStat(nodeFs.fstatSync(step.fd))
    case 'read':
      return readAllSync(step.fd, step.length)
    case 'readWhole':
      return readWholeSync(step.path, step.maxLength, step.sized)
    case 'write':
      return writeAllSync(step.fd, step.data)
    case 'fsync':
      return nodeFs.fsyncSync(step.fd)
    case 'close':
      return nodeFs.closeSync(step.fd)
    case 'link':
      return nodeFs.linkSync(step.from, step.to)
    case 'copyExclusive':
      return copyExclusiveSync(step.from, step.to, step.ino)
    case 'rename':
      return nodeFs.renameSync(step.from, step.to)
    case 'copy':
      return nodeFs.copyFileSync(step.from, step.to, constants.COPYFILE_FICLONE)
    case 'chmod':
      return nodeFs.chmodSync(step.path, step.mode)
    case 'unlink':
      return nodeFs.unlinkSync(step.path)
    case 'mkdir':
      return nodeFs.mkdirSync(step.path, { recursive: true })
    case 'lstat':
      return toFileStat(nodeFs.lstatSync(step.path))
    case 'stat':
      return toFileStat(nodeFs.statSync(step.path))
    case 'utimes':
      return nodeFs.lutimesSync(step.path, step.timeMs / 1000, step.timeMs / 1000)
    case 'readdir':
      return nodeFs.readdirSync(step.path)
    case 'fsyncDir':
      return fsyncDirSync(step.path)
    case 'now':
      return clock()
    case 'sleep':
      return Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, step.ms)
  }
}

const openAsync = promisify(gfs.open)
const fstatAsync = promisify(gfs.fstat)
const readAsync = promisify(gfs.read)
const writeAsync = promisify(gfs.write)
const fsyncAsync = promisify(gfs.fsync)
const closeAsync = promisify(gfs.close)
const linkAsync = promisify(gfs.link)
const copyFileAsync = promisify(gfs.copyFile)
const renameAsync = promisify(gfs.rename)
const unlinkAsync = promisify(gfs.unlink)
const chmodAsync = promisify(gfs.chmod)
const mkdirAsync = promisify(gfs.mkdir)
const lstatAsync = promisify(gfs.lstat)
const statAsync = promisify(gfs.stat)
const lutimesAsync = promisify(gfs.lutimes)
const readdirAsync = promisify(gfs.readdir)

async function performAsync(step: Step, clock: () => number): Promise<unknown> {
  switch (step.op) {
    case 'open':
      return openAsync(step.path, OPEN_FLAGS[step.how], step.mode)
    case 'fstat':
      return toFileStat(await fstatAsync(step.fd))
    case 'read':
      return readAllAsync(step.fd, step.length)
    case 'readWhole':
      return readWholeAsync(step.path, step.maxLength, step.sized)
    case 'write':
      return writeAllAsync(step.fd, step.data)
    case 'fsync':
      return fsyncAsync(step.fd)
    case 'close':
      return closeAsync(step.fd)
    case 'link':
      return linkAsync(step.from, step.to)
    case 'copyExclusive':
      return copyExclusiveAsync(step.from, step.to, step.ino)
    case 'rename':
      return renameAsync(step.from, step.to)
    case 'copy':
      return copyFileAsync(step.from, step.to, constants.COPYFILE_FICLONE)
    case 'chmod':
      return chmodAsync(step.path, step.mode)
    case 'unlink':
      return unlinkAsync(step.path)
    case 'mkdir':
      return mkdirAsync(step.path, { recursive: true })
    case 'lstat':
      return toFileStat(await lstatAsync(step.path))
    case 'stat':
      return toFileStat(await statAsync(step.path))
    case 'utimes':
      return lutimesAsync(step.path, step.timeMs / 1000, step.timeMs / 1000)
    case 'readdir':
      return readdirAsync(step.path)
    case 'fsyncDir':
      return fsyncDirAsync(step.path)
    case 'now':
      return clock()
    case 'sleep':
      return new Promise((resolve) => setTimeout(resolve, step.ms))
  }
}

/**
 * Reads of a length not known in advance (entry records: no fstat) go into a reused scratch
 * buffer and are copied out at their real length: allocating the largest possible record per hit
 * costs more than copying the kilobyte or so it really holds. Reads of a known size (content)
 * go straight into their own buffer.
 */
const SCRATCH_BYTES = 128 * 1024
const scratchSync = Buffer.allocUnsafe(SCRATCH_BYTES)
/** Scratch buffers for async reads, one per read in flight, kept for reuse up to a few. */
const scratchAsync: Buffer[] = []
const SCRATCH_ASYNC_KEPT = 16

function readWholeSync(path: string, maxLength: number, sized: boolean): Buffer {
  // Most failed opens are misses (ENOENT), caught and turned into a result a few frames up: the
  // error's stack trace would never be read, and capturing it costs about as much as the open.
  const stackTraceLimit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  let fd: number
  try {
    fd = nodeFs.openSync(path, OPEN_FLAGS.read)
  } finally {
    Error.stackTraceLimit = stackTraceLimit
  }
  const scratch = !sized && maxLength <= SCRATCH_BYTES
  let buffer: Buffer
  let count: number
  try {
    buffer = scratch ? scratchSync : Buffer.allocUnsafe(maxLength)
    count = nodeFs.readSync(fd, buffer, 0, maxLength, 0)
  } catch (error) {
    closeQuietlySync(fd)
    throw error
  }
  closeQuietlySync(fd)
  return scratch ? copyOut(buffer, count) : buffer.subarray(0, count)
}

/** The first `count` bytes of a scratch buffer, in a buffer of their own. */
function copyOut(scratch: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(count)
  scratch.copy(out, 0, 0, count)
  return out
}

function closeQuietlySync(fd: number): void {
  try {
    nodeFs.closeSync(fd)
  } catch {
    // The descriptor is gone either way; what was read stands.
  }
}

/** Three trips to the thread pool (open, read, close) by the callback API, as graceful-fs queues them. */
function readWholeAsync(path: string, maxLength: number, sized: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gfs.open(path, OPEN_FLAGS.read, (openError, fd) => {
      if (openError) return reject(openError)
      const scratch = !sized && maxLength <= SCRATCH_BYTES
      const buffer = scratch
        ? (scratchAsync.pop() ?? Buffer.allocUnsafe(SCRATCH_BYTES))
        : Buffer.allocUnsafe(maxLength)
      gfs.read(fd, buffer, 0, maxLength, 0, (readError, count) => {
        let result: Buffer | undefined
        if (!readError) result = scratch ? copyOut(buffer, count) : buffer.subarray(0, count)
        if (scratch && scratchAsync.length < SCRATCH_ASYNC_KEPT) scratchAsync.push(buffer)
        // The bytes are in hand, so the caller need not wait for the close: it is issued now and
        // settles on its own (a failed close loses nothing: the descriptor is gone either way).
        // That saves a thread-pool round trip of latency per file.
        gfs.close(fd, ignore)
        if (result) resolve(result)
        else reject(readError)
      })
    })
  })
}

function ignore(): void {}

function readAllSync(fd: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length)
  let filled = 0
  while (filled < length) {
    const count = nodeFs.readSync(fd, buffer, filled, length - filled, filled)
    if (count === 0) break
    filled += count
  }
  return filled === length ? buffer : buffer.subarray(0, filled)
}

async function readAllAsync(fd: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length)
  let filled = 0
  while (filled < length) {
    const { bytesRead: count } = await readAsync(fd, buffer, filled, length - filled, filled)
    if (count === 0) break
    filled += count
  }
  return filled === length ? buffer : buffer.subarray(0, filled)
}

function writeAllSync(fd: number, data: Uint8Array): void {
  let written = 0
  while (written < data.length) written += nodeFs.writeSync(fd, data, written, data.length - written)
}

async function writeAllAsync(fd: number, data: Uint8Array): Promise<void> {
  let written = 0
  while (written < data.length)
    written += (await writeAsync(fd, data, written, data.length - written)).bytesWritten
}

/** Where Linux names a process's open files: opening `/proc/self/fd/<n>` opens that very file. */
const PROC_FD_DIR = '/proc/self/fd'
let procFdUsable: boolean | undefined

/**
 * Copies the first `size` bytes of the regular file open as `fd` into a new file `to` (exclusive
 * create), for materialize. The bytes come from the descriptor that was checked, never from a
 * store path that a co-user could swap for a symlink after the check (issue 13, item 3). On Linux
 * copyFile reads `/proc/self/fd/<fd>`, which names the open file itself, so the copy may still be
 * a copy-on-write clone or an in-kernel copy; elsewhere (or without /proc) it reads the descriptor
 * a chunk at a time. The caller checks the new file's size: a file grown since its check copies
 * more, and one that shrank copies less.
 */
export async function copyFromDescriptor(fd: number, to: string, size: number): Promise<void> {
  procFdUsable ??= process.platform === 'linux' && nodeFs.existsSync(PROC_FD_DIR)
  if (procFdUsable) {
    try {
      return await copyFileAsync(
        `${PROC_FD_DIR}/${fd}`,
        to,
        constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE,
      )
    } catch (error) {
      // A name already at `to` is not ours to remove.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw error
      // A /proc that refuses to reopen descriptors (some sandboxes), or a failure on the `to`
      // side, which the copy below meets again and reports.
      await unlinkAsync(to).catch(() => {})
    }
    await copyByReading(fd, to, size)
    procFdUsable = false
    return
  }
  await copyByReading(fd, to, size)
}

async function copyByReading(fd: number, to: string, size: number): Promise<void> {
  const out = await openAsync(to, OPEN_FLAGS.create | O_NOFOLLOW, 0o644)
  try {
    const chunk = Buffer.allocUnsafe(Math.min(size, 1 << 20))
    for (let position = 0; position < size; ) {
      const { bytesRead } = await readAsync(fd, chunk, 0, Math.min(chunk.length, size - position), position)
      if (bytesRead === 0) break
      await writeAllAsync(out, chunk.subarray(0, bytesRead))
      position += bytesRead
    }
  } finally {
    await closeAsync(out)
  }
}

/**
 * The `copyExclusive` step: opens `from` without following a symlink (nor blocking on a FIFO),
 * checks the descriptor is a regular file (with inode `ino` when given), and copies from it, so
 * a source swapped after the caller's checks is refused rather than copied (see steps.ts).
 */
function copyExclusiveSync(from: string, to: string, ino: number | undefined): void {
  const fd = nodeFs.openSync(from, OPEN_FLAGS.read)
  try {
    const size = checkedSource(nodeFs.fstatSync(fd), from, ino)
    if (procFdUsable !== false && process.platform === 'linux') {
      try {
        nodeFs.copyFileSync(`${PROC_FD_DIR}/${fd}`, to, constants.COPYFILE_EXCL)
        return
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw error
        try {
          nodeFs.unlinkSync(to)
        } catch {}
      }
    }
    const out = nodeFs.openSync(to, OPEN_FLAGS.create | O_NOFOLLOW, 0o644)
    try {
      const chunk = Buffer.allocUnsafe(Math.max(1, Math.min(size, 1 << 20)))
      for (let position = 0; position < size; ) {
        const count = nodeFs.readSync(fd, chunk, 0, Math.min(chunk.length, size - position), position)
        if (count === 0) break
        writeAllSync(out, chunk.subarray(0, count))
        position += count
      }
    } finally {
      nodeFs.closeSync(out)
    }
  } finally {
    nodeFs.closeSync(fd)
  }
}

async function copyExclusiveAsync(from: string, to: string, ino: number | undefined): Promise<void> {
  const fd = await openAsync(from, OPEN_FLAGS.read)
  try {
    const size = checkedSource(await fstatAsync(fd), from, ino)
    await copyFromDescriptor(fd, to, size)
  } finally {
    await closeAsync(fd)
  }
}

/** The size of a copy's source, or ESTALE if it is not a regular file (with inode `ino`). */
function checkedSource(stats: Stats, path: string, ino: number | undefined): number {
  if (stats.isFile() && (ino === undefined || stats.ino === ino)) return stats.size
  const error: NodeJS.ErrnoException = new Error(
    `ESTALE: ${path} is not the regular file that was checked (replaced since?), copyfile '${path}'`,
  )
  error.code = 'ESTALE'
  error.syscall = 'copyfile'
  error.path = path
  throw error
}

function fsyncDirSync(path: string): void {
  if (process.platform === 'win32') return
  const fd = nodeFs.openSync(path, constants.O_RDONLY)
  try {
    nodeFs.fsyncSync(fd)
  } finally {
    nodeFs.closeSync(fd)
  }
}

async function fsyncDirAsync(path: string): Promise<void> {
  if (process.platform === 'win32') return
  const fd = await openAsync(path, constants.O_RDONLY)
  try {
    await fsyncAsync(fd)
  } finally {
    await closeAsync(fd)
  }
}

/** Who owns a directory and who may write it: what safety.ts judges a store by. */
export interface Ownership {
  kind: FileStat['kind']
  /** Permission bits with the sticky bit (0o1000). */
  mode: number
  uid: number
  ino: number
}

/**
 * The owner and mode of `path` (following a symlink with `follow`), or undefined if it does not
 * exist (or a directory on its way is a file). Synchronous: called a few times when a store is opened or pruned, never per operation.
 */
export function ownershipSync(path: string, follow: boolean): Ownership | undefined {
  let stats: Stats
  try {
    stats = follow ? nodeFs.statSync(path) : nodeFs.lstatSync(path)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw error
  }
  return { kind: toFileStat(stats).kind, mode: stats.mode & 0o7777, uid: stats.uid, ino: stats.ino }
}

/** A symlink's target as written in it, for safety.ts's judgment of the links on a store's path. */
export function readLinkSync(path: string): string {
  return nodeFs.readlinkSync(path)
}

/** The canonical path of `path` (every symlink resolved), for safety.ts's look at its ancestors. */
export function realPathSync(path: string): string {
  return nodeFs.realpathSync(path)
}

/** For streaming reads of content (getStream) from a descriptor a protocol opened. */
export const createReadStream: typeof gfs.createReadStream = gfs.createReadStream

import { randomBytes } from 'node:crypto'
import { constants, type FileHandle, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { REMOTE_STATS_FILE } from '@cairn/store'
import { emptyRemoteStats, type RemoteStats } from './stats.js'

/** The counters file's name in a store directory (docs/FORMAT.md, "Remote cache"); the store reserves it. */
export { REMOTE_STATS_FILE }

/**
 * Past this size the file is rewritten as one line holding the sums. One line per process is
 * about 120 bytes, so that is every ~8,000 `cairn run`s.
 */
const COMPACT_BYTES = 1024 * 1024

const FIELDS = Object.keys(emptyRemoteStats()) as (keyof RemoteStats)[]

/** Where a store keeps the remote counters of past processes: `<dir>/remote-stats.jsonl`. */
export function remoteStatsPath(storeDir: string): string {
  return join(storeDir, REMOTE_STATS_FILE)
}

/**
 * How the file is opened: never through a symlink (every `cairn` command would append to the
 * link's target, such as a shell rc file), never waiting on a FIFO (opening one blocks until
 * the other end opens, forever); fstat of the descriptor then checks it is a regular file.
 */
const OPEN_FLAGS = constants.O_NOFOLLOW | constants.O_NONBLOCK

/** The most of the file read to sum it: 8 times the size at which it is compacted. */
const READ_MAX_BYTES = 8 * COMPACT_BYTES

let warned = false

const writeToStderr = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/**
 * The store's rules for a file written by path in its directory: Store.fileGuard() of
 * @cairn/store. `foreignOwner` set: write nothing; `check(path)` throws unless the store
 * directory is still the one opened (in a store others can write).
 */
export interface StatsFileGuard {
  readonly foreignOwner: number | undefined
  check(path: string): void
}

/**
 * Adds one process's counters to the file at `path`, for `cairn stats` to sum later. Each call
 * appends one JSON line (a single O_APPEND write, so processes finishing at once do not lose
 * each other's counts); nothing is written when every counter is 0. Never throws: counters are
 * not worth failing a build over.
 *
 * The file is opened with O_NOFOLLOW|O_NONBLOCK and used only if fstat says it is a regular
 * file with one link: a symlink, a FIFO, a hard link to another file or anything else there is
 * left alone, the counters are skipped, and `warn` hears of it once per process (default:
 * stderr). Compaction writes a temp file with a random name, created exclusively
 * (`remote-stats.jsonl.<16 hex>.tmp`), and renames it over the file. With `guard` (the store's,
 * Store.fileGuard()), nothing is written by root in another user's store, and the store
 * directory is checked right before the open and the rename.
 */
export async function recordRemoteStats(
  path: string,
  stats: RemoteStats,
  warn: (line: string) => void = writeToStderr,
  guard?: StatsFileGuard,
): Promise<void> {
  if (FIELDS.every((field) => stats[field] === 0)) return
  // Root in another user's store: the root rule of @cairn/store (its owner could redirect the
  // create below with a symlink swap of the store directory). Counters are not worth the risk.
  if (guard?.foreignOwner !== undefined) return
  const line = `${JSON.stringify(Object.fromEntries(FIELDS.map((field) => [field, stats[field]])))}\n`
  let handle: FileHandle
  try {
    guard?.check(path)
    handle = await open(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | OPEN_FLAGS, 0o666)
  } catch (error) {
    // ERR_CAIRN_UNSAFE_PATH: the store directory was swapped (guard.check); nothing written.
    // ELOOP: a symlink; ENXIO: a FIFO nobody reads; EISDIR...; ENOENT/EACCES: no store to count in.
    if (isCode(error, 'ELOOP') || isCode(error, 'ENXIO') || isCode(error, 'EISDIR')) notRegular(path, warn)
    return
  }
  let total: { stats: RemoteStats; bytes: number } | undefined
  try {
    const file = await handle.stat()
    if (!file.isFile() || file.nlink !== 1) {
      notRegular(path, warn)
      return
    }
    await handle.write(line)
    total = await sumHandle(handle)
  } catch {
    return
  } finally {
    await handle.close().catch(() => {})
  }
  if (total.bytes <= COMPACT_BYTES) return
  // A line appended between this read and the rename is lost: counters, not data.
  const temp = join(dirname(path), `${basename(path)}.${randomBytes(8).toString('hex')}.tmp`)
  try {
    const out = await open(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o666,
    )
    try {
      await out.write(`${JSON.stringify(total.stats)}\n`)
    } finally {
      await out.close()
    }
    guard?.check(path)
    await rename(temp, path)
  } catch {
    // Left as it is: the next process tries again.
    await unlink(temp).catch(() => {})
  }
}

/**
 * The sums of every process's counters recorded at `path`; zeros if there is no file, or if it
 * is not a regular file (see recordRemoteStats). Lines that do not parse (a write torn by a
 * crash) are skipped.
 */
export async function readRemoteStats(path: string): Promise<RemoteStats> {
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_RDONLY | OPEN_FLAGS)
  } catch {
    return emptyRemoteStats() // no file yet: nothing recorded
  }
  try {
    if (!(await handle.stat()).isFile()) return emptyRemoteStats()
    return (await sumHandle(handle)).stats
  } catch {
    return emptyRemoteStats()
  } finally {
    await handle.close().catch(() => {})
  }
}

function notRegular(path: string, warn: (line: string) => void): void {
  if (warned) return
  warned = true
  try {
    warn(
      `cairn: remote: ${path} is not a regular file (a symlink, a FIFO or a hard link); this process's remote counters are not recorded. Remove it and cairn creates a new one.`,
    )
  } catch {
    // A failing logger must not fail the command.
  }
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code
}

/** Reads the open file from its start (at most READ_MAX_BYTES) and sums its lines. */
async function sumHandle(handle: FileHandle): Promise<{ stats: RemoteStats; bytes: number }> {
  const size = Math.min((await handle.stat()).size, READ_MAX_BYTES)
  const buffer = Buffer.alloc(size)
  let done = 0
  while (done < size) {
    const { bytesRead } = await handle.read(buffer, done, size - done, done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  const text = buffer.subarray(0, done).toString('utf8')
  const stats = emptyRemoteStats()
  for (const line of text.split('\n')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      continue
    }
    if (typeof parsed !== 'object' || parsed === null) continue
    for (const field of FIELDS) {
      const value = (parsed as Record<string, unknown>)[field]
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) stats[field] += value
    }
  }
  return { stats, bytes: done }
}

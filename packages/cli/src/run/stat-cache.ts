import { createHash, randomBytes } from 'node:crypto'
import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { MARKER_FILE, RUN_STAT_CACHE_DIR } from '@cairn/store'

/**
 * Version of the stat cache file. A file of another version is ignored (everything is hashed)
 * and replaced by the next run that writes one.
 */
export const STAT_CACHE_VERSION = 1

/**
 * The largest stat cache file read or written: about 400,000 inputs. A larger one is ignored
 * and not written, so a run over more files than that hashes them all, as without a cache.
 */
export const STAT_CACHE_MAX_BYTES = 64 * 1024 * 1024

/**
 * How much older than the cache's write time a file's last change (ctime) must be for the cache
 * to vouch for its digest. Zero would do on one local filesystem (the kernel's clock stamps both);
 * one second covers a store and inputs on filesystems whose clocks disagree slightly (a network
 * filesystem) and costs only a re-hash of files changed in the last second.
 */
export const RACY_MARGIN_NS = 1_000_000_000n

/**
 * What a file's stat must still say for its cached digest to hold, as the cache file writes it:
 * size, mtime and ctime in nanoseconds, inode and device, tab-separated decimal. Compared as a
 * string, so that loading a cache parses no numbers.
 */
function stampOf(stat: BigIntStats): string {
  return `${stat.size}\t${stat.mtimeNs}\t${stat.ctimeNs}\t${stat.ino}\t${stat.dev}`
}

interface CachedDigest {
  stamp: string
  digest: string
}

/**
 * A local accelerator for `cairn run`, as Git's index and Go's file hash cache are: the content
 * digest of each input file the last run hashed, with the stat it had then (size, mtime and
 * ctime in nanoseconds, inode, device). A file whose stat is unchanged is not read again.
 *
 * One file per user and project root, `run-stat-cache/<digest>` in the store (docs/FORMAT.md).
 * It never reaches a key as such: a key is made from digests, and a digest comes from here only
 * when everything the stat says is what it said when the bytes were hashed.
 *
 * Why a stat vouches for the content:
 * - Any write to a file, and any `utimes` that puts its mtime back, sets its ctime to the
 *   filesystem's current time; nothing but the clock can set it back. So a file whose size,
 *   mtime, ctime, inode and device are unchanged has not been written since it was stat'ed.
 * - "Racily clean", as Git calls it: a write in the same clock tick as the stat that was cached,
 *   but after the read, would leave the stat unchanged. So a digest is cached only for a file whose
 *   ctime is older, by {@link RACY_MARGIN_NS}, than the moment this run started: the creation
 *   of the cache's own temp file, stamped by the filesystem's clock before any input is stat'ed.
 *   A file changed later than that is hashed again on every run until it is old enough.
 * - A missing, truncated, corrupt (checksum), foreign (another user's, another root, another
 *   version or algorithm), oversized, symlinked or non-regular cache file is ignored: every input
 *   is hashed, as without a cache. It is opened with O_NOFOLLOW|O_NONBLOCK and checked with fstat,
 *   so a symbolic link or a FIFO planted in its place neither redirects nor blocks the read.
 *
 * A co-user who can write the store could already poison its entries; the cache does not widen
 * that: a file that is not owned by the user running cairn is ignored, so another user's cache
 * is never read.
 */
export class StatCache {
  private entries = new Map<string, CachedDigest>()
  private readonly fresh = new Map<string, CachedDigest>()
  private changed = false
  private header = ''
  private file: string | undefined
  private saved = false
  /** Files hashed by this run (for the debug line). */
  hashed = 0

  private constructor(
    private readonly dir: string,
    private readonly root: string,
    private readonly temp: { fd: number; path: string } | undefined,
    private readonly cutoffNs: bigint,
  ) {}

  /**
   * Starts the cache of `root` in the store at `storeDir`, before any input is stat'ed: it creates
   * the temp file the cache will be written to, whose ctime, the filesystem's clock now, is the
   * cutoff for racily clean files (see the class comment). It creates `run-stat-cache` but never
   * the store itself: before the store exists there is no cache. Never throws: a cache that
   * cannot be written (read-only store) is neither written nor trusted.
   */
  static begin(storeDir: string, root: string): StatCache {
    const dir = join(storeDir, RUN_STAT_CACHE_DIR)
    try {
      // Only in a store: a mistyped --store must not gain a run-stat-cache directory.
      if (!lstatSync(join(storeDir, MARKER_FILE)).isFile()) throw new Error('not a store')
      const temp = createTemp(dir)
      return new StatCache(dir, root, temp, fstatSync(temp.fd, { bigint: true }).ctimeNs - RACY_MARGIN_NS)
    } catch {
      return new StatCache(dir, root, undefined, -1n)
    }
  }

  /** Reads the cache once the store's hash algorithm is known (it names the cache file). */
  load(algorithm: string): void {
    if (this.temp === undefined) return
    const uid = process.getuid?.() ?? -1
    this.header = JSON.stringify({ cairnRunStatCache: STAT_CACHE_VERSION, algorithm, root: this.root, uid })
    const name = createHash('sha256').update(this.header).digest('hex').slice(0, 32)
    this.file = join(this.dir, name)
    this.entries = readEntries(this.file, this.header, uid)
  }

  /** The cached digest of `path`, if `stat` is what it was when the file was hashed. */
  lookup(path: string, stat: BigIntStats): string | undefined {
    const cached = this.entries.get(path)
    if (cached === undefined) return undefined
    if (cached.stamp === stampOf(stat)) return cached.digest
    this.entries.delete(path)
    this.changed = true
    return undefined
  }

  /**
   * Records the digest of `path` hashed after `stat` was taken. It is cached only if the file
   * was last changed safely before this run started (not racily clean).
   */
  record(path: string, stat: BigIntStats, digest: string): void {
    this.hashed += 1
    if (this.temp === undefined || stat.ctimeNs >= this.cutoffNs || stat.mtimeNs >= this.cutoffNs) return
    this.fresh.set(path, { stamp: stampOf(stat), digest })
    this.changed = true
  }

  /** Drops the temp file without writing: the run stopped before its key was computed. */
  discard(): void {
    this.changed = false
    this.save()
  }

  /**
   * Writes the cache if this run learnt anything, and closes it. Never throws: the cache is an
   * accelerator, and a run that cannot write it hashes the same files again next time.
   */
  save(): void {
    const temp = this.temp
    if (temp === undefined || this.saved) return
    this.saved = true
    let open = true
    try {
      if (this.changed && this.file !== undefined) {
        let body = encode(this.header, this.merged())
        // Too many files from earlier runs: keep only this run's.
        if (body.length > STAT_CACHE_MAX_BYTES) body = encode(this.header, [...this.fresh])
        if (body.length <= STAT_CACHE_MAX_BYTES) {
          let offset = 0
          while (offset < body.length) offset += writeSync(temp.fd, body, offset)
          open = false
          closeSync(temp.fd)
          // rename replaces the file atomically, so a reader sees the old cache or the new one,
          // never a mix. No fsync: a file torn by a crash fails its checksum and is ignored.
          renameSync(temp.path, this.file)
          return
        }
      }
      open = false
      closeSync(temp.fd)
      unlinkSync(temp.path)
    } catch {
      try {
        if (open) closeSync(temp.fd)
        unlinkSync(temp.path)
      } catch {
        // Gone already; nothing else to clean up.
      }
    }
  }

  /**
   * This run's digests, then the still valid entries from earlier runs: other steps of the same
   * project hash other inputs, and each keeps its own.
   */
  private merged(): [string, CachedDigest][] {
    const out: [string, CachedDigest][] = [...this.fresh]
    for (const [path, entry] of this.entries) {
      if (!this.fresh.has(path)) out.push([path, entry])
    }
    return out
  }
}

/**
 * A new temp file in `dir` (`run-stat-cache`), which is made if missing but must be a real
 * directory: a symbolic link planted in its place is not followed.
 */
function createTemp(dir: string): { fd: number; path: string } {
  const path = join(dir, `${process.pid}-${randomBytes(4).toString('hex')}.tmp`)
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
  try {
    if (!lstatSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    // Not recursive: a store that does not exist yet gets no cache this time.
    mkdirSync(dir)
  }
  return { fd: openSync(path, flags, 0o600), path }
}

/**
 * The file: a first line `<sha256 of the rest> <length of the rest>`, then the header line, then
 * one line per file: `<path as JSON> <size> <mtimeNs> <ctimeNs> <ino> <dev> <digest>`, tab-separated.
 */
function encode(header: string, entries: [string, CachedDigest][]): Buffer {
  const lines = [header]
  for (const [path, e] of entries) {
    lines.push(`${JSON.stringify(path)}\t${e.stamp}\t${e.digest}`)
  }
  const rest = Buffer.from(`${lines.join('\n')}\n`)
  const sum = createHash('sha256').update(rest).digest('hex')
  return Buffer.concat([Buffer.from(`${sum} ${rest.length}\n`), rest])
}

/** A JSON string without escapes (JSON.stringify escapes control characters, so none is raw). */
const PLAIN_PATH_JSON = /^"[^"\\]*"$/
const DIGEST_PATTERN = /^[0-9a-f]{16,128}$/
const NUMBER_PATTERN = /^[0-9]{1,24}$/

/** The entries of the cache file, or none if it is not one this run can trust. */
function readEntries(file: string, header: string, uid: number): Map<string, CachedDigest> {
  const entries = new Map<string, CachedDigest>()
  const bytes = readBounded(file, uid)
  if (bytes === undefined) return entries
  const newline = bytes.indexOf(0x0a)
  if (newline < 0) return entries
  const [sum, length] = bytes.subarray(0, newline).toString('latin1').split(' ')
  const rest = bytes.subarray(newline + 1)
  if (String(rest.length) !== length) return entries
  if (createHash('sha256').update(rest).digest('hex') !== sum) return entries
  const lines = rest.toString('utf8').split('\n')
  if (lines[0] !== header || lines.pop() !== '') return new Map()
  for (let i = 1; i < lines.length; i++) {
    const fields = (lines[i] as string).split('\t')
    if (fields.length !== 7) return new Map()
    const [pathJson, size, mtimeNs, ctimeNs, ino, dev, digest] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    let path: unknown = pathJson.slice(1, -1)
    // Most paths need no escapes: JSON.parse only for the others.
    if (!PLAIN_PATH_JSON.test(pathJson)) {
      try {
        path = JSON.parse(pathJson)
      } catch {
        return new Map()
      }
    }
    const numbers = [size, mtimeNs, ctimeNs, ino, dev]
    if (
      typeof path !== 'string' ||
      !DIGEST_PATTERN.test(digest) ||
      !numbers.every((n) => NUMBER_PATTERN.test(n))
    ) {
      return new Map()
    }
    entries.set(path, { stamp: `${size}\t${mtimeNs}\t${ctimeNs}\t${ino}\t${dev}`, digest })
  }
  return entries
}

/**
 * The bytes of `file` if it is a regular file owned by `uid` and not over the size limit:
 * opened without following a link and without blocking (a FIFO opens at once and fails the
 * fstat check), read from that descriptor.
 */
function readBounded(file: string, uid: number): Buffer | undefined {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return undefined
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile() || stat.uid !== uid || stat.size > STAT_CACHE_MAX_BYTES) return undefined
    // One byte more than fstat says, to tell a file that grew since.
    const buffer = Buffer.allocUnsafe(stat.size + 1)
    let length = 0
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null)
      if (read === 0) break
      length += read
    }
    return length === stat.size ? buffer.subarray(0, length) : undefined
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

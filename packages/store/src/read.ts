/**
 * Reading an entry. The promise readers rely on: the result is either the complete, correct
 * entry or a miss. Every way an entry can be absent or bad (no record, a torn or foreign record,
 * a symlink, a FIFO, missing or truncated content, a digest mismatch, a file held by another
 * process on Windows) ends in {@link missing}, which counts it, cleans it when it is really
 * corrupt, and returns the miss. Only failures that are the caller's to fix (permissions,
 * descriptor exhaustion) are thrown, as CairnError.
 */

import { constants } from 'node:buffer'
import { canDecode } from './codec.js'
import type { StoreContext } from './context.js'
import { errnoOf, ioError } from './errors.js'
import { CONTENT_FRAME_HEADER_BYTES, readContentFrameHeader } from './frame.js'
import { originalContent } from './original-content.js'
import { decodeRecord, type EntryRecord, RECORD_MAX_BYTES } from './record.js'
import { checkDirectories } from './safety.js'
import {
  close,
  type FileStat,
  fstat,
  lstat,
  now,
  type Protocol,
  read,
  sleep,
  unlink,
  utimes,
} from './steps.js'

/**
 * How much of an entry to read: `data` reads the content; `open` leaves the content file open
 * for streaming or copying (the caller closes `fd`, and reads only from it, never again by path);
 * `info` only checks that the content exists with the right size. All but `info` are uses of the
 * entry and refresh its last-use time: an entry a build only ever materializes must not look
 * unused to the GC.
 */
export type ReadDepth = 'data' | 'open' | 'info'

export type MissReason =
  /** No entry under this key. Not corruption. */
  | 'absent'
  /** The file is held by another process (Windows only), still after retries. Not corruption. */
  | 'busy'
  | 'not-a-file'
  | 'bad-record'
  | 'other-version'
  | 'content-missing'
  | 'content-size'
  | 'content-digest'
  /**
   * A framed (compressed) content file that is not what its record says: a bad frame header, a
   * codec or size other than the record's, a stream that does not decode, or decodes to more or
   * fewer bytes than the entry's size (a bomb stops at size + 1). Corruption.
   */
  | 'content-frame'
  /** Content compressed with a codec this process cannot decode (zstd before Node 22.15). Not corruption. */
  | 'codec-unavailable'
  /**
   * Compressed content too large to decompress into one Buffer (Node's limit, 4 GiB on 64-bit):
   * not corruption; getStream and materialize read it.
   */
  | 'too-large'

export type ReadOutcome =
  | {
      found: true
      record: EntryRecord
      /** The content: always for inline entries, else only with depth `data`. */
      data: Buffer | undefined
      /** Where the content lives, unless it is inline. */
      contentPath: string | undefined
      /** With depth `open` and content not inline: the open content file, for the caller to close. */
      fd: number | undefined
    }
  | { found: false; reason: MissReason }

/**
 * In copy mode (no hard links) a file at its final name may still be being written, so a reader
 * leaves alone a bad file younger than this; a later reader or the GC removes it.
 */
export const COPY_MODE_GRACE_MS = 10_000

/** Retries, and the waits between them, for a file held open by another process on Windows. */
const WINDOWS_BUSY_WAITS_MS = [2, 10, 50]

/** The largest Buffer Node can make: decompressing more into memory is impossible. */
const MAX_LENGTH = constants.MAX_LENGTH

/** A file that has been opened and read whole, with what fstat said about it. */
interface ReadFile {
  bytes: Buffer
  stat: FileStat
}

/** A file the reader looked at and may clean up if it proves corrupt. */
interface Suspect {
  path: string
  stat: FileStat | undefined
}

/**
 * Reads the entry for `key` (already validated). With depth `info` the content is not read, only
 * checked to exist with the right size. A hit refreshes the entry's last-use time (its mtime)
 * when it is older than the store's touch interval.
 */
export function* readEntry(ctx: StoreContext, key: string, depth: ReadDepth): Protocol<ReadOutcome> {
  // The fast path (issue 14), written inline: each generator layer costs about 0.1 µs per step,
  // and a sync hit of a small entry is a few µs. The record comes in three calls (open, one read
  // of up to the largest record plus one byte, close) with no fstat, and content over 4 KiB the
  // same way (its size plus one byte, which tells a file that is too long). The record's own
  // lengths stand in for fstat: a record of exactly the length its header declares, and content
  // of exactly the size the record gives, are what the careful path would accept too. Only hits
  // and plain absences (ENOENT) are decided here; anything else (a short or odd read, a FIFO or
  // device, a directory, a bad record, a wrong size or digest, any other error) goes to
  // readEntryCarefully, which reads the entry again, judges it with fstat and cleans it up
  // exactly as before.
  const entryPath = ctx.layout.entryPath(key)
  let bytes: Buffer
  try {
    bytes = (yield {
      op: 'readWhole',
      path: entryPath,
      maxLength: RECORD_MAX_BYTES + 1,
      sized: false,
    }) as Buffer
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return { found: false, reason: 'absent' }
    return yield* readEntryCarefully(ctx, key, depth)
  }
  const record = decodeRecord(bytes, ctx.digestLength)
  if (typeof record === 'string') return yield* readEntryCarefully(ctx, key, depth)

  let data: Buffer | undefined
  let contentPath: string | undefined
  let fd: number | undefined
  if (record.inline) {
    data = record.inline
  } else {
    contentPath = ctx.layout.contentPath(record.digest)
    // A raw entry costs one comparison more than before compression existed (issue 14).
    const framed = record.codec !== 'none'
    if (framed && (!canDecode(record.codec) || (depth === 'data' && record.size >= MAX_LENGTH)))
      return yield* readEntryCarefully(ctx, key, depth)
    if (depth === 'data') {
      const content = yield* readQuickly(contentPath, record.stored + 1, true)
      if (content === undefined || content.length !== record.stored)
        return yield* readEntryCarefully(ctx, key, depth)
      data = originalContent(record, content)
      if (data === undefined) return yield* readEntryCarefully(ctx, key, depth)
    } else if (depth === 'open') {
      const opened = yield* openContent(ctx, contentPath, record.stored)
      if (typeof opened === 'string') return yield* readEntryCarefully(ctx, key, depth)
      if (framed && !(yield* frameHeaderMatches(opened, record))) {
        yield* closeQuietly(opened)
        return yield* readEntryCarefully(ctx, key, depth)
      }
      fd = opened
    } else if (yield* checkContent(ctx, contentPath, record.stored)) {
      return yield* readEntryCarefully(ctx, key, depth)
    }
  }
  if (data && ctx.verify === 'hash' && ctx.hasher.bytes(data) !== record.digest) {
    return yield* readEntryCarefully(ctx, key, depth)
  }
  if (depth !== 'info') {
    // touch() without the record's fstat: an entry created (by the record's own time) less than
    // a touch interval ago has a last use at least that recent, so it needs no look at all. An
    // older one, or one whose time is ahead of this clock (a writer with a skewed clock, a forged
    // record), costs an lstat to learn its mtime, as before.
    const time = (yield { op: 'now' }) as number
    const age = time - record.time
    if (ctx.touchInterval === 0 || !(age >= 0 && age < ctx.touchInterval)) {
      yield* touchByPath(ctx, entryPath, time)
    }
  }
  return { found: true, record, data, contentPath, fd }
}

/**
 * Whether the content file at `path`, which is not what `record` describes, is this content in
 * its other form: raw when the record says compressed, or a frame of this content's size (another
 * codec) when it says raw or another frame. Such a file is another entry's, published by a writer
 * that got there first (an older Cairn that did not look, or a republish after a GC), and is good;
 * only this record is stale, and only it is removed. Anything else is damage. Read from a checked
 * descriptor: a regular file, its size, and its first 16 bytes.
 */
function* holdsOtherForm(ctx: StoreContext, path: string, record: EntryRecord): Protocol<boolean> {
  const fd = yield* openForReading(ctx, path)
  if (typeof fd === 'string') return false
  try {
    const stat = yield* fstat(fd)
    if (stat.kind !== 'file') return false
    if (stat.size === record.size) return record.codec !== 'none'
    if (stat.size >= record.size) return false
    const header = readContentFrameHeader(yield* read(fd, CONTENT_FRAME_HEADER_BYTES))
    return (
      header !== undefined &&
      header.size === record.size &&
      (header.codec !== record.codec || stat.size !== record.stored)
    )
  } catch {
    return false
  } finally {
    yield* closeQuietly(fd)
  }
}

/** Whether the open framed content file `fd` starts with the frame header its record describes. */
function* frameHeaderMatches(fd: number, record: EntryRecord): Protocol<boolean> {
  let bytes: Buffer
  try {
    bytes = yield* read(fd, CONTENT_FRAME_HEADER_BYTES)
  } catch {
    return false
  }
  const header = readContentFrameHeader(bytes)
  return header !== undefined && header.codec === record.codec && header.size === record.size
}

/** The content file in one readWhole step; undefined for anything the careful path must judge. */
function* readQuickly(path: string, maxLength: number, sized: boolean): Protocol<Buffer | undefined> {
  try {
    return (yield { op: 'readWhole', path, maxLength, sized }) as Buffer
  } catch {
    // Absent content is a corrupt entry (the careful path removes the record); the rest, too,
    // is for it to judge.
    return undefined
  }
}

/**
 * The careful read, the only one before issue 14: open, fstat (a regular file, of an acceptable
 * size), read, close, for the record and then the content. Every miss other than a plain
 * absence is judged here, and the suspect files cleaned by inode.
 */
function* readEntryCarefully(ctx: StoreContext, key: string, depth: ReadDepth): Protocol<ReadOutcome> {
  const entryPath = ctx.layout.entryPath(key)
  const entry = yield* readWholeFile(ctx, entryPath, (size) => size <= RECORD_MAX_BYTES, 'bad-record')
  if (typeof entry === 'string') return yield* missing(ctx, entry, [{ path: entryPath, stat: undefined }])
  const suspects: Suspect[] = [{ path: entryPath, stat: entry.stat }]

  const record = decodeRecord(entry.bytes, ctx.digestLength)
  if (typeof record === 'string') return yield* missing(ctx, record, suspects)

  let data: Buffer | undefined
  let contentPath: string | undefined
  let fd: number | undefined
  if (record.inline) {
    data = record.inline
  } else {
    contentPath = ctx.layout.contentPath(record.digest)
    const framed = record.codec !== 'none'
    // Nothing is wrong with the entry; this process just cannot read it. Left for one that can.
    if (framed && !canDecode(record.codec)) return yield* missing(ctx, 'codec-unavailable', [])
    if (framed && depth === 'data' && record.size >= MAX_LENGTH) return yield* missing(ctx, 'too-large', [])
    if (depth === 'open') {
      const opened = yield* openContent(ctx, contentPath, record.stored)
      if (typeof opened === 'string') {
        if (opened !== 'absent' && opened !== 'busy' && !(yield* holdsOtherForm(ctx, contentPath, record)))
          suspects.push({ path: contentPath, stat: undefined })
        return yield* missing(ctx, opened === 'absent' ? 'content-missing' : opened, suspects)
      }
      if (framed && !(yield* frameHeaderMatches(opened, record))) {
        const stat = yield* fstat(opened)
        yield* closeQuietly(opened)
        if (!(yield* holdsOtherForm(ctx, contentPath, record))) suspects.push({ path: contentPath, stat })
        return yield* missing(ctx, 'content-frame', suspects)
      }
      fd = opened
    } else if (depth === 'data') {
      const content = yield* readWholeFile(ctx, contentPath, (size) => size === record.stored, 'content-size')
      if (typeof content === 'string') {
        // The content file itself is only suspect when it exists but is wrong.
        const contentBad =
          content !== 'absent' && content !== 'busy' && !(yield* holdsOtherForm(ctx, contentPath, record))
        if (contentBad) suspects.push({ path: contentPath, stat: undefined })
        return yield* missing(ctx, content === 'absent' ? 'content-missing' : content, suspects)
      }
      data = originalContent(record, content.bytes)
      if (data === undefined && (yield* holdsOtherForm(ctx, contentPath, record)))
        return yield* missing(ctx, 'content-frame', suspects)
      suspects.push({ path: contentPath, stat: content.stat })
      if (data === undefined) return yield* missing(ctx, 'content-frame', suspects)
    } else {
      const problem = yield* checkContent(ctx, contentPath, record.stored)
      if (problem) {
        if (problem === 'content-size' && !(yield* holdsOtherForm(ctx, contentPath, record)))
          suspects.push({ path: contentPath, stat: undefined })
        return yield* missing(ctx, problem, suspects)
      }
    }
  }
  if (data && ctx.verify === 'hash' && ctx.hasher.bytes(data) !== record.digest) {
    return yield* missing(ctx, 'content-digest', suspects)
  }
  if (depth !== 'info') yield* touch(ctx, entryPath, entry.stat.mtimeMs)
  return { found: true, record, data, contentPath, fd }
}

/**
 * Opens a store file (never following a symlink, never blocking on a FIFO) and checks with fstat
 * that the descriptor is a regular file of `size` bytes. Returns the open descriptor, for the
 * caller to read, copy or upload from and then close, or a miss reason (`absent` if there is no
 * such file). Whoever needs a store file's bytes reads them from this descriptor, never by path
 * again: a co-user may swap the name for a symlink right after the check.
 */
export function* openContent(
  ctx: Pick<StoreContext, 'platform'>,
  path: string,
  size: number,
): Protocol<number | MissReason> {
  const fd = yield* openForReading(ctx, path)
  if (typeof fd === 'string') return fd
  let keepOpen = false
  try {
    const stat = yield* fstat(fd)
    if (stat.kind !== 'file') return 'not-a-file'
    if (stat.size !== size) return 'content-size'
    keepOpen = true
    return fd
  } finally {
    if (!keepOpen) yield* closeQuietly(fd)
  }
}

/**
 * Opens and reads a whole regular file, never following a symlink or blocking on a FIFO. A file
 * whose size `acceptSize` rejects (or that shrinks while read) is the miss `sizeProblem`, and is
 * not read. Returns a miss reason instead of throwing for anything not the caller's to fix.
 */
function* readWholeFile(
  ctx: StoreContext,
  path: string,
  acceptSize: (size: number) => boolean,
  sizeProblem: MissReason,
): Protocol<ReadFile | MissReason> {
  // The hot path of every hit: steps are yielded directly rather than through the helpers in
  // steps.ts, since each generator layer costs about 0.1 µs per step (a sync hit is ~10 µs).
  const fd = yield* openForReading(ctx, path)
  if (typeof fd === 'string') return fd
  try {
    const stat = (yield { op: 'fstat', fd }) as FileStat
    if (stat.kind !== 'file') return 'not-a-file'
    if (!acceptSize(stat.size)) return sizeProblem
    const bytes = (yield { op: 'read', fd, length: stat.size }) as Buffer
    if (bytes.length !== stat.size) return sizeProblem
    return { bytes, stat }
  } finally {
    try {
      yield { op: 'close', fd }
    } catch {
      // The descriptor is gone either way.
    }
  }
}

/**
 * Opens a store file for reading, turning the errors a concurrent writer, GC or hostile store
 * can cause into miss reasons. Throws CairnError for the rest (EACCES on POSIX, EMFILE, ...).
 */
export function* openForReading(
  ctx: Pick<StoreContext, 'platform'>,
  path: string,
): Protocol<number | MissReason> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (yield { op: 'open', path, how: 'read', mode: 0 }) as number
    } catch (error) {
      const code = errnoOf(error)
      // ENOTDIR: a shard directory replaced by a file. ELOOP/EMLINK: a symlink, refused by
      // O_NOFOLLOW (EMLINK is what FreeBSD says).
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'absent'
      if (code === 'ELOOP' || code === 'EMLINK') return 'not-a-file'
      if (ctx.platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')) {
        // Windows says this while a file is being deleted, replaced, or scanned by an antivirus.
        const wait = WINDOWS_BUSY_WAITS_MS[attempt]
        if (wait === undefined) return 'busy'
        yield* sleep(wait)
        continue
      }
      throw ioError(error, 'opening', path)
    }
  }
}

function* checkContent(ctx: StoreContext, path: string, size: number): Protocol<MissReason | undefined> {
  let stat: FileStat
  try {
    stat = yield* lstat(path)
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'content-missing'
    if (ctx.platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')) return 'busy'
    throw ioError(error, 'checking', path)
  }
  if (stat.kind !== 'file') return 'not-a-file'
  return stat.size === size ? undefined : 'content-size'
}

/**
 * The one way to a miss. Absent, busy and undecodable (codec-unavailable) entries are plain misses; anything else is corruption:
 * counted, and the suspect files are removed (best effort) so the next put can publish afresh.
 */
function* missing(ctx: StoreContext, reason: MissReason, suspects: Suspect[]): Protocol<ReadOutcome> {
  if (reason !== 'absent' && reason !== 'busy' && reason !== 'codec-unavailable' && reason !== 'too-large') {
    ctx.stats.corrupt += 1
    for (const suspect of suspects) yield* removeCorrupt(ctx, suspect.path, suspect.stat)
  }
  return { found: false, reason }
}

/**
 * Removes a corrupt file, unless the name now points at another file than the one judged (a
 * writer may have re-published it since) or, in copy mode, the file is young enough to still be
 * being written. Directories are never removed here: the GC reports them. True if removed.
 * Neither behind a directory swapped for a symlink, nor by root in another user's store
 * (safety.ts): the file then stays, and it is a miss all the same.
 */
export function* removeCorrupt(
  ctx: StoreContext,
  path: string,
  judged: FileStat | undefined,
): Protocol<boolean> {
  if (ctx.foreignOwner !== undefined) return false
  try {
    const current = yield* lstat(path)
    if (judged && current.ino !== judged.ino) return false
    if (current.kind === 'directory') return false
    if (ctx.publishMode === 'copy' && (yield* now()) - current.mtimeMs < COPY_MODE_GRACE_MS) return false
    yield* checkDirectories(ctx, path)
    yield* unlink(path)
    return true
  } catch {
    // Best effort: someone else removed or replaced it, or we may not; it stays a miss.
    return false
  }
}

/** Refreshes an entry's last-use time, at most once per touch interval (0: on every hit). */
function* touch(ctx: StoreContext, entryPath: string, mtimeMs: number): Protocol<void> {
  const time = yield* now()
  if (ctx.touchInterval > 0 && time - mtimeMs < ctx.touchInterval) return
  yield* refresh(ctx, entryPath, time)
}

/** {@link touch} for the fast path, which has no fstat of the record: an lstat gives its mtime. */
function* touchByPath(ctx: StoreContext, entryPath: string, time: number): Protocol<void> {
  if (ctx.touchInterval > 0) {
    let mtimeMs: number
    try {
      mtimeMs = (yield* lstat(entryPath)).mtimeMs
    } catch {
      return // Removed since it was read: the hit stands, and there is nothing to refresh.
    }
    if (time - mtimeMs < ctx.touchInterval) return
  }
  yield* refresh(ctx, entryPath, time)
}

function* refresh(ctx: StoreContext, entryPath: string, time: number): Protocol<void> {
  // Root in another user's store changes nothing there (safety.ts).
  if (ctx.foreignOwner !== undefined) return
  try {
    yield* checkDirectories(ctx, entryPath)
    yield* utimes(entryPath, time)
  } catch {
    // A read-only store, another user's file, or the entry just removed: the hit stands.
  }
}

export function* closeQuietly(fd: number): Protocol<void> {
  try {
    yield* close(fd)
  } catch {
    // Nothing useful to do: the descriptor is gone either way.
  }
}

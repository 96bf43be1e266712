/**
 * Publishing: how bytes become an entry without a reader ever seeing them half-written.
 *
 * The invariant readers rely on: **a name under `entries/` or `content/` appears only when its
 * file is complete, and never changes afterwards.** Bytes are written to a fresh file in `tmp/`,
 * then `link(temp, final)` creates the final name in one atomic step. link fails with EEXIST if
 * the name exists and, unlike rename, never opens, replaces or locks the destination, so a reader
 * of that name is never blocked (Windows' rename holds the destination open without sharing,
 * which made LLVM's ThinLTO cache readers fail with "permission denied") and never sees a
 * partial file. Content is published before the record that names it, and confirmed after it
 * (the GC handshake, confirmContent). EEXIST means another writer got there first: for content,
 * the same bytes are already stored; for an entry, the first writer wins.
 *
 * Where a filesystem cannot make hard links, the final name is created directly with an
 * exclusive-create copy (as Go's build cache does): readers check sizes, so a partial file is a
 * miss, and in that mode they leave young bad files alone (read.ts, COPY_MODE_GRACE_MS).
 */

import { type Codec, type CompressingCodec, canDecode, decodeContent } from './codec.js'
import type { StoreContext } from './context.js'
import { errnoOf, ioError } from './errors.js'
import { CONTENT_FRAME_HEADER_BYTES, readContentFrameHeader } from './frame.js'
import { closeQuietly, openForReading, readEntry, removeCorrupt } from './read.js'
import { encodeRecord, INLINE_MAX_BYTES } from './record.js'
import {
  checkDirectories,
  isSwappedSource,
  isUnsafePath,
  refuseForeignOwner,
  swappedFile,
  unlinkInStore,
} from './safety.js'
import {
  close,
  copyExclusive,
  type FileStat,
  fstat,
  fsync,
  fsyncDir,
  link,
  lstat,
  mkdir,
  now,
  open,
  type Protocol,
  read,
  unlink,
  utimes,
  write,
} from './steps.js'

/** What `put` resolves to. */
export interface PutResult {
  key: string
  /** Digest of the data given to this put. */
  digest: string
  /** Size in bytes of the data given to this put. */
  size: number
  /** False when an entry for the key already existed: the first writer wins, and it stays. */
  published: boolean
}

/**
 * The bytes to publish: in memory, or already written to a temp file by a stream writer.
 * `framed`: the content file to publish instead of the raw bytes, a content frame (frame.ts)
 * that store.ts made because it saves at least 10 %. A temp source's `codec` and `stored` say
 * what its temp file holds (absent: the raw bytes).
 */
export type PutSource =
  | { kind: 'buffer'; data: Uint8Array; framed?: { codec: CompressingCodec; bytes: Buffer } | undefined }
  | {
      kind: 'temp'
      tempPath: string
      digest: string
      size: number
      inline: Buffer | undefined
      codec?: Codec | undefined
      stored?: number | undefined
    }

/** How a content file is stored: its codec and its bytes on disk. */
interface StoredForm {
  codec: Codec
  stored: number
}

/** What writing a temp file needs to know: openStore writes the marker before a store exists. */
export type TempContext = Pick<StoreContext, 'layout' | 'durable' | 'guard' | 'foreignOwner'>

/** link's errors that mean "this filesystem cannot make hard links here". */
export const NO_LINKS: ReadonlySet<string> = new Set([
  'EPERM',
  'EXDEV',
  'ENOTSUP',
  'EOPNOTSUPP',
  'ENOSYS',
  'EMLINK',
])

/**
 * Publishes `source` under `key` (already validated). Removes every temp file it made or was
 * given, whatever happens. `metadataJson` is the caller's metadata, already validated.
 *
 * In a store others can write (safety.ts), a directory found swapped for a symlink stores
 * nothing: the put resolves with `published: false`, as when another writer got there first,
 * rather than failing the build over what a co-user did (the worst is a miss).
 */
export function* putEntry(
  ctx: StoreContext,
  key: string,
  source: PutSource,
  metadataJson: string | undefined,
): Protocol<PutResult> {
  refuseForeignOwner(ctx, 'write into')
  if (ctx.guard === undefined) return yield* publishEntry(ctx, key, source, metadataJson)
  try {
    return yield* publishEntry(ctx, key, source, metadataJson)
  } catch (error) {
    if (!isUnsafePath(error)) throw error
    const digest = source.kind === 'buffer' ? ctx.hasher.bytes(source.data) : source.digest
    const size = source.kind === 'buffer' ? source.data.length : source.size
    return { key, digest, size, published: false }
  }
}

function* publishEntry(
  ctx: StoreContext,
  key: string,
  source: PutSource,
  metadataJson: string | undefined,
): Protocol<PutResult> {
  // Kept until the entry is published and its content confirmed (see confirmContent).
  let contentTemp = source.kind === 'temp' ? source.tempPath : undefined
  try {
    const digest = source.kind === 'buffer' ? ctx.hasher.bytes(source.data) : source.digest
    const size = source.kind === 'buffer' ? source.data.length : source.size
    const result = { key, digest, size, published: false }

    // An existing, whole entry means there is nothing to do: one failed open for a fresh key,
    // and no bytes written for a repeated one. A corrupt one is removed by readEntry.
    if ((yield* readEntry(ctx, key, 'info')).found) return result

    let inline: Buffer | undefined
    // What this writer's content file is, and what the record will describe: the file found at
    // the content's name, which is another writer's when it got there first (possibly with
    // another codec: first link wins, and the record describes the file that is there).
    let ours: StoredForm = { codec: 'none', stored: 0 }
    let described = ours
    if (size <= INLINE_MAX_BYTES) {
      inline = source.kind === 'buffer' ? Buffer.from(source.data) : source.inline
    } else {
      if (source.kind === 'buffer') {
        ours = source.framed
          ? { codec: source.framed.codec, stored: source.framed.bytes.length }
          : { codec: 'none', stored: size }
        if (contentTemp === undefined)
          contentTemp = yield* writeTemp(ctx, source.framed?.bytes ?? source.data)
      } else {
        ours = { codec: source.codec ?? 'none', stored: source.stored ?? size }
      }
      described = yield* publishContent(ctx, contentTemp as string, digest, size, ours)
    }

    const time = yield* now()
    const record = encodeRecord({ digest, size, time, inline, ...described }, metadataJson)
    result.published = yield* publishRecord(ctx, key, yield* writeTemp(ctx, record))
    if (result.published && inline === undefined) {
      const isOurs = described.codec === ours.codec && described.stored === ours.stored
      yield* confirmContent(ctx, contentTemp as string, digest, isOurs)
    }
    return result
  } finally {
    if (contentTemp !== undefined) yield* unlinkInStore(ctx, contentTemp)
  }
}

/**
 * Publishes a content file from `tempPath` (which stays and holds `ours`), deduplicating on
 * EEXIST: the name is the digest, so an existing file holds the same bytes, raw or framed with
 * any codec, unless it is damaged. Returns what the file now at the name is, for the record.
 */
function* publishContent(
  ctx: StoreContext,
  tempPath: string,
  digest: string,
  size: number,
  ours: StoredForm,
): Protocol<StoredForm> {
  const finalPath = ctx.layout.contentPath(digest)
  for (let attempt = 0; attempt < 3; attempt++) {
    if ((yield* publishFile(ctx, tempPath, finalPath)) === 'published') return ours
    const existing = yield* describeExisting(ctx, finalPath, size)
    if (existing === undefined) continue // removed just now: publish ours
    if ('codec' in existing) return existing
    // Damaged, or (copy mode) another writer's copy still in progress, which removeCorrupt
    // leaves alone: then go on, and readers see a miss until it is complete (or, if its codec
    // differs from ours, until a reader removes it as not what this record describes).
    if (!(yield* removeCorrupt(ctx, finalPath, existing.damaged))) return ours
    ctx.stats.corrupt += 1
  }
  return ours
}

/**
 * What the content file at `path` is, for a writer that found it there: raw (its size is the
 * content's), or a frame of this size (its 16-byte header read from a descriptor opened without
 * following symlinks and checked to be the file lstat saw). Anything else is damaged. Undefined
 * when it is gone.
 */
function* describeExisting(
  ctx: StoreContext,
  path: string,
  size: number,
): Protocol<StoredForm | { damaged: FileStat } | undefined> {
  const existing = yield* lstatOrUndefined(path)
  if (existing === undefined) return undefined
  if (existing.kind !== 'file') return { damaged: existing }
  if (existing.size === size) return { codec: 'none', stored: size }
  if (existing.size >= size || existing.size < CONTENT_FRAME_HEADER_BYTES) return { damaged: existing }
  const fd = yield* openForReading(ctx, path)
  if (fd === 'absent') return undefined
  if (typeof fd === 'string') return { damaged: existing }
  try {
    const stat = yield* fstat(fd)
    if (stat.ino !== existing.ino || stat.size !== existing.size) return { damaged: existing }
    const header = readContentFrameHeader(yield* read(fd, CONTENT_FRAME_HEADER_BYTES))
    if (header === undefined || header.size !== size) return { damaged: existing }
    // In copy mode the file may be another writer's copy in progress, whose header is already
    // there: only a file that decodes to its size whole is complete. (With links, a name only
    // ever points at a complete file.) A codec this process cannot decode is taken as it says.
    if (ctx.publishMode === 'copy' && canDecode(header.codec)) {
      const file = yield* read(fd, stat.size)
      const body = file.subarray(CONTENT_FRAME_HEADER_BYTES)
      if (file.length !== stat.size || decodeContent(header.codec, body, size) === undefined)
        return { damaged: existing }
    }
    return { codec: header.codec, stored: stat.size }
  } finally {
    yield* closeQuietly(fd)
  }
}

/**
 * The writer's half of the GC handshake, once the entry is visible: refresh the content's mtime.
 * A GC deletes unused content by first moving it into tmp/ and then checking that its mtime did
 * not change since its scan (sweep.ts). If the GC moved it before this touch, the touch fails
 * with ENOENT and the content is published again from the temp file; if it moves it after, it
 * sees the new mtime and puts the content back. Either way an entry never loses its content to
 * a GC that scanned before the entry existed (unless the record describes another writer's
 * file of another codec, which our temp file cannot stand in for: then a miss). Best effort: a failure here leaves at worst a miss.
 */
function* confirmContent(
  ctx: StoreContext,
  tempPath: string,
  digest: string,
  tempIsDescribed: boolean,
): Protocol<void> {
  const finalPath = ctx.layout.contentPath(digest)
  try {
    yield* checkDirectories(ctx, finalPath)
    yield* utimes(finalPath, yield* now())
    return
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') return
  }
  // The record describes another writer's file (another codec): ours would not match it, and
  // the entry is a miss either way.
  if (!tempIsDescribed) return
  try {
    yield* publishFile(ctx, tempPath, finalPath)
  } catch {
    // The entry stays; a reader finds its content missing: a miss, cleaned then.
  }
}

/** Publishes an entry record from `tempPath` (always removed); false if the key was taken. */
function* publishRecord(ctx: StoreContext, key: string, tempPath: string): Protocol<boolean> {
  const finalPath = ctx.layout.entryPath(key)
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      if ((yield* publishFile(ctx, tempPath, finalPath)) === 'published') return true
      // Another writer published this key since our check. Its entry wins if it is whole; if it
      // is corrupt, readEntry removed it and we publish once more.
      if ((yield* readEntry(ctx, key, 'info')).found) return false
    }
    return false
  } finally {
    yield* unlinkInStore(ctx, tempPath)
  }
}

/**
 * Makes `finalPath` name the complete file at `tempPath`: link, or in copy mode (or when link
 * turns out unsupported here) an exclusive-create copy. Creates a missing shard directory.
 */
function* publishFile(
  ctx: StoreContext,
  tempPath: string,
  finalPath: string,
): Protocol<'published' | 'exists'> {
  let useLinks = ctx.publishMode === 'link'
  for (let attempt = 0; ; attempt++) {
    if (ctx.guard !== undefined) {
      yield* checkDirectories(ctx, tempPath)
      yield* checkDirectories(ctx, finalPath)
    }
    try {
      if (useLinks) yield* link(tempPath, finalPath)
      else yield* copyExclusive(tempPath, finalPath)
      if (ctx.durable) yield* fsyncDir(parentOf(finalPath))
      return 'published'
    } catch (error) {
      const code = errnoOf(error)
      if (code === 'EEXIST') return 'exists'
      // Copy mode: our temp file was swapped for a symlink or another file by someone who can
      // write tmp/; nothing was copied. A miss, as for a swapped directory.
      if (!useLinks && isSwappedSource(error)) throw swappedFile(tempPath, error)
      // Windows: the name is held by another process (being deleted while a reader still has it
      // open, or being replaced): it is taken, as with EEXIST; the first writer wins.
      if (ctx.platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY'))
        return 'exists'
      if (code === 'ENOENT' && attempt === 0) {
        // The shard directory was removed (by hand, or a store restored without it).
        yield* checkDirectories(ctx, parentOf(finalPath))
        yield* mkdir(parentOf(finalPath))
        continue
      }
      if (useLinks && code !== undefined && NO_LINKS.has(code) && attempt < 2) {
        useLinks = false
        continue
      }
      throw ioError(error, 'publishing', finalPath)
    }
  }
}

/**
 * Writes `data` to a new temp file (mode 0444: published files are never edited in place) and
 * returns its path. On failure nothing is left behind and a CairnError says why.
 */
export function* writeTemp(ctx: TempContext, data: Uint8Array): Protocol<string> {
  const { path, fd } = yield* createTemp(ctx)
  try {
    yield* write(fd, data)
    if (ctx.durable) yield* fsync(fd)
  } catch (error) {
    yield* closeQuietly(fd)
    yield* unlinkInStore(ctx, path)
    throw ioError(error, 'writing', path)
  }
  try {
    yield* close(fd)
  } catch (error) {
    yield* unlinkInStore(ctx, path)
    throw ioError(error, 'writing', path)
  }
  return path
}

/**
 * Creates a new temp file exclusively, creating `tmp/` if it is missing. Refuses, as putEntry
 * does, a root process in another user's store (ERR_CAIRN_FOREIGN_OWNER), and in a store others
 * can write a `tmp/` that is not a real directory (ERR_CAIRN_UNSAFE_PATH).
 */
export function* createTemp(ctx: TempContext): Protocol<{ path: string; fd: number }> {
  refuseForeignOwner(ctx, 'write into')
  for (let attempt = 0; ; attempt++) {
    const path = ctx.layout.tempPath()
    if (ctx.guard !== undefined) yield* checkDirectories(ctx, path)
    try {
      return { path, fd: yield* open(path, 'create') }
    } catch (error) {
      const code = errnoOf(error)
      if (code === 'ENOENT' && attempt === 0) {
        yield* checkDirectories(ctx, ctx.layout.tmp)
        yield* mkdir(ctx.layout.tmp)
        continue
      }
      // A leftover of a crashed process with the same pid and random part: take the next name.
      if (code === 'EEXIST' && attempt < 3) continue
      throw ioError(error, 'creating a temp file in', ctx.layout.tmp)
    }
  }
}

function* lstatOrUndefined(path: string): Protocol<FileStat | undefined> {
  try {
    return yield* lstat(path)
  } catch {
    return undefined
  }
}

export function* unlinkQuietly(path: string): Protocol<void> {
  try {
    yield* unlink(path)
  } catch {
    // Already gone, or not ours to remove: the GC sweeps tmp/ either way.
  }
}

function parentOf(path: string): string {
  return path.slice(0, Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')))
}

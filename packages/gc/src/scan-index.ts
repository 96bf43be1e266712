/**
 * The scan index, `gc.index` at the store root: what earlier scans learned by reading entry
 * records (content digest, content size, inline or not, run manifest or not), keyed by the
 * record's name and vouched for by its inode, ctime and size. Records are immutable once
 * published, and nothing but a write (which moves ctime) changes a file's bytes, so while a
 * record's (name, inode, ctime, size) are what the index says, so is its content. A later scan
 * then costs readdir + lstat per record, what `find -printf '%T@ %s %p'` costs, and reads only
 * the records the index cannot vouch for. Layout: docs/FORMAT.md, "gc.index".
 *
 * Only a cache. Missing, unreadable, damaged (each shard's section and the header carry a
 * checksum), of another version or digest size: the scan reads what it cannot vouch for, as it
 * did before the index existed. What the index says never removes a record on its own: an entry
 * it vouched for that then looks corrupt is read again before it is judged (scan.ts).
 *
 * Inode numbers are reused. A record written after a scan could get the inode of one that scan
 * saw and removed, with the same size; only its ctime then tells them apart, and a coarse
 * filesystem clock could give both the same one. So, as Git does with "racily clean" index
 * entries, a record goes into the index only if its ctime is {@link INDEX_RACY_MS} older than the
 * filesystem's clock read before the scan: any file created after that scan started has a later
 * ctime, so it can never match a row.
 */

import { createHash } from 'node:crypto'
import { readSync } from 'node:fs'
import { join } from 'node:path'
import { GC_INDEX_FILE, type Layout } from '@cairn/store'
import {
  checkDirectories,
  close,
  type FileStat,
  fstat,
  open,
  openForReading,
  type Protocol,
  read,
  rename,
  type StoreGuard,
  unlinkInStore,
  write,
} from '@cairn/store/protocol'
import type { EntryTable } from './table.js'

/** The first 8 bytes of every scan index. */
export const INDEX_MAGIC = 'CAIRNGCI'
/** Bumped whenever a byte of the layout changes; an index of another version is ignored. */
export const INDEX_VERSION = 2
/** Records whose ctime is this close to the scan's start are not indexed (module comment). */
export const INDEX_RACY_MS = 2000
/** A larger index is ignored: about 25 million entries' worth. */
export const INDEX_MAX_BYTES = 2 ** 31
const SHARD_COUNT = 256
const CHECKSUM_BYTES = 16
/** magic, version, digest bytes; per shard rows, bytes, checksum; the header's checksum. */
export const INDEX_HEADER_BYTES = 8 + 4 + 4 + SHARD_COUNT * (8 + CHECKSUM_BYTES) + CHECKSUM_BYTES
/**
 * Per row: the key's length; after the key: inode, ctime, record size, content size, bytes on
 * disk, flags; then the digest.
 */
const ROW_FIXED_BYTES = 1 + 8 + 8 + 4 + 8 + 8 + 1
const FLAG_INLINE = 1
const FLAG_MANIFEST = 2
const PLATFORM = { platform: process.platform }

interface Section {
  rows: number
  bytes: number
  checksum: Buffer
}

/**
 * One shard's rows, as read and checked. A row is found by its key: the rows were written in the
 * order the last scan listed the shard, and a directory that has not changed lists in the same
 * order, so the next row is tried first (a comparison of bytes, no string made); only a key out
 * of that order builds a key -> row map of the shard, once. Making a string and a map entry per
 * row cost about a tenth of a scan with an index.
 */
export class ShardIndex {
  readonly #bytes: Buffer
  /** Offset of each row (its key-length byte), in file order. */
  readonly #rowStarts: Uint32Array
  readonly #digestBytes: number
  #next = 0
  #byKey: Map<string, number> | undefined

  constructor(bytes: Buffer, rowStarts: Uint32Array, digestBytes: number) {
    this.#bytes = bytes
    this.#rowStarts = rowStarts
    this.#digestBytes = digestBytes
  }

  /** The row of `key` (the offset of its inode, as the other accessors take), or -1. */
  rowOf(key: string): number {
    let row = this.#next
    const start = this.#rowStarts[row]
    if (start === undefined || !this.#keyAt(start, key)) {
      this.#byKey ??= this.#keyMap()
      const found = this.#byKey.get(key)
      if (found === undefined) return -1
      row = found
    }
    this.#next = row + 1
    return (this.#rowStarts[row] as number) + 1 + key.length
  }

  /** Whether row `row` vouches for the file `stat`: a regular file with its inode, ctime and size. */
  vouches(row: number, stat: FileStat): boolean {
    const bytes = this.#bytes
    return (
      stat.kind === 'file' &&
      bytes.readDoubleLE(row) === stat.ino &&
      bytes.readDoubleLE(row + 8) === stat.ctimeMs &&
      bytes.readUInt32LE(row + 16) === stat.size
    )
  }

  #keyAt(start: number, key: string): boolean {
    const bytes = this.#bytes
    if (bytes[start] !== key.length) return false
    for (let i = 0; i < key.length; i++) {
      if (bytes[start + 1 + i] !== key.charCodeAt(i)) return false
    }
    return true
  }

  #keyMap(): Map<string, number> {
    const map = new Map<string, number>()
    const bytes = this.#bytes
    for (let row = 0; row < this.#rowStarts.length; row++) {
      const start = this.#rowStarts[row] as number
      map.set(bytes.toString('latin1', start + 1, start + 1 + (bytes[start] as number)), row)
    }
    return map
  }

  contentSize(row: number): number {
    return this.#bytes.readDoubleLE(row + 20)
  }

  /** Bytes the content takes on disk (EntryTable.stored). */
  storedSize(row: number): number {
    return this.#bytes.readDoubleLE(row + 28)
  }

  inline(row: number): boolean {
    return ((this.#bytes[row + 36] as number) & FLAG_INLINE) !== 0
  }

  manifest(row: number): boolean {
    return ((this.#bytes[row + 36] as number) & FLAG_MANIFEST) !== 0
  }

  /** The digest's bytes: `digestBytes` from the returned offset of {@link buffer}. */
  digestAt(row: number): number {
    return row + 37
  }

  get buffer(): Buffer {
    return this.#bytes
  }

  get digestBytes(): number {
    return this.#digestBytes
  }
}

/**
 * An open scan index, read one shard section at a time in shard order, so that its memory is one
 * shard's rows. Any surprise (short read, bad checksum, malformed row) drops the section or the
 * rest of the file: the scan then reads those records.
 */
export class IndexReader {
  #fd: number | undefined
  readonly #sections: Section[]
  readonly #digestBytes: number
  #next = 0
  #position = INDEX_HEADER_BYTES

  private constructor(fd: number, sections: Section[], digestBytes: number) {
    this.#fd = fd
    this.#sections = sections
    this.#digestBytes = digestBytes
  }

  /**
   * Opens `gc.index` without following a symlink or blocking on a FIFO (O_NOFOLLOW|O_NONBLOCK),
   * checks with fstat that it is a regular file of a bounded size, and reads its header.
   * Undefined when there is no usable index; never throws.
   */
  static *open(layout: Layout, digestLength: number): Protocol<IndexReader | undefined> {
    let fd: number | string
    try {
      fd = yield* openForReading(PLATFORM, join(layout.dir, GC_INDEX_FILE))
    } catch {
      return undefined
    }
    if (typeof fd === 'string') return undefined
    let reader: IndexReader | undefined
    try {
      const stat = yield* fstat(fd)
      if (stat.kind !== 'file' || stat.size < INDEX_HEADER_BYTES || stat.size > INDEX_MAX_BYTES)
        return undefined
      const header = yield* read(fd, INDEX_HEADER_BYTES)
      const sections = parseHeader(header, digestLength / 2, stat.size)
      if (sections !== undefined) reader = new IndexReader(fd, sections, digestLength / 2)
      return reader
    } catch {
      return undefined
    } finally {
      if (reader === undefined) yield* closeQuietly(fd)
    }
  }

  /** The checked rows of shard `shard` (0 to 255, called in increasing order), or undefined. */
  *shard(shard: number): Protocol<ShardIndex | undefined> {
    while (this.#fd !== undefined && this.#next <= shard) {
      const number = this.#next++
      const section = this.#sections[number] as Section
      if (section.bytes === 0) continue
      let bytes: Buffer
      try {
        bytes = readAt(this.#fd, section.bytes, this.#position)
        this.#position += section.bytes
      } catch {
        yield* this.close()
        return undefined
      }
      if (bytes.length !== section.bytes) {
        yield* this.close()
        return undefined
      }
      if (number === shard) return parseSection(bytes, section, this.#digestBytes)
    }
    return undefined
  }

  *close(): Protocol<void> {
    if (this.#fd === undefined) return
    const fd = this.#fd
    this.#fd = undefined
    yield* closeQuietly(fd)
  }
}

/**
 * `length` bytes at `position`, fewer at the end of the file. Not a protocol step: the store's
 * `read` step reads a whole small file from its start, and the index is read a section at a time
 * so that it never sits in memory whole.
 */
function readAt(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.allocUnsafe(length)
  let filled = 0
  while (filled < length) {
    const count = readSync(fd, buffer, filled, length - filled, position + filled)
    if (count === 0) break
    filled += count
  }
  return filled === length ? buffer : buffer.subarray(0, filled)
}

function parseHeader(header: Buffer, digestBytes: number, fileSize: number): Section[] | undefined {
  if (header.length !== INDEX_HEADER_BYTES) return undefined
  if (header.toString('latin1', 0, 8) !== INDEX_MAGIC) return undefined
  if (header.readUInt32LE(8) !== INDEX_VERSION || header.readUInt32LE(12) !== digestBytes) return undefined
  const end = INDEX_HEADER_BYTES - CHECKSUM_BYTES
  if (!checksum(header.subarray(0, end)).equals(header.subarray(end))) return undefined
  const sections: Section[] = []
  let total = INDEX_HEADER_BYTES
  for (let shard = 0; shard < SHARD_COUNT; shard++) {
    const at = 16 + shard * (8 + CHECKSUM_BYTES)
    const rows = header.readUInt32LE(at)
    const bytes = header.readUInt32LE(at + 4)
    total += bytes
    sections.push({ rows, bytes, checksum: header.subarray(at + 8, at + 8 + CHECKSUM_BYTES) })
  }
  return total === fileSize ? sections : undefined
}

function parseSection(bytes: Buffer, section: Section, digestBytes: number): ShardIndex | undefined {
  if (!checksum(bytes).equals(section.checksum)) return undefined
  const rowStarts = new Uint32Array(section.rows)
  let at = 0
  for (let row = 0; row < section.rows; row++) {
    const keyLength = bytes[at]
    if (keyLength === undefined) return undefined
    const end = at + 1 + keyLength + ROW_FIXED_BYTES - 1 + digestBytes
    if (end > bytes.length) return undefined
    rowStarts[row] = at
    at = end
  }
  return at === bytes.length ? new ShardIndex(bytes, rowStarts, digestBytes) : undefined
}

/** What the writer needs besides the scan's entries. */
export interface IndexSource {
  entries: EntryTable
  /** Digest bytes of content `id` into `target` at `offset`. */
  digestInto: (id: number, target: Buffer, offset: number) => void
  digestBytes: number
  /** 1 for entries whose record marks a run manifest. */
  manifest: Uint8Array
  /** 1 for entries to index: records that decoded and are still there. */
  include: Uint8Array
  /** Records with a ctime at or after this (filesystem clock, ms) are left out. */
  ctimeCutoff: number
}

/**
 * Writes a new `gc.index` from a scan, returning its size in bytes. The file is written to a temp
 * in `tmp/` and renamed over `gc.index`. Publishing by rename is what the store avoids for
 * entries (a rename replaces what a writer just published); here only a GC holding gc.lock
 * writes this name, and its readers accept whatever they find there, so the last complete index
 * wins and a half-written one is never seen. In a shared store the directories are checked
 * before the temp is created and before the rename (safety.ts). Best effort: on any failure the
 * temp is removed and the old index, if any, stays: the next scan checks every row anyway.
 */
export function* writeScanIndex(
  ctx: { layout: Layout; guard?: StoreGuard | undefined },
  source: IndexSource,
): Protocol<number | undefined> {
  const ranges = shardRanges(source.entries)
  const header = Buffer.alloc(INDEX_HEADER_BYTES)
  header.write(INDEX_MAGIC, 0, 'latin1')
  header.writeUInt32LE(INDEX_VERSION, 8)
  header.writeUInt32LE(source.digestBytes, 12)
  let size = INDEX_HEADER_BYTES
  let rowsTotal = 0
  // Two passes, each building one shard's section at a time: the header (first in the file)
  // needs every section's checksum, and holding every section at once would cost tens of MB at
  // a million entries, on top of the scan's tables.
  for (let shard = 0; shard < SHARD_COUNT; shard++) {
    const { bytes, rows } = buildSection(source, ranges, shard)
    const at = 16 + shard * (8 + CHECKSUM_BYTES)
    header.writeUInt32LE(rows, at)
    header.writeUInt32LE(bytes.length, at + 4)
    checksum(bytes).copy(header, at + 8)
    size += bytes.length
    rowsTotal += rows
  }
  const target = join(ctx.layout.dir, GC_INDEX_FILE)
  if (rowsTotal === 0) {
    // Nothing to vouch for (a prune to zero, or only young records): an empty store keeps no
    // index file, and an old one would only be read for nothing.
    yield* unlinkInStore(ctx, target)
    return 0
  }
  if (size > INDEX_MAX_BYTES) return undefined
  const end = INDEX_HEADER_BYTES - CHECKSUM_BYTES
  checksum(header.subarray(0, end)).copy(header, end)

  const path = ctx.layout.tempPath()
  let fd: number | undefined
  try {
    yield* checkDirectories(ctx, path)
    fd = yield* open(path, 'create')
    yield* write(fd, header)
    for (let shard = 0; shard < SHARD_COUNT; shard++) {
      const { bytes } = buildSection(source, ranges, shard)
      if (bytes.length > 0) yield* write(fd, bytes)
    }
    const written = fd
    fd = undefined
    yield* close(written)
    yield* checkDirectories(ctx, target)
    yield* rename(path, target)
    return size
  } catch {
    if (fd !== undefined) yield* closeQuietly(fd)
    yield* unlinkInStore(ctx, path)
    return undefined
  }
}

/** Entry numbers [start, end) per shard; the scan adds entries shard by shard. */
function shardRanges(entries: EntryTable): Int32Array {
  const ranges = new Int32Array(SHARD_COUNT * 2).fill(-1)
  let current = -1
  for (let index = 0; index < entries.count; index++) {
    const shard = entries.shardOf(index)
    if (shard !== current) {
      // A shard met twice would be a scan bug; its later entries are then just not indexed.
      if ((ranges[shard * 2] as number) !== -1) continue
      current = shard
      ranges[shard * 2] = index
    }
    ranges[shard * 2 + 1] = index + 1
  }
  return ranges
}

function buildSection(
  source: IndexSource,
  ranges: Int32Array,
  shard: number,
): { bytes: Buffer; rows: number } {
  const { entries, digestBytes } = source
  const start = ranges[shard * 2] as number
  if (start === -1) return { bytes: Buffer.alloc(0), rows: 0 }
  const end = ranges[shard * 2 + 1] as number
  let length = 0
  for (let index = start; index < end; index++) {
    if (indexable(source, index)) length += ROW_FIXED_BYTES + entries.keyLength(index) + digestBytes
  }
  const bytes = Buffer.allocUnsafe(length)
  let at = 0
  let rows = 0
  for (let index = start; index < end; index++) {
    if (!indexable(source, index)) continue
    const keyLength = entries.keyLength(index)
    bytes[at] = keyLength
    entries.keyInto(index, bytes, at + 1)
    at += 1 + keyLength
    bytes.writeDoubleLE(entries.ino[index] as number, at)
    bytes.writeDoubleLE(entries.ctime[index] as number, at + 8)
    bytes.writeUInt32LE(entries.recordSize[index] as number, at + 16)
    bytes.writeDoubleLE(entries.size[index] as number, at + 20)
    bytes.writeDoubleLE(entries.stored[index] as number, at + 28)
    bytes[at + 36] =
      (entries.inline[index] === 1 ? FLAG_INLINE : 0) | (source.manifest[index] === 1 ? FLAG_MANIFEST : 0)
    source.digestInto(entries.content[index] as number, bytes, at + 37)
    at += ROW_FIXED_BYTES - 1 + digestBytes
    rows += 1
  }
  return { bytes, rows }
}

function indexable(source: IndexSource, index: number): boolean {
  const { entries } = source
  return (
    source.include[index] === 1 &&
    (entries.content[index] as number) >= 0 &&
    (entries.ctime[index] as number) < source.ctimeCutoff &&
    entries.keyLength(index) <= 255
  )
}

function checksum(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest().subarray(0, CHECKSUM_BYTES)
}

function* closeQuietly(fd: number): Protocol<void> {
  try {
    yield* close(fd)
  } catch {
    // The descriptor is gone either way.
  }
}

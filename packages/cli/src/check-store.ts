/**
 * `cairn verify`'s walk: re-hashes every content file (a compressed one decompressed, so its
 * original bytes are what is hashed) and checks every entry record against its content,
 * reporting what is damaged without touching it (the store's own readers remove what they find
 * corrupt; a report must not). Removal is a separate step, {@link removeDamaged}.
 */

import { read as readAt } from 'node:fs'
import { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { createHasher, DIGEST_LENGTH, type Hasher } from '@cairn/hash'
import {
  CONTENT_FRAME_HEADER_BYTES,
  type Codec,
  type ContentFrameHeader,
  canDecode,
  decodeContentStream,
  decodeRecord,
  isValidKey,
  Layout,
  RECORD_MAX_BYTES,
  readContentFrameHeader,
  SHARDS,
  type Store,
} from '@cairn/store'
import {
  assessStore,
  COPY_MODE_GRACE_MS,
  checkDirectories,
  close,
  type FileStat,
  foreignOwnerError,
  fstat,
  type GuardContext,
  guardFor,
  lstat,
  openForReading,
  read,
  readdir,
  readMarker,
  runSync,
  unlink,
} from '@cairn/store/protocol'
import { counted } from './format.js'

/** Something damaged in a store. */
export interface Damage {
  kind: 'entry' | 'content'
  /** The entry's key or the content's digest. */
  name: string
  reason: string
  /** The file judged, so removal can check it is still the same file. */
  path: string
  ino: number | undefined
}

/**
 * A content file that could not be checked, and is not damage: compressed with a codec this
 * process cannot decode (zstd, written by Node 22.15 or later, read by an older Node).
 */
export interface Unchecked {
  /** The content's digest. */
  name: string
  reason: string
}

/** What a check found. */
export interface CheckReport {
  entries: number
  contentFiles: number
  /** Bytes hashed: the original (uncompressed) bytes of compressed content. */
  bytesHashed: number
  damage: Damage[]
  /** Content files left unchecked (never removed), with why. */
  unchecked: Unchecked[]
}

type ContentState =
  /**
   * A content file whose bytes hash to its name: `size` original bytes, `stored` on disk,
   * raw (`codec` none) or a content frame of `codec`. `undecodable`: a valid frame header of a
   * codec this process cannot decode, so its bytes were not hashed.
   */
  | { state: 'ok' | 'undecodable'; size: number; stored: number; codec: Codec }
  /** Too young to judge in copy mode: it may still be being written. */
  | { state: 'young' }
  | { state: 'absent' }
  | { state: 'bad'; reason: string; ino: number | undefined }

/**
 * Checks every entry and content file of `store`. An entry is damaged when its record does not
 * parse, its inline content or content file does not match the digest it names, or its content
 * file is missing, of another size, or stored otherwise (raw or compressed, codec, bytes on disk)
 * than the record says. A content file is damaged when its bytes, decompressed if it is a
 * content frame, do not hash to its name; a frame that does not decompress to exactly the size
 * its header gives is damaged too. A frame of a codec this process cannot decode is listed in
 * `unchecked`, not as damage. In a store without hard links (copy mode), files younger than 10
 * seconds may still be being written, so they are not judged.
 */
export async function checkStore(store: Store, now: () => number = Date.now): Promise<CheckReport> {
  const layout = new Layout(store.dir)
  const marker = runSync(readMarker(layout))
  const hasher = await createHasher({ algorithm: store.algorithm })
  const digestLength = DIGEST_LENGTH[store.algorithm]
  const young = (stat: FileStat) => marker?.publish === 'copy' && now() - stat.mtimeMs < COPY_MODE_GRACE_MS
  const report: CheckReport = { entries: 0, contentFiles: 0, bytesHashed: 0, damage: [], unchecked: [] }
  const contents = new Map<string, ContentState>()

  const checkContent = async (digest: string): Promise<ContentState> => {
    const known = contents.get(digest)
    if (known) return known
    const state = await checkContentFile(layout, hasher, digest, young, report)
    contents.set(digest, state)
    if (state.state === 'undecodable') {
      report.unchecked.push({
        name: digest,
        reason: `it is compressed with ${state.codec}, which this Node (${process.versions.node}) cannot decode`,
      })
    } else if (state.state === 'bad') {
      report.damage.push({
        kind: 'content',
        name: digest,
        reason: state.reason,
        path: layout.contentPath(digest),
        ino: state.ino,
      })
    }
    return state
  }

  for (const shard of SHARDS) {
    for (const key of listNames(layout.entryShard(shard), shard, isValidKey)) {
      const path = layout.entryPath(key)
      const record = readRecord(path)
      if (record === undefined) continue
      if (young(record.stat)) continue
      report.entries += 1
      const damaged = (reason: string) =>
        report.damage.push({ kind: 'entry', name: key, reason, path, ino: record.stat.ino })
      if (typeof record.problem === 'string') {
        damaged(record.problem)
        continue
      }
      const decoded = decodeRecord(record.bytes, digestLength)
      if (decoded === 'bad-record') {
        damaged('the entry record does not parse')
        continue
      }
      if (decoded === 'other-version') {
        damaged('the entry record has another format version')
        continue
      }
      if (decoded.inline) {
        report.bytesHashed += decoded.inline.length
        if (hasher.bytes(decoded.inline) !== decoded.digest)
          damaged('its inline content does not match its digest')
        continue
      }
      const content = await checkContent(decoded.digest)
      if (content.state === 'absent') {
        // Removed since we listed it (rm, GC)? Then it is not damage.
        if (stillThere(path, record.stat.ino)) damaged(`its content ${decoded.digest} is missing`)
      } else if (content.state === 'bad') {
        damaged(`its content ${decoded.digest} is damaged: ${content.reason}`)
      } else if (content.state !== 'young') {
        const problem = mismatch(content, decoded)
        if (problem !== undefined) damaged(problem)
      }
    }
  }
  const isDigest = (name: string) => name.length === digestLength && /^[0-9a-f]+$/.test(name)
  for (const shard of SHARDS) {
    for (const digest of listNames(layout.contentShard(shard), shard, isDigest)) await checkContent(digest)
  }
  return report
}

/**
 * What {@link removeDamaged} deletes under: the store as judged by the library's rules (safety.ts
 * in @cairn/store). Throws ERR_CAIRN_FOREIGN_OWNER when this process is root and another user
 * owns the store, unless `allowForeignOwner` (CAIRN_ALLOW_FOREIGN_OWNER=1): deleting by name in
 * such a store is what a symlink swap turns into deleting outside it, as for `cairn rm` and GC.
 */
export function fixContext(dir: string, allowForeignOwner: boolean): GuardContext {
  const layout = new Layout(dir)
  const safety = assessStore(layout)
  if (safety === undefined) return { layout }
  if (safety.foreignOwner !== undefined && !allowForeignOwner)
    throw foreignOwnerError(dir, safety.foreignOwner, 'remove damaged files from')
  return { layout, guard: guardFor(safety) }
}

/**
 * Removes the damaged files a check found: entry records, and content files (whose entries were
 * found damaged too). A file is removed only if its name still points at the file judged: a
 * writer may have re-published a good one since; and, in a store others can write, only if the
 * directories on its way are still the store's (checkDirectories, right before each unlink).
 * Returns the damage that could not be removed.
 */
export function removeDamaged(ctx: GuardContext, damage: readonly Damage[]): Damage[] {
  const failed: Damage[] = []
  for (const item of damage) {
    try {
      runSync(checkDirectories(ctx, item.path))
      if (item.ino === undefined || stillThere(item.path, item.ino)) runSync(unlink(item.path))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') failed.push(item)
    }
  }
  return failed
}

async function checkContentFile(
  layout: Layout,
  hasher: Hasher,
  digest: string,
  young: (stat: FileStat) => boolean,
  report: CheckReport,
): Promise<ContentState> {
  const path = layout.contentPath(digest)
  let stat: FileStat
  try {
    stat = runSync(lstat(path))
  } catch {
    return { state: 'absent' }
  }
  if (young(stat)) return { state: 'young' }
  report.contentFiles += 1
  if (stat.kind !== 'file') return { state: 'bad', reason: 'it is not a regular file', ino: undefined }
  // Everything is read from this descriptor, checked by its own fstat: the name may be swapped.
  const fd = runSync(openForReading({ platform: process.platform }, path))
  if (fd === 'absent' || fd === 'busy') return { state: 'absent' }
  if (typeof fd === 'string') return { state: 'bad', reason: 'it is not a regular file', ino: undefined }
  try {
    const opened = runSync(fstat(fd))
    if (opened.kind !== 'file') return { state: 'bad', reason: 'it is not a regular file', ino: undefined }
    const bad = (reason: string): ContentState => ({ state: 'bad', reason, ino: opened.ino })
    const frame = readContentFrameHeader(runSync(read(fd, CONTENT_FRAME_HEADER_BYTES)))
    // A compressed file is always smaller than its content (it is kept only when it saves 10 %),
    // so a frame header naming a larger size means a framed file; anything else is raw bytes.
    if (frame !== undefined && frame.size > opened.size) {
      const framed = { size: frame.size, stored: opened.size, codec: frame.codec }
      if (!canDecode(frame.codec)) return { state: 'undecodable', ...framed }
      const found = await hashFramed(fd, frame, opened.size, hasher)
      report.bytesHashed += frame.size
      if (found === digest) return { state: 'ok', ...framed }
      // Raw content may begin with bytes that read as a frame header: it is good if it hashes.
      if ((await hashStream(fileStream(fd, 0, opened.size), hasher)) === digest) {
        report.bytesHashed += opened.size
        return { state: 'ok', size: opened.size, stored: opened.size, codec: 'none' }
      }
      return bad(
        found === undefined
          ? `its ${frame.codec} stream does not decompress to the ${counted(frame.size, 'byte')} its frame header gives`
          : `its bytes decompress to ${found}`,
      )
    }
    const found = await hashStream(fileStream(fd, 0, opened.size), hasher)
    report.bytesHashed += opened.size
    if (found !== digest) return bad(`its bytes hash to ${found}`)
    return { state: 'ok', size: opened.size, stored: opened.size, codec: 'none' }
  } finally {
    runSync(close(fd))
  }
}

/**
 * The digest of a framed content file's original bytes, decompressed from the open descriptor
 * in bounded memory; undefined when the stream does not decode to exactly `frame.size` bytes
 * (damaged, truncated, or a bomb: decoding stops at the size).
 */
async function hashFramed(
  fd: number,
  frame: ContentFrameHeader,
  stored: number,
  hasher: Hasher,
): Promise<string | undefined> {
  const decoded = decodeContentStream(
    fileStream(fd, CONTENT_FRAME_HEADER_BYTES, stored),
    frame.codec,
    frame.size,
  )
  try {
    return await hashStream(decoded, hasher)
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_CAIRN_CORRUPT') return undefined
    throw error
  }
}

const readAtAsync = promisify(readAt)

/** How much of a content file is read at a time. */
const CHUNK_BYTES = 256 * 1024

/**
 * Bytes `start` to `end` (exclusive) of the open file `fd`, read by position in bounded memory.
 * Destroying the stream leaves `fd` open (a file stream would close it): the caller closes it.
 */
function fileStream(fd: number, start: number, end: number): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let position = start
    while (position < end) {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, end - position))
      const { bytesRead } = await readAtAsync(fd, buffer, 0, buffer.length, position)
      if (bytesRead === 0) return
      position += bytesRead
      yield buffer.subarray(0, bytesRead)
    }
  }
  return Readable.from(chunks(), { objectMode: false })
}

async function hashStream(stream: Readable, hasher: Hasher): Promise<string> {
  const digest = hasher.stream()
  for await (const chunk of stream) digest.update(chunk as Buffer)
  return digest.digest()
}

/**
 * What is wrong between a record and the content file it names (which hashes to its digest),
 * or undefined when the record describes the file: raw or compressed with the same codec, the
 * same original size, and (compressed) the same bytes on disk.
 */
function mismatch(
  content: { size: number; stored: number; codec: Codec },
  record: { size: number; stored: number; codec: Codec },
): string | undefined {
  if (content.codec !== record.codec) {
    return `its record says its content is ${describeCodec(record.codec)}, the content file is ${describeCodec(content.codec)}`
  }
  if (content.size !== record.size) {
    return `its content has ${counted(content.size, 'byte')}, the record says ${record.size}`
  }
  if (content.stored !== record.stored) {
    return `its content file has ${counted(content.stored, 'byte')} on disk, the record says ${record.stored}`
  }
  return undefined
}

function describeCodec(codec: Codec): string {
  return codec === 'none' ? 'raw' : `compressed with ${codec}`
}

/** A record's bytes, or why it could not be read as one; undefined if it is gone. */
function readRecord(
  path: string,
): { bytes: Buffer; stat: FileStat; problem?: undefined } | { problem: string; stat: FileStat } | undefined {
  const fd = runSync(openForReading({ platform: process.platform }, path))
  if (fd === 'absent' || fd === 'busy') return undefined
  if (typeof fd === 'string') {
    return { problem: 'the entry record is not a regular file', stat: lstatOr(path) }
  }
  try {
    const stat = runSync(fstat(fd))
    if (stat.kind !== 'file') return { problem: 'the entry record is not a regular file', stat }
    if (stat.size > RECORD_MAX_BYTES) return { problem: 'the entry record is too large to be one', stat }
    return { bytes: runSync(read(fd, stat.size)), stat }
  } finally {
    runSync(close(fd))
  }
}

function lstatOr(path: string): FileStat {
  try {
    return runSync(lstat(path))
  } catch {
    return { kind: 'other', size: 0, mtimeMs: 0, ctimeMs: 0, ino: 0 }
  }
}

function stillThere(path: string, ino: number): boolean {
  try {
    return runSync(lstat(path)).ino === ino
  } catch {
    return false
  }
}

/** The names in a shard directory that belong there (start with the shard), sorted. */
function listNames(dir: string, shard: string, valid: (name: string) => boolean): string[] {
  try {
    return runSync(readdir(dir))
      .filter((name) => valid(name) && name.startsWith(shard))
      .sort()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return []
    throw error
  }
}

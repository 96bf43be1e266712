/**
 * `cairn verify`'s walk: re-hashes every content file and checks every entry record against
 * its content, reporting what is damaged without touching it (the store's own readers remove
 * what they find corrupt; a report must not). Removal is a separate step, {@link removeDamaged}.
 */

import { createHasher, DIGEST_LENGTH, type Hasher } from '@cairn/hash'
import { decodeRecord, isValidKey, Layout, RECORD_MAX_BYTES, SHARDS, type Store } from '@cairn/store'
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

/** What a check found. */
export interface CheckReport {
  entries: number
  contentFiles: number
  bytesHashed: number
  damage: Damage[]
}

type ContentState =
  | { state: 'ok'; size: number }
  | { state: 'absent' }
  | { state: 'bad'; reason: string; ino: number | undefined }

/**
 * Checks every entry and content file of `store`. An entry is damaged when its record does not
 * parse, its inline content or content file does not match the digest it names, or its content
 * file is missing or of another size. A content file is damaged when its bytes do not hash to
 * its name. In a store without hard links (copy mode), files younger than 10 seconds may still be
 * being written, so they are not judged.
 */
export async function checkStore(store: Store, now: () => number = Date.now): Promise<CheckReport> {
  const layout = new Layout(store.dir)
  const marker = runSync(readMarker(layout))
  const hasher = await createHasher({ algorithm: store.algorithm })
  const digestLength = DIGEST_LENGTH[store.algorithm]
  const young = (stat: FileStat) => marker?.publish === 'copy' && now() - stat.mtimeMs < COPY_MODE_GRACE_MS
  const report: CheckReport = { entries: 0, contentFiles: 0, bytesHashed: 0, damage: [] }
  const contents = new Map<string, ContentState>()

  const checkContent = async (digest: string): Promise<ContentState> => {
    const known = contents.get(digest)
    if (known) return known
    const state = await checkContentFile(layout, hasher, digest, young, report)
    contents.set(digest, state)
    if (state.state === 'bad') {
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
      } else if (content.size !== decoded.size) {
        damaged(`its content has ${counted(content.size, 'byte')}, the record says ${decoded.size}`)
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
  if (young(stat)) return { state: 'ok', size: stat.size }
  report.contentFiles += 1
  if (stat.kind !== 'file') return { state: 'bad', reason: 'it is not a regular file', ino: undefined }
  let found: string
  try {
    found = await hasher.file(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' }
    throw error
  }
  report.bytesHashed += stat.size
  if (found !== digest) return { state: 'bad', reason: `its bytes hash to ${found}`, ino: stat.ino }
  return { state: 'ok', size: stat.size }
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

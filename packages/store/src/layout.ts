/**
 * Where everything lives in a store. Only this module builds paths, so the layout in
 * docs/FORMAT.md ("Store layout") is written down once in code too. For example, with key
 * `3fa1…` and content digest `9c04…`:
 *
 *     <dir>/cairn-store.json              marker: format version, algorithm, publish mode
 *     <dir>/CACHEDIR.TAG                  tells backup tools to skip the directory
 *     <dir>/entries/3f/3fa1…              entry record (small contents inline)
 *     <dir>/content/9c/9c04…              content bytes, shared by equal outputs
 *     <dir>/tmp/<pid>-<random>-<n>        files being written; debris after a crash
 *     <dir>/tmp/gc-<digest>-<pid>-…       content a GC is deleting (sweep.ts)
 */

import { randomBytes } from 'node:crypto'
import { join, resolve, sep } from 'node:path'
import { CairnError } from './errors.js'

/** Version of the store layout and record format; written in the marker and in every record. */
export const STORE_FORMAT_VERSION = 1

export const MARKER_FILE = 'cairn-store.json'
export const CACHEDIR_TAG_FILE = 'CACHEDIR.TAG'
export const ENTRIES_DIR = 'entries'
export const CONTENT_DIR = 'content'
export const TMP_DIR = 'tmp'
/** Reserved for @cairn/gc: its lock and the time of the last completed prune. */
export const GC_LOCK_FILE = 'gc.lock'
export const GC_STAMP_FILE = 'gc.stamp'
/** Reserved for @cairn/gc: its scan index, a cache of what it read from records (docs/FORMAT.md). */
export const GC_INDEX_FILE = 'gc.index'
/** Reserved for @cairn/remote: one line of remote-tier counters per process, for `cairn stats`. */
export const REMOTE_STATS_FILE = 'remote-stats.jsonl'
/** Reserved for `cairn run`: its per-user, per-project stat caches (a local accelerator). */
export const RUN_STAT_CACHE_DIR = 'run-stat-cache'

/** Every name the format defines at the root of a store. */
export const ROOT_NAMES: readonly string[] = [
  MARKER_FILE,
  CACHEDIR_TAG_FILE,
  ENTRIES_DIR,
  CONTENT_DIR,
  TMP_DIR,
  GC_LOCK_FILE,
  GC_STAMP_FILE,
  GC_INDEX_FILE,
  REMOTE_STATS_FILE,
  RUN_STAT_CACHE_DIR,
]

/**
 * The 256 shard names, `00` to `ff`: the first two hex characters of a key or digest. Two
 * characters keep each directory near 4,000 files at a million entries (ext4 and NTFS stay fast
 * well past that) while a scan opens only 256 directories; a third level would cost a directory
 * lookup per operation and 4,096 directories to create and scan for no measurable gain.
 */
export const SHARDS: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, '0'),
)

const KEY_PATTERN = /^[0-9a-f]{16,128}$/

/** True for a valid key: 16 to 128 lowercase hex characters. */
export function isValidKey(key: unknown): key is string {
  return typeof key === 'string' && KEY_PATTERN.test(key)
}

/** Throws ERR_CAIRN_INVALID_KEY unless `key` is valid; nothing touches the disk before this. */
export function assertValidKey(key: unknown): asserts key is string {
  if (isValidKey(key)) return
  const shown =
    typeof key === 'string' ? JSON.stringify(key.length > 140 ? `${key.slice(0, 140)}…` : key) : typeof key
  throw new CairnError(
    'ERR_CAIRN_INVALID_KEY',
    `Invalid cache key ${shown}: a key is 16 to 128 lowercase hex characters, as @cairn/hash produces (hasher.key(...)).`,
  )
}

/** Paths inside one store. Build it once per store; every method is a string operation. */
export class Layout {
  readonly dir: string
  readonly marker: string
  readonly cachedirTag: string
  readonly entries: string
  readonly content: string
  readonly tmp: string
  readonly gcLock: string
  readonly gcStamp: string
  private readonly entriesPrefix: string
  private readonly contentPrefix: string
  private readonly tmpPrefix: string
  private readonly tempId: string
  private tempCounter = 0

  /**
   * @param uniqueId the part of temp names that sets this process apart: by default its pid and a
   *   random part (so a recycled pid cannot collide with a crashed writer's debris). The model
   *   checker passes a fixed id per actor, so its runs are reproducible.
   */
  constructor(dir: string, uniqueId = `${process.pid}-${randomBytes(4).toString('hex')}`) {
    this.tempId = uniqueId
    this.dir = resolve(dir)
    this.marker = join(this.dir, MARKER_FILE)
    this.cachedirTag = join(this.dir, CACHEDIR_TAG_FILE)
    this.entries = join(this.dir, ENTRIES_DIR)
    this.content = join(this.dir, CONTENT_DIR)
    this.tmp = join(this.dir, TMP_DIR)
    this.gcLock = join(this.dir, GC_LOCK_FILE)
    this.gcStamp = join(this.dir, GC_STAMP_FILE)
    this.entriesPrefix = this.entries + sep
    this.contentPrefix = this.content + sep
    this.tmpPrefix = this.tmp + sep
  }

  /** `entries/<first two of key>/<key>`; the key must already be valid. */
  entryPath(key: string): string {
    return `${this.entriesPrefix}${key.slice(0, 2)}${sep}${key}`
  }

  /** `content/<first two of digest>/<digest>`. */
  contentPath(digest: string): string {
    return `${this.contentPrefix}${digest.slice(0, 2)}${sep}${digest}`
  }

  entryShard(shard: string): string {
    return `${this.entriesPrefix}${shard}`
  }

  contentShard(shard: string): string {
    return `${this.contentPrefix}${shard}`
  }

  /**
   * A new temp file name, unique across processes: pid and a per-process random part (so a
   * recycled pid cannot collide with a crashed writer's debris), then a counter.
   */
  tempPath(): string {
    this.tempCounter += 1
    return `${this.tmpPrefix}${this.tempId}-${this.tempCounter}`
  }

  /** Where the GC moves content it is about to delete (sweep.ts): `tmp/gc-<digest>-<unique>`. */
  sweepPath(digest: string): string {
    this.tempCounter += 1
    return `${this.tmpPrefix}gc-${digest}-${this.tempId}-${this.tempCounter}`
  }
}

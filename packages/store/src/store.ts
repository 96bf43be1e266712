import { randomBytes } from 'node:crypto'
import { dirname, resolve } from 'node:path'
import { pipeline, type Readable, Readable as ReadableStream, Transform } from 'node:stream'
import { ALGORITHMS, type Algorithm, createHasher, DIGEST_LENGTH, type Hasher } from '@cairn/hash'
import { type CompressingCodec, compressAsync, compressSync, decodeContentStream } from './codec.js'
import { compressTempFile } from './compress-file.js'
import {
  type CompressionOption,
  type CompressionSettings,
  frameIfSmaller,
  parseCompression,
} from './compression.js'
import type { StoreContext, StoreStats } from './context.js'
import { deleteEntry } from './delete.js'
import { CairnError, errnoOf, ioError } from './errors.js'
import { CONTENT_FRAME_HEADER_BYTES } from './frame.js'
import { createReadStream, runAsync, runSync } from './fs.js'
import { assertValidKey, isValidKey, Layout, SHARDS } from './layout.js'
import { openOrCreate, readMarker } from './marker.js'
import { writeOutput } from './materialize.js'
import { encodeMetadata } from './metadata.js'
import { type PutResult, type PutSource, putEntry, unlinkQuietly } from './publish.js'
import { closeQuietly, type ReadDepth, type ReadOutcome, readEntry, removeCorrupt } from './read.js'
import type { JsonValue } from './record.js'
import { assessStore, checkDirectories, foreignOwnerError, guardFor } from './safety.js'
import { SLAB_BYTES, slabCopies, snapshotOf } from './snapshot.js'
import { type FileStat, fstat, type Protocol, readdir, rename } from './steps.js'
import { writeStreamToTemp } from './stream.js'

/** Options of {@link openStore}. */
export interface StoreOptions {
  /**
   * How much a read checks. `size` (default): the content's size matches its record, which
   * catches torn and truncated files at no cost. `hash`: also re-hashes the content on every
   * read, which catches bit rot and tampering at the cost of hashing (GB/s with xxh128).
   */
  verify?: 'size' | 'hash'
  /**
   * A hit refreshes the entry's last-use time (its mtime, which the GC orders by) at most once
   * per this many ms, so hits do not turn into writes. Default 3,600,000 (1 hour, as Go's build
   * cache). 0 refreshes on every hit.
   */
  touchInterval?: number
  /**
   * fsync each file and its directory before publishing. Default false: a cache may lose recent
   * entries on power loss, and Cairn detects what was lost (a torn file is a miss).
   */
  durable?: boolean
  /**
   * Digest algorithm for content; recorded in the store when it is created. Default: the store's
   * own, or `xxh128` for a new store. A store created with another algorithm is an error
   * (ERR_CAIRN_ALGORITHM_MISMATCH). `sha256` is collision-resistant (and what bazel-remote checks);
   * it does not make a store safe to share with writers you do not trust (docs/DESIGN.md, "Trust").
   */
  algorithm?: Algorithm
  /** The clock, in ms since the epoch. For tests; default Date.now. */
  now?: () => number
  /**
   * Lets a root process write into (and clean) a store whose directory another user owns.
   * Default false: root then only reads there, and `put`, `putSync` and `delete` throw
   * ERR_CAIRN_FOREIGN_OWNER, since that user could redirect root's writes and deletions with a
   * symlink (Git's rule since CVE-2022-24765). Set it only if you trust every user who can write
   * the store. The `cairn` commands set it from CAIRN_ALLOW_FOREIGN_OWNER=1.
   */
  allowForeignOwner?: boolean
  /**
   * How this process stores new content: `'none'` (default), `'gzip'`, `'brotli'`, `'zstd'`
   * (Node 22.15+ only: see `availableCodecs()`), or `{ codec, level?, threshold? }`. Content of
   * more than `threshold` bytes (default and minimum 4096; smaller content is inline in its
   * record) is compressed, and kept compressed only when that saves at least 10 %. Each entry
   * records its codec, so a store holds entries of any codecs, every read returns the original
   * bytes, and changing this option invalidates nothing. Costs CPU on every put and hit of a
   * compressed entry, and `materialize(…, { mode: 'link' })` copies such an entry instead of
   * linking it. See BENCHMARKS.md for measured ratios.
   * @throws {CairnError} ERR_CAIRN_INVALID_OPTION for another value, a level out of the codec's
   *   range, a threshold below 4096, or zstd on a Node without it.
   */
  compression?: CompressionOption
}

/** What `put` and `putSync` accept besides the data. */
export interface PutOptions {
  /** Caller's data stored with the entry: plain JSON, at most 64 KiB as JSON. */
  metadata?: JsonValue
  /** Aborts a put (its stream is read no further); it rejects with the signal's reason. */
  signal?: AbortSignal
}

/** What is known about an entry without reading its content. */
export interface EntryInfo {
  key: string
  /** Content size in bytes (uncompressed: what a read returns). */
  size: number
  /**
   * Bytes the content takes on disk: the compressed content file's size for a compressed entry,
   * else `size` (raw or inline content).
   */
  storedSize: number
  /** Content digest (the store's algorithm). */
  digest: string
  metadata: JsonValue | undefined
  /** When the entry was created. */
  time: Date
}

/** An entry with its content. */
export interface Entry extends EntryInfo {
  data: Buffer
}

export type PutData = Uint8Array | string | NodeJS.ReadableStream | AsyncIterable<Uint8Array>

const DEFAULT_TOUCH_INTERVAL_MS = 3_600_000

/**
 * Opens (or creates) the store in `dir`. A missing or empty directory becomes a new store; a
 * non-empty directory that is not a store is refused, so a mistyped path never writes into your
 * files.
 *
 * Concurrency: any number of processes and threads on one machine may use one store at once,
 * with no lock: entries are immutable and published atomically (see docs/DESIGN.md). Network
 * filesystems that implement link and exclusive create faithfully (NFSv3+, SMB with hard links)
 * work too; ones that do not fall back to copy mode, which is still safe but may waste a write.
 *
 * A store that other users can write (group- or world-writable, or another user's) is opened in
 * guarded mode: every step that creates or removes a name first checks that the directories on
 * its way are still the store's real directories (see safety.ts and docs/DESIGN.md, "Shared
 * stores").
 *
 * @throws {CairnError} ERR_CAIRN_NOT_A_STORE, ERR_CAIRN_FORMAT, ERR_CAIRN_ALGORITHM_MISMATCH,
 *   ERR_CAIRN_INVALID_OPTION, ERR_CAIRN_FOREIGN_OWNER (root creating a store in another user's
 *   directory), or ERR_CAIRN_IO (with the system error as `cause`).
 */
export async function openStore(dir: string, options: StoreOptions = {}): Promise<Store> {
  const opening = beginOpen(dir, options)
  if (opening.mustBeStore && (await runAsync(readMarker(opening.layout))) === undefined) {
    throw opening.refusal()
  }
  const marker = await runAsync(openOrCreate(opening.layout, options.algorithm, opening.checked.durable))
  return opening.finish(marker.algorithm, marker.publish, await createHasher({ algorithm: marker.algorithm }))
}

/**
 * {@link openStore}, synchronously, for synchronous hooks that learn the store's directory only
 * when they are first called (a Jest transformer learns its `rootDir` in `process`). Creating
 * an xxh128 hasher loads WebAssembly, which is asynchronous, so the caller creates the hashers
 * beforehand (`await createHasher(...)` from @cairn/hash) and passes one per algorithm it
 * accepts; the one matching the store's algorithm is used.
 *
 * @throws {CairnError} as {@link openStore}, and ERR_CAIRN_ALGORITHM_MISMATCH when no hasher
 *   given matches the store's algorithm.
 */
export function openStoreSync(dir: string, hashers: readonly Hasher[], options: StoreOptions = {}): Store {
  const opening = beginOpen(dir, options)
  if (opening.mustBeStore && runSync(readMarker(opening.layout)) === undefined) throw opening.refusal()
  const marker = runSync(openOrCreate(opening.layout, options.algorithm, opening.checked.durable))
  const hasher = hashers.find((candidate) => candidate.algorithm === marker.algorithm)
  if (hasher === undefined) {
    throw new CairnError(
      'ERR_CAIRN_ALGORITHM_MISMATCH',
      `The store at ${opening.layout.dir} uses ${marker.algorithm}, and openStoreSync was given no hasher for it: pass one made with createHasher({ algorithm: '${marker.algorithm}' }).`,
    )
  }
  return opening.finish(marker.algorithm, marker.publish, hasher)
}

/** The checks and state {@link openStore} and {@link openStoreSync} share around their I/O. */
function beginOpen(dir: string, options: StoreOptions) {
  if (typeof dir !== 'string' || dir === '') {
    throw new CairnError(
      'ERR_CAIRN_INVALID_OPTION',
      `openStore needs a directory path, got ${describe(dir)}.`,
    )
  }
  const checked = checkOptions(options)
  const layout = new Layout(dir)
  // Judged before anything is written: root must not even create a store in another user's
  // directory without the opt-in (safety.ts).
  const before = assessStore(layout)
  return {
    layout,
    checked,
    /** Only an existing store may be opened here: creating one would need the opt-in. */
    mustBeStore: before?.foreignOwner !== undefined && !checked.allowForeignOwner,
    refusal: () => foreignOwnerError(layout.dir, before?.foreignOwner ?? 0, 'create a store in'),
    finish(algorithm: Algorithm, publishMode: StoreContext['publishMode'], hasher: Hasher): Store {
      // Judged again now that entries/, content/ and tmp/ exist: created just now under a
      // permissive umask (000), they may be writable by everyone, which `before` could not see.
      const after = assessStore(layout)
      const safety =
        after === undefined || before === undefined
          ? (after ?? before)
          : {
              ...after,
              shared: after.shared || before.shared,
              foreignOwner: after.foreignOwner ?? before.foreignOwner,
            }
      const ctx: StoreContext = {
        layout,
        hasher,
        digestLength: DIGEST_LENGTH[algorithm],
        verify: checked.verify,
        touchInterval: checked.touchInterval,
        durable: checked.durable,
        publishMode,
        platform: process.platform,
        stats: { hits: 0, misses: 0, puts: 0, published: 0, corrupt: 0 },
        guard: safety && guardFor(safety),
        foreignOwner: checked.allowForeignOwner ? undefined : safety?.foreignOwner,
      }
      return new Store(ctx, options.now ?? Date.now, checked.compression)
    },
  }
}

/**
 * A cache store. Every method is safe to call concurrently, from this process and others.
 * Reads return a complete, correct entry or `undefined` (a miss), never a partial one, and
 * never fail because of what another process is doing.
 *
 * Sync or async: the `*Sync` methods share the async ones' protocol code and semantics exactly.
 * Use them from synchronous hooks (Jest transformers, Babel, TypeScript's compiler host) and for
 * small entries one at a time, where Node's synchronous fs calls are several times faster; use
 * the async ones to overlap many operations or large entries with other work.
 */
export class Store {
  /** The store directory, as an absolute path. */
  readonly dir: string
  readonly #ctx: StoreContext
  readonly #clock: () => number
  readonly #compression: CompressionSettings

  /** @internal Use {@link openStore}. */
  constructor(ctx: StoreContext, clock: () => number, compression: CompressionSettings) {
    this.#ctx = ctx
    this.#clock = clock
    this.#compression = compression
    this.dir = ctx.layout.dir
  }

  /**
   * @internal (static, so it is no part of a CacheStore) For a file another Cairn package writes by path in the store directory
   * (@cairn/remote's remote-stats.jsonl): this store's root rule and, in a store others can
   * write, its directory check (safety.ts). `foreignOwner` is set when this process is root in
   * another user's store without the opt-in: write nothing then. `check(path)` throws
   * ERR_CAIRN_UNSAFE_PATH unless the store directory is still the one opened and the directories
   * between it and `path` are real; call it right before each create or rename of `path`.
   */
  static fileGuard(store: Store): { foreignOwner: number | undefined; check(path: string): void } {
    const ctx = store.#ctx
    return { foreignOwner: ctx.foreignOwner, check: (path) => runSync(checkDirectories(ctx, path)) }
  }

  /** The digest algorithm of this store. */
  get algorithm(): Algorithm {
    return this.#ctx.hasher.algorithm
  }

  /**
   * Stores `data` under `key`, unless an entry for `key` exists: then the first writer wins and
   * the result says `published: false`. Streams and async iterables are hashed while they are
   * written to a temp file, in bounded memory. A stream that errors makes put reject with that
   * error; nothing is published and no temp file remains.
   *
   * A buffer is hashed and written from a copy, so the entry's content always matches its
   * digest. Up to 1 MiB the copy is taken before put returns its promise: the caller may reuse
   * the buffer at once. A larger buffer is copied 1 MiB at a time as it is written, so it must
   * not change until the put settles; if it does, the entry holds some of the new bytes (still
   * under their own digest).
   *
   * @throws {CairnError} ERR_CAIRN_INVALID_KEY, ERR_CAIRN_INVALID_DATA, ERR_CAIRN_INVALID_METADATA,
   *   or ERR_CAIRN_IO (disk full, permissions; the system error is the `cause`).
   */
  async put(key: string, data: PutData, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key)
    const metadataJson = encodeMetadata(options.metadata)
    options.signal?.throwIfAborted()
    let result: PutResult
    if (typeof data === 'string') {
      // Encoded into a buffer of put's own: nothing to copy.
      result = await this.#putOwnBytes(key, toBytes(data), metadataJson)
    } else if (data instanceof Uint8Array) {
      result = await this.#putBytes(key, data, metadataJson, options.signal)
    } else if (isAsyncIterable(data)) {
      const source = await writeStreamToTemp(this.#ctx, data, options.signal, this.#runner)
      result = await this.#putTemp(key, source, metadataJson)
    } else {
      throw invalidData(data)
    }
    return this.#countPut(result)
  }

  /**
   * put of bytes in memory, hashing and writing a copy (snapshot.ts): the caller's buffer may
   * change while the put awaits.
   */
  async #putBytes(
    key: string,
    data: Uint8Array,
    metadataJson: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<PutResult> {
    if (data.length <= SLAB_BYTES) {
      const snapshot = snapshotOf(data)
      try {
        return await this.#putOwnBytes(key, snapshot.bytes, metadataJson)
      } finally {
        snapshot.release()
      }
    }
    // Too large to copy whole: streamed a slab at a time. Checked first, as putEntry does for a
    // buffer, so that repeating a large put writes nothing.
    if ((await this.#run(readEntry(this.#ctx, key, 'info'))).found)
      return { key, digest: this.#ctx.hasher.bytes(data), size: data.length, published: false }
    const source = await writeStreamToTemp(this.#ctx, slabCopies(data), signal, this.#runner)
    return this.#putTemp(key, source, metadataJson)
  }

  /** The codec this store compresses `size` bytes of new content with, or undefined for raw. */
  #codecFor(size: number): CompressingCodec | undefined {
    const { codec, threshold } = this.#compression
    return codec === 'none' || size <= threshold ? undefined : codec
  }

  /** The result of a put that found the key taken before it wrote (or compressed) anything. */
  #notPublished(key: string, data: Uint8Array): PutResult {
    return { key, digest: this.#ctx.hasher.bytes(data), size: data.length, published: false }
  }

  /**
   * put of bytes only this put holds: compressed first (on the thread pool) when the store
   * compresses content of this size, unless the key is taken already, which is checked first
   * so that a repeated put costs one read and no compression.
   */
  async #putOwnBytes(key: string, data: Uint8Array, metadataJson: string | undefined): Promise<PutResult> {
    const codec = this.#codecFor(data.length)
    let source: PutSource = { kind: 'buffer', data }
    if (codec !== undefined) {
      if ((await this.#run(readEntry(this.#ctx, key, 'info'))).found) return this.#notPublished(key, data)
      const compressed = await compressAsync(codec, this.#compression.level, data)
      source = { kind: 'buffer', data, framed: frameIfSmaller(codec, data.length, compressed) }
    }
    return this.#run(putEntry(this.#ctx, key, source, metadataJson))
  }

  /**
   * put of a stream written to a temp file: compressed into a second temp file when the store
   * compresses content of this size and it saves 10 %, unless the key is taken already.
   */
  async #putTemp(
    key: string,
    written: PutSource & { kind: 'temp'; ino: number },
    metadataJson: string | undefined,
  ): Promise<PutResult> {
    const codec = this.#codecFor(written.size)
    let source: PutSource = written
    if (codec !== undefined) {
      try {
        if ((await this.#run(readEntry(this.#ctx, key, 'info'))).found) {
          return { key, digest: written.digest, size: written.size, published: false }
        }
        const framed = await compressTempFile(
          this.#ctx,
          { ...this.#compression, codec },
          written.tempPath,
          written.size,
          written.ino,
          this.#runner,
        )
        if (framed !== undefined) {
          source = { ...written, tempPath: framed.tempPath, codec, stored: framed.stored }
          await this.#run(unlinkQuietly(written.tempPath))
        }
      } catch (error) {
        await this.#run(unlinkQuietly(written.tempPath))
        throw error
      }
    }
    return this.#run(putEntry(this.#ctx, key, source, metadataJson))
  }

  /** {@link put} for data in memory, synchronously. */
  putSync(key: string, data: Uint8Array | string, options: Omit<PutOptions, 'signal'> = {}): PutResult {
    assertValidKey(key)
    const metadataJson = encodeMetadata(options.metadata)
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw invalidData(data)
    const bytes = toBytes(data)
    const codec = this.#codecFor(bytes.length)
    let source: PutSource = { kind: 'buffer', data: bytes }
    if (codec !== undefined) {
      // Checked first, as the async put does: a repeated put compresses nothing.
      if (runSync(readEntry(this.#ctx, key, 'info'), this.#clock).found)
        return this.#countPut(this.#notPublished(key, bytes))
      const compressed = compressSync(codec, this.#compression.level, bytes)
      source = { kind: 'buffer', data: bytes, framed: frameIfSmaller(codec, bytes.length, compressed) }
    }
    return this.#countPut(runSync(putEntry(this.#ctx, key, source, metadataJson), this.#clock))
  }

  /** Stores a file's contents under `key`, streamed: {@link put} semantics. */
  async putFile(key: string, path: string, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key)
    if (typeof path !== 'string' || path === '') {
      throw new CairnError('ERR_CAIRN_INVALID_DATA', `putFile needs a file path, got ${describe(path)}.`, {
        key,
      })
    }
    return this.put(key, createReadStream(path), options)
  }

  /** The entry with its content, or undefined on a miss. A hit refreshes its last-use time. */
  async get(key: string): Promise<Entry | undefined> {
    assertValidKey(key)
    return this.#toEntry(key, await this.#read(key, 'data'))
  }

  /** {@link get}, synchronously. */
  getSync(key: string): Entry | undefined {
    assertValidKey(key)
    return this.#toEntry(key, this.#readSync(key, 'data'))
  }

  /**
   * What is known about an entry without reading its content (which is checked to exist with
   * the right size), or undefined. Does not count as a use of the entry.
   */
  async info(key: string): Promise<EntryInfo | undefined> {
    assertValidKey(key)
    return toInfo(key, await this.#run(readEntry(this.#ctx, key, 'info')))
  }

  /** {@link info}, synchronously. */
  infoSync(key: string): EntryInfo | undefined {
    assertValidKey(key)
    return toInfo(key, runSync(readEntry(this.#ctx, key, 'info'), this.#clock))
  }

  /** Whether `get` would hit (as far as can be known without reading the content). */
  async has(key: string): Promise<boolean> {
    return (await this.info(key)) !== undefined
  }

  /** {@link has}, synchronously. */
  hasSync(key: string): boolean {
    return this.infoSync(key) !== undefined
  }

  /**
   * The entry's content as a stream, or undefined on a miss. The content file is opened before
   * this resolves, so a GC removing it later does not cut the stream short (on POSIX). With
   * `verify: 'hash'`, a digest mismatch is only known at the end: the stream then fails with
   * ERR_CAIRN_CORRUPT instead of ending. A compressed entry is decompressed as it streams, in
   * bounded memory; content that turns out not to decompress to exactly its size fails the
   * stream with ERR_CAIRN_CORRUPT too (the content file is removed first, so the next read is a
   * plain miss). A read error of the file fails the stream, and
   * destroying the stream early closes the file. Read it to the end or destroy it.
   */
  async getStream(key: string): Promise<{ info: EntryInfo; stream: Readable } | undefined> {
    assertValidKey(key)
    const outcome = await this.#read(key, 'open')
    if (!outcome.found) return undefined
    const info = infoOf(key, outcome)
    if (outcome.fd === undefined)
      // A byte stream like the file stream below, not an object-mode stream of one Buffer.
      return { info, stream: ReadableStream.from([outcome.data ?? Buffer.alloc(0)], { objectMode: false }) }
    const raw = await this.#contentStream(outcome, outcome.fd, true)
    if (this.#ctx.verify !== 'hash') return { info, stream: raw }
    // pipeline, not pipe: a caller destroying the stream early destroys the file stream too
    // (which closes the descriptor), and a read error of the file fails the caller's stream.
    const verifier = this.#verifier(key, info.digest, outcome.contentPath)
    pipeline(raw, verifier, () => {
      // Errors reach the caller through `verifier` itself.
    })
    return { info, stream: verifier }
  }

  /**
   * Writes the entry's content to `dest` (replacing it atomically), or returns false on a miss.
   * `copy` (default) clones copy-on-write where the filesystem can and gives a writable file
   * (0644). `link` hard-links the store's content file: zero-copy, but the file is shared with
   * the store, so it is read-only (0444) and must not be made writable and edited in place;
   * small (inline) entries, compressed entries (their content file is not the output: it is
   * decompressed into `dest`) and other filesystems fall back to a copy. Either way `dest` gets
   * the very bytes the read checked (see materialize.ts), or the result is a miss; compressed
   * content that does not decompress to its entry is removed, and a miss.
   */
  async materialize(key: string, dest: string, options: { mode?: 'copy' | 'link' } = {}): Promise<boolean> {
    assertValidKey(key)
    const mode = options.mode ?? 'copy'
    if (mode !== 'copy' && mode !== 'link') {
      throw new CairnError(
        'ERR_CAIRN_INVALID_OPTION',
        `materialize mode must be 'copy' or 'link', got ${describe(mode)}.`,
      )
    }
    // The content file stays open from its check to the end of the copy or link, which use that
    // descriptor rather than the path (materialize.ts).
    const outcome = await this.#read(key, this.#ctx.verify === 'hash' ? 'data' : 'open')
    if (!outcome.found) return false
    const target = resolve(dest)
    const temp = `${target}.cairn-${randomBytes(6).toString('hex')}`
    try {
      const decoded =
        outcome.fd !== undefined && outcome.record.codec !== 'none'
          ? await this.#contentStream(outcome, outcome.fd, false)
          : undefined
      if (!(await writeOutput(outcome, temp, mode, this.#runner, decoded))) {
        await this.#run(unlinkQuietly(temp))
        this.#ctx.stats.hits -= 1
        this.#ctx.stats.misses += 1
        return false
      }
      await this.#run(rename(temp, target))
      return true
    } catch (error) {
      await this.#run(unlinkQuietly(temp))
      if (error instanceof CairnError && error.code === 'ERR_CAIRN_CORRUPT') {
        // Compressed content that did not decompress to its entry: removed already, a miss.
        this.#ctx.stats.hits -= 1
        this.#ctx.stats.misses += 1
        return false
      }
      throw ioError(error, 'writing', errnoOf(error) === 'ENOENT' ? dirname(target) : target)
    } finally {
      if (outcome.fd !== undefined) await this.#run(closeQuietly(outcome.fd))
    }
  }

  /**
   * Removes the entry for `key`; true if there was one. Its content stays until the GC finds
   * it unreferenced, since other entries may share it. A reader that already opened the entry
   * finishes its read.
   */
  async delete(key: string): Promise<boolean> {
    assertValidKey(key)
    return this.#run(deleteEntry(this.#ctx, key))
  }

  /** {@link delete}, synchronously. */
  deleteSync(key: string): boolean {
    assertValidKey(key)
    return runSync(deleteEntry(this.#ctx, key), this.#clock)
  }

  /**
   * Every whole entry, shard by shard (in key order within a shard). Entries published or
   * removed during the walk may or may not appear. Does not count as a use of any entry.
   */
  async *entries(): AsyncIterable<EntryInfo> {
    for (const shard of SHARDS) {
      const names = await this.#run(listShard(this.#ctx, shard))
      for (const key of names) {
        const info = toInfo(key, await this.#run(readEntry(this.#ctx, key, 'info')))
        if (info) yield info
      }
    }
  }

  /** Counters for this process since the store was opened. */
  /**
   * Resolves when every write this store started has finished. A local store's writes are
   * finished when they resolve, so there is nothing to wait for; a store with a remote tier
   * (`@cairn/remote`) waits for its uploads. Code written for either calls it before exit.
   */
  async flush(): Promise<void> {}

  stats(): StoreStats {
    return { ...this.#ctx.stats }
  }

  readonly #runner = <T>(protocol: Protocol<T>): Promise<T> => runAsync(protocol, this.#clock)

  #run<T>(protocol: Protocol<T>): Promise<T> {
    return runAsync(protocol, this.#clock)
  }

  async #read(key: string, depth: ReadDepth): Promise<ReadOutcome> {
    return this.#countRead(await this.#run(readEntry(this.#ctx, key, depth)))
  }

  #readSync(key: string, depth: ReadDepth): ReadOutcome {
    return this.#countRead(runSync(readEntry(this.#ctx, key, depth), this.#clock))
  }

  #countRead(outcome: ReadOutcome): ReadOutcome {
    if (outcome.found) this.#ctx.stats.hits += 1
    else this.#ctx.stats.misses += 1
    return outcome
  }

  #countPut(result: PutResult): PutResult {
    this.#ctx.stats.puts += 1
    if (result.published) this.#ctx.stats.published += 1
    return result
  }

  #toEntry(key: string, outcome: ReadOutcome): Entry | undefined {
    if (!outcome.found || outcome.data === undefined) return undefined
    // A literal rather than a spread of infoOf: this is on every hit (about 0.3 µs of a 5 µs one).
    const { digest, size, metadata, time, codec, stored } = outcome.record
    const storedSize = codec === 'none' ? size : stored
    return { key, size, storedSize, digest, metadata, time: new Date(time), data: outcome.data }
  }

  /**
   * The original bytes of the content file open as `fd` (checked by the read: its size, and for
   * a framed file its header). Raw content is the file itself; framed content is decompressed
   * after the header, and a content file found corrupt on the way is counted and removed
   * (judged by the inode open now) before the stream fails with ERR_CAIRN_CORRUPT.
   */
  async #contentStream(
    outcome: ReadOutcome & { found: true },
    fd: number,
    autoClose: boolean,
  ): Promise<Readable> {
    const { codec, size } = outcome.record
    if (codec === 'none') return createReadStream('', { fd, autoClose, start: 0 })
    const judged: FileStat | undefined = await this.#run(fstat(fd)).catch(() => undefined)
    const ctx = this.#ctx
    const run = this.#runner
    const contentPath = outcome.contentPath as string
    const source = createReadStream('', { fd, autoClose, start: CONTENT_FRAME_HEADER_BYTES })
    return decodeContentStream(source, codec, size, async () => {
      ctx.stats.corrupt += 1
      await run(removeCorrupt(ctx, contentPath, judged))
    })
  }

  /** A pass-through stream that fails at the end if the content does not match `digest`. */
  #verifier(key: string, digest: string, contentPath: string | undefined): Transform {
    const hash = this.#ctx.hasher.stream()
    const ctx = this.#ctx
    const run = this.#runner
    return new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk)
        callback(null, chunk)
      },
      flush(callback) {
        if (hash.digest() === digest) return callback()
        ctx.stats.corrupt += 1
        const error = new CairnError(
          'ERR_CAIRN_CORRUPT',
          `The content of entry ${key} does not match its digest ${digest}: the store file was damaged and has been removed, so the next read is a miss. Treat this read as a miss.`,
          { key },
        )
        // Remove the damaged content as any other corrupt read does, so the next read of this
        // entry (or of any entry sharing the content) is a plain miss rather than this error
        // again; the entry record goes with the next read that finds its content missing.
        if (contentPath === undefined) return callback(error)
        run(removeCorrupt(ctx, contentPath, undefined)).then(
          () => callback(error),
          () => callback(error),
        )
      },
    })
  }
}

/** The valid keys in one entries shard, sorted; none if the shard is missing. */
function* listShard(ctx: StoreContext, shard: string): Protocol<string[]> {
  const path = ctx.layout.entryShard(shard)
  try {
    const names = yield* readdir(path)
    return names.filter((name) => isValidKey(name) && name.startsWith(shard)).sort()
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return []
    throw ioError(error, 'listing', path)
  }
}

function infoOf(key: string, outcome: ReadOutcome & { found: true }): EntryInfo {
  const { digest, size, metadata, time, codec, stored } = outcome.record
  return { key, size, storedSize: codec === 'none' ? size : stored, digest, metadata, time: new Date(time) }
}

function toInfo(key: string, outcome: ReadOutcome): EntryInfo | undefined {
  return outcome.found ? infoOf(key, outcome) : undefined
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
  )
}

function invalidData(data: unknown): CairnError {
  return new CairnError(
    'ERR_CAIRN_INVALID_DATA',
    `Cannot store ${describe(data)}: put takes a Uint8Array (or Buffer), a string, a readable stream or an async iterable of Uint8Arrays.`,
  )
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`
  if (typeof value === 'string') return JSON.stringify(value)
  return typeof value
}

interface CheckedOptions {
  compression: CompressionSettings
  verify: 'size' | 'hash'
  touchInterval: number
  durable: boolean
  allowForeignOwner: boolean
}

/** Every option openStore knows: anything else is a mistake worth saying (a typo silently ignored costs hits). */
const KNOWN_OPTIONS = new Set([
  'verify',
  'touchInterval',
  'durable',
  'algorithm',
  'now',
  'allowForeignOwner',
  'compression',
])

function checkOptions(options: StoreOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new CairnError(
      'ERR_CAIRN_INVALID_OPTION',
      `openStore options must be an object, got ${describe(options)}.`,
    )
  }
  for (const name of Object.keys(options)) {
    if (KNOWN_OPTIONS.has(name)) continue
    throw new CairnError(
      'ERR_CAIRN_INVALID_OPTION',
      name === 'remote'
        ? "openStore from @cairn/store has no remote tier: import openStore (or openRemoteStore) from '@cairn/remote', which takes the same options plus `remote`."
        : `openStore has no option ${JSON.stringify(name)}; the options are ${[...KNOWN_OPTIONS].join(', ')}.`,
    )
  }
  const {
    verify = 'size',
    touchInterval = DEFAULT_TOUCH_INTERVAL_MS,
    durable = false,
    algorithm,
    now,
    allowForeignOwner = false,
  } = options
  const bad = (name: string, value: unknown, expected: string) =>
    new CairnError(
      'ERR_CAIRN_INVALID_OPTION',
      `openStore option ${name} is ${describe(value)}; expected ${expected}.`,
    )
  if (verify !== 'size' && verify !== 'hash') throw bad('verify', verify, "'size' or 'hash'")
  if (typeof touchInterval !== 'number' || !(touchInterval >= 0) || !Number.isFinite(touchInterval)) {
    throw bad('touchInterval', touchInterval, 'a number of milliseconds, 0 or more')
  }
  if (typeof durable !== 'boolean') throw bad('durable', durable, 'true or false')
  if (algorithm !== undefined && !ALGORITHMS.includes(algorithm))
    throw bad('algorithm', algorithm, "'xxh128' or 'sha256'")
  if (now !== undefined && typeof now !== 'function')
    throw bad('now', now, 'a function returning ms since the epoch')
  if (typeof allowForeignOwner !== 'boolean')
    throw bad('allowForeignOwner', allowForeignOwner, 'true or false')
  return {
    verify,
    touchInterval,
    durable,
    allowForeignOwner,
    compression: parseCompression(options.compression),
  }
}

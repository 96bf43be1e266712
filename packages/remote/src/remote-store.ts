import type { Readable } from 'node:stream'
import { type Algorithm, createHasher, type Hasher } from '@cairn/hash'
import {
  type Entry,
  type EntryInfo,
  Layout,
  openStore,
  type PutData,
  type PutOptions,
  type PutResult,
  type Store,
  type StoreStats,
} from '@cairn/store'
import pLimit, { type LimitFunction } from 'p-limit'
import { CircuitBreaker } from './breaker.js'
import { type Download, downloadEntry } from './download.js'
import { RemoteFailure } from './failure.js'
import { HttpCache } from './http-cache.js'
import { readLocalEntry } from './local-entry.js'
import { checkRemoteOptions, type RemoteConfig, type RemoteStoreOptions, storeAlgorithm } from './options.js'
import { emptyRemoteStats, type RemoteStats } from './stats.js'
import { uploadEntry } from './upload.js'
import { Warnings } from './warnings.js'

/**
 * The public surface of a Store (every method and property, none of its internals). Both a
 * Store and a RemoteStore are CacheStores: code that takes either (the `cairn` CLI) types its
 * parameter as this.
 */
export type CacheStore = { [K in keyof Store]: Store[K] }

/**
 * Opens the store in `dir` with a remote tier: the shared HTTP cache at `options.remote.url`
 * (Bazel's HTTP cache protocol; docs/FORMAT.md, "Remote cache"). The local store is opened as
 * `openStore(dir, options)` opens it. Nothing is sent to the remote until the first lookup or
 * put: an unreachable cache does not slow down opening.
 *
 * With `remote.server: 'bazel-remote'`, the store must use sha256 (bazel-remote checks that
 * each cas/ blob's SHA-256 is its name): a new store is created with it, and an xxh128 store is
 * refused with ERR_CAIRN_ALGORITHM_MISMATCH.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_OPTION for bad remote options (the message never shows
 *   a header value or URL credentials), and whatever openStore throws.
 */
export async function openRemoteStore(dir: string, options: RemoteStoreOptions): Promise<RemoteStore> {
  // Not an object: checkRemoteOptions says what was expected.
  const { remote, ...storeOptions } = (
    typeof options === 'object' && options !== null ? options : {}
  ) as Partial<RemoteStoreOptions>
  const config = checkRemoteOptions(remote)
  const algorithm = storeAlgorithm(config, storeOptions.algorithm)
  const local = await openStore(dir, algorithm === undefined ? storeOptions : { ...storeOptions, algorithm })
  const hasher = await createHasher({ algorithm: local.algorithm })
  return new RemoteStore(local, hasher, config)
}

/**
 * A Store with a remote tier. It has the Store's methods and contract (a read is a whole,
 * correct entry or a miss; a put is published locally before it resolves), plus:
 *
 * - `get`, `info`, `has`, `getStream` and `materialize` look locally first; on a local miss
 *   they fetch the entry from the remote, check its content against its digest, publish it
 *   locally, and serve it from there. The `*Sync` methods are local only: they cannot wait for
 *   the network.
 * - `put`, `putSync` and `putFile` publish locally, then queue an upload (unless `mode` is
 *   `read-only`); at most `concurrency` run at once. {@link flush} waits for them; call it
 *   before the process exits.
 * - The remote never makes a method fail: a timeout, a refused connection, an unexpected
 *   status or a damaged download is a miss (or a dropped upload), counted in
 *   {@link remoteStats} and said once through `remote.warn`. After `failureThreshold` failures in a
 *   row, the remote is left alone for `cooldownMs` (said once). A local error while keeping a
 *   downloaded entry (a full disk) is a miss too, said once; local errors of a put still
 *   throw, as the Store's do.
 * - `delete`, `entries` and `stats` are about the local store only: other machines' copies
 *   are not this machine's to delete.
 *
 * Counters: `stats()` counts local lookups as the Store does, so a remote hit shows there as a
 * local miss (and, for getStream and materialize, as the local hit that serves the published
 * copy); `remoteStats()` counts what the remote did.
 */
export class RemoteStore implements CacheStore {
  /** The store directory, as an absolute path. */
  readonly dir: string
  /** The local tier: the store this one publishes into. */
  readonly local: Store
  readonly #hasher: Hasher
  readonly #config: RemoteConfig
  readonly #layout: Layout
  readonly #client: HttpCache
  readonly #breaker: CircuitBreaker
  readonly #warnings: Warnings
  readonly #stats = emptyRemoteStats()
  readonly #downloads: LimitFunction
  readonly #uploads: LimitFunction
  /** Uploads are skipped until this time (ms) after a request timed out; see #failed. */
  #uploadsHeldUntil = 0
  /** Uploads queued or running, by key: a key put twice in a row is uploaded once. */
  readonly #pending = new Map<string, Promise<void>>()

  /** @internal Use {@link openRemoteStore}. */
  constructor(local: Store, hasher: Hasher, config: RemoteConfig) {
    this.local = local
    this.dir = local.dir
    this.#hasher = hasher
    this.#config = config
    this.#layout = new Layout(local.dir)
    this.#client = new HttpCache(config, this.#stats)
    this.#breaker = new CircuitBreaker({
      threshold: config.failureThreshold,
      cooldownMs: config.cooldownMs,
      now: Date.now,
    })
    this.#warnings = new Warnings(config.warn, config.redactor)
    this.#downloads = pLimit(config.concurrency)
    this.#uploads = pLimit(config.concurrency)
    if (config.insecure) {
      this.#warnings.once(
        'insecure',
        `${config.baseUrl} is plain http:// to another machine: anyone on the network path can read the cache and change what this machine downloads (the digest check catches changed content, not a changed record naming other content). Use https://.`,
      )
    }
  }

  /** The digest algorithm of the local store, which the remote records carry too. */
  get algorithm(): Algorithm {
    return this.local.algorithm
  }

  /** The remote's base URL, credentials removed. */
  get remoteUrl(): string {
    return this.#config.baseUrl
  }

  /** Store.put, then an upload in the background. */
  async put(key: string, data: PutData, options: PutOptions = {}): Promise<PutResult> {
    return this.#uploadAfter(await this.local.put(key, data, options))
  }

  /** Store.putSync, then an upload in the background. */
  putSync(key: string, data: Uint8Array | string, options: Omit<PutOptions, 'signal'> = {}): PutResult {
    return this.#uploadAfter(this.local.putSync(key, data, options))
  }

  /** Store.putFile, then an upload in the background. */
  async putFile(key: string, path: string, options: PutOptions = {}): Promise<PutResult> {
    return this.#uploadAfter(await this.local.putFile(key, path, options))
  }

  /** The entry, from the local store or else the remote (then published locally), or undefined. */
  async get(key: string): Promise<Entry | undefined> {
    const entry = await this.local.get(key)
    if (entry !== undefined) return entry
    const download = await this.#download(key, true)
    return download?.found ? download.entry : undefined
  }

  /** Store.getSync: the local store only. */
  getSync(key: string): Entry | undefined {
    return this.local.getSync(key)
  }

  /**
   * What is known about the entry, locally or else from the remote. A remote entry is
   * downloaded and published locally to answer (its content must be checked to exist), so a
   * `get` that follows is local.
   */
  async info(key: string): Promise<EntryInfo | undefined> {
    const info = await this.local.info(key)
    if (info !== undefined) return info
    return (await this.#fetched(key)) ? this.local.info(key) : undefined
  }

  /** Store.infoSync: the local store only. */
  infoSync(key: string): EntryInfo | undefined {
    return this.local.infoSync(key)
  }

  /** Whether `get` would hit; see {@link info}. */
  async has(key: string): Promise<boolean> {
    return (await this.info(key)) !== undefined
  }

  /** Store.hasSync: the local store only. */
  hasSync(key: string): boolean {
    return this.local.hasSync(key)
  }

  /** Store.getStream, fetching the entry from the remote on a local miss. */
  async getStream(key: string): Promise<{ info: EntryInfo; stream: Readable } | undefined> {
    const found = await this.local.getStream(key)
    if (found !== undefined) return found
    return (await this.#fetched(key)) ? this.local.getStream(key) : undefined
  }

  /** Store.materialize, fetching the entry from the remote on a local miss. */
  async materialize(key: string, dest: string, options: { mode?: 'copy' | 'link' } = {}): Promise<boolean> {
    if (await this.local.materialize(key, dest, options)) return true
    return (await this.#fetched(key)) ? this.local.materialize(key, dest, options) : false
  }

  /** Store.delete: removes the local entry only. */
  async delete(key: string): Promise<boolean> {
    return this.local.delete(key)
  }

  /** Store.deleteSync: removes the local entry only. */
  deleteSync(key: string): boolean {
    return this.local.deleteSync(key)
  }

  /** Store.entries: the local entries only (a remote cache cannot be listed). */
  entries(): AsyncIterable<EntryInfo> {
    return this.local.entries()
  }

  /** The local store's counters (Store.stats). */
  stats(): StoreStats {
    return this.local.stats()
  }

  /** What the remote tier did since the store was opened. */
  remoteStats(): RemoteStats {
    return { ...this.#stats }
  }

  /**
   * Fetches every entry of `keys` that the local store lacks from the remote, up to
   * `concurrency` at once, and publishes it locally: the synchronous reads that follow
   * (`getSync`, which cannot wait for the network) then hit. A build tool that knows which
   * entries it will read (the `cairn` CLI, once it has a run's manifest) calls it first, which
   * also overlaps the downloads. Resolves to how many were fetched; remote failures are misses,
   * as in `get`.
   *
   * @throws {CairnError} ERR_CAIRN_INVALID_KEY before any request, for any invalid key.
   */
  async prefetch(keys: Iterable<string>): Promise<number> {
    const missing = [...new Set(keys)].filter((key) => !this.local.hasSync(key))
    const fetched = await Promise.all(missing.map((key) => this.#fetched(key)))
    return fetched.filter(Boolean).length
  }

  /**
   * Resolves when every upload queued so far has finished (sent, or given up; never rejects).
   * A build tool calls it before exiting: the process would wait for running uploads anyway,
   * but a caller that exits explicitly would cut them short.
   */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending.values())
  }

  async #fetched(key: string): Promise<boolean> {
    return (await this.#download(key, false))?.found === true
  }

  /** A local miss: the remote's entry, published locally, or undefined on any failure. */
  #download(key: string, keep: boolean): Promise<Download | undefined> {
    // The breaker is asked once the download's turn comes, not when it is queued: of a hundred
    // prefetches queued against a dead server, only the first few may wait for a timeout.
    return this.#downloads(() => this.#downloadNow(key, keep))
  }

  async #downloadNow(key: string, keep: boolean): Promise<Download | undefined> {
    if (!this.#breaker.allows() || !this.#shareable(key)) {
      this.#stats.misses += 1
      return undefined
    }
    let download: Download
    try {
      download = await downloadEntry(this.#client, this.#hasher, this.local, this.#layout, key, {
        keep,
        maxEntryBytes: this.#config.maxEntryBytes,
      })
    } catch (error) {
      this.#stats.misses += 1
      if (error instanceof RemoteFailure) {
        this.#failed(error, 'treated as a miss')
      } else {
        // Publishing locally failed (a full disk, permissions): the remote did nothing wrong,
        // so the breaker is not fed, and the lookup is a miss like any other failure (the
        // caller rebuilds, and its own put reports a disk that stays full).
        this.#warnings.once(
          'local-publish',
          `keeping ${key} from the remote cache in the local store failed: ${String(error)} (treated as a miss; later failures like it are not shown)`,
        )
      }
      return undefined
    }
    this.#breaker.succeeded()
    if (download.found) {
      this.#stats.hits += 1
      return download
    }
    this.#stats.misses += 1
    if (download.reason !== 'absent') {
      this.#warnings.once(download.reason, this.#missWarning(key, download.reason))
    }
    return download
  }

  #missWarning(key: string, reason: 'other-version' | 'other-algorithm' | 'too-large'): string {
    const url = this.#client.url('ac', key)
    switch (reason) {
      case 'other-algorithm':
        return `${url} was written by a store with another digest algorithm than this one (${this.algorithm}); such entries are misses. Use one algorithm for every store sharing a cache.`
      case 'other-version':
        return `${url} was written by another version of Cairn's remote format; such entries are misses.`
      case 'too-large':
        return `${url} names content larger than remote.maxEntryBytes (${this.#config.maxEntryBytes} bytes); such entries are misses. Raise maxEntryBytes to download them.`
    }
  }

  #uploadAfter(result: PutResult): PutResult {
    if (this.#config.readOnly || this.#pending.has(result.key) || !this.#shareable(result.key)) return result
    // An entry this put did not create may have come from the remote, or been uploaded by an
    // earlier run: the upload first asks whether the remote has its record.
    const upload = this.#uploads(() => this.#upload(result.key, !result.published)).finally(() => {
      this.#pending.delete(result.key)
    })
    this.#pending.set(result.key, upload)
    return result
  }

  /** Uploads one entry; never rejects. */
  async #upload(key: string, skipIfPresent: boolean): Promise<void> {
    if (!this.#breaker.allows() || Date.now() < this.#uploadsHeldUntil) {
      this.#stats.uploadsFailed += 1
      return
    }
    try {
      // Deleted or pruned since, or not a regular file of the right size: nothing to share.
      const entry = await readLocalEntry(this.#layout, this.algorithm, key)
      if (entry === undefined) return
      try {
        // Other machines would refuse to download it.
        if (entry.record.size > this.#config.maxEntryBytes) return
        if (await uploadEntry(this.#client, this.#hasher, key, entry, skipIfPresent)) this.#stats.uploads += 1
      } finally {
        await entry.close()
      }
      this.#breaker.succeeded()
    } catch (error) {
      this.#stats.uploadsFailed += 1
      if (error instanceof RemoteFailure) this.#failed(error, 'the upload is dropped')
      else this.#warnings.once('upload', `uploading ${key} failed: ${String(error)} (the upload is dropped)`)
    }
  }

  /**
   * Whether `key` may go to the remote. bazel-remote accepts only 64-hex-character ac/ names
   * (SHA-256 sized); a sha256 store's keys from @cairn/hash are, but a caller's own shorter
   * keys would be refused with HTTP 400 on every request, so they stay local, said once.
   */
  #shareable(key: string): boolean {
    if (this.#config.server !== 'bazel-remote' || key.length === 64) return true
    this.#warnings.once(
      'key-length',
      `bazel-remote accepts only 64-character keys; entries with other keys (such as ${key}) stay local.`,
    )
    return false
  }

  /** Counts a failed request, says so once per kind, and feeds the circuit breaker. */
  #failed(failure: RemoteFailure, outcome: string): void {
    this.#stats.errors += 1
    const kind = failure.status === undefined ? failure.code : `${failure.code} ${failure.status}`
    this.#warnings.once(kind, `${failure.message} (${outcome}; later failures like it are not shown)`)
    if (failure.code === 'ERR_CAIRN_REMOTE_TIMEOUT') {
      // A server that hung once usually hangs again, and each upload would wait out its own
      // timeout before the process may exit (flush): a `cairn run` miss would pay the lookup's
      // timeout and then its uploads'. Uploads are best effort, so they pause for a cooldown;
      // lookups go on under the breaker's count, since each of them can still save a build step.
      this.#uploadsHeldUntil = Date.now() + this.#breaker.cooldownMs
      this.#warnings.once(
        'uploads-held',
        `the remote cache did not answer in time; not uploading to it for ${Math.round(this.#breaker.cooldownMs / 1000)} s.`,
      )
    }
    if (this.#breaker.failed()) {
      this.#warnings.once(
        'breaker',
        `${this.#breaker.threshold} requests in a row failed; not using the remote cache for ${Math.round(this.#breaker.cooldownMs / 1000)} s at a time while it keeps failing.`,
      )
    }
  }
}

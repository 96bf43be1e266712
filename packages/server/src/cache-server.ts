/**
 * `createCacheServer`: the HTTP handler and its lifecycle. It speaks HTTP only: the protocol
 * modules (bazel.ts, turbo.ts, nx.ts) turn a request into a Route, storeKey turns a cache name
 * into a store key, and everything below is the Cairn store.
 */

import { readFileSync } from 'node:fs'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream/promises'
import { parseDuration, parseSize } from '@cairn/gc'
import { createHasher, type Hasher } from '@cairn/hash'
import { CairnError, type CompressionOption, type EntryInfo, openStore, type Store } from '@cairn/store'
import { parseTokenFile, type Standing, type TokenGrant, TokenSet } from './auth.js'
import { bazelRoute } from './bazel.js'
import {
  BodyTooLarge,
  boundedBody,
  ClientGone,
  DigestMismatch,
  drainAfterAnswer,
  readSmallBody,
} from './body.js'
import { describePrune, GcScheduler } from './gc-scheduler.js'
import { Metrics, type MetricsSnapshot, renderMetrics } from './metrics.js'
import { nxRoute } from './nx.js'
import type { CacheName, RequestLine, Route } from './route.js'
import { storeKey } from './store-key.js'
import { parseTurboQuery, turboHeaders, turboQueryAnswer, turboRoute } from './turbo.js'
import { UploadGate } from './upload-gate.js'

/** Default largest entry: 1 GiB. */
export const DEFAULT_MAX_ENTRY_SIZE = 1024 ** 3
/** Entries up to this size are read and written with the store's synchronous calls. */
const SMALL_ENTRY_BYTES = 64 * 1024
/** Largest body of Turbo's batch query. */
const QUERY_MAX_BYTES = 1024 * 1024
/** Most hashes in one batch query: each is a store lookup, run on the request's worker. */
export const QUERY_MAX_HASHES = 10_000
/** The batch query yields to the event loop after this many lookups, so other requests go on. */
const QUERY_LOOKUPS_PER_TURN = 256
/**
 * How often a GET hit refreshes an entry's last use (what the LRU GC sorts by). The store's
 * default (1 h) would make eviction oldest-first within the hour; 60 s costs at most one utimes
 * per entry a minute.
 */
export const SERVER_TOUCH_INTERVAL_MS = 60_000

/** Options of {@link createCacheServer}. */
export interface CacheServerOptions {
  /** The store: a directory (opened, or created with SHA-256 content digests) or an open Store. */
  store?: string | Store
  /** The store directory, another name for `store` as a path. */
  dir?: string
  /** Where {@link CacheServer.listen} listens when called without arguments: 127.0.0.1, 8080. */
  host?: string
  port?: number
  /** Read-write tokens. With no token of any kind, anyone may read and write. */
  tokens?: readonly string[]
  /** Read-only tokens: a write with one is a 403. */
  readTokens?: readonly string[]
  /** A file of `rw TOKEN` / `ro TOKEN` lines, `#` comments; read now and on {@link CacheServer.reloadTokens}. */
  tokenFile?: string
  /** Largest entry in bytes (or a size such as `'100MiB'`); larger uploads get a 413. Default 1 GiB. */
  maxEntrySize?: number | string
  /**
   * GC budget: content bytes to keep at most (or a size such as `'10GB'`). With it or `maxAge`,
   * the server runs prune itself.
   */
  maxSize?: number | string
  /** GC budget: ms (or a duration such as `'30d'`) since last use after which an entry goes. */
  maxAge?: number | string
  /**
   * Whether this server runs the GC for its budget. Default true. The cluster launcher turns it
   * off in its workers (the primary prunes) and passes `onWritten` instead.
   */
  gc?: boolean
  /** Called with the size of each entry stored (the cluster's workers report to the primary). */
  onWritten?: (bytes: number) => void
  /** Where `/metrics` reads its counters; default this server's own (the cluster sums workers'). */
  metricsSource?: () => Promise<MetricsSnapshot>
  /** Uploads streaming into the store at once; the rest wait unread. Default 64. */
  maxUploads?: number
  /** Ms a client may take to send its request headers. Default 20,000. */
  headersTimeout?: number
  /** Ms a client may take to send a whole request, body included. Default 900,000 (15 min). */
  requestTimeout?: number
  /** Ms a connection may go without sending or receiving a byte mid-request. Default 60,000. */
  idleTimeout?: number
  /**
   * Bytes a second an upload holding one of the `maxUploads` slots must send, averaged over each
   * `uploadRateWindow`; a slower one is cut (and stores nothing), so slow clients cannot hold
   * every slot. Default 16,384 (16 KiB/s); 0 turns the check off.
   */
  minUploadRate?: number
  /** Ms over which `minUploadRate` is measured. Default 30,000. */
  uploadRateWindow?: number
  /** PEM certificate and key (contents, not paths): serve HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer }
  /** Listen on a non-loopback address with no token configured. Default false: refused. */
  allowAnonymous?: boolean
  /** Where the server's messages go (GC runs, errors); default nowhere. */
  log?: (line: string) => void
  /** Passed to the store and prune: a root server may use a store another user owns. */
  allowForeignOwner?: boolean
  /**
   * The store's `compression` (openStore): the codec uploads are stored with when this server
   * opens the store. Downloads are the original bytes whatever the codec. Default none.
   */
  compression?: CompressionOption
}

/** Where a listening server is. */
export interface ListenAddress {
  /** `http://HOST:PORT` (`https://` with TLS), with the real port. */
  url: string
  host: string
  port: number
}

/**
 * A cache server: a request handler (the object itself is one, so `http.createServer(cache)`
 * works, as does `cache.handler`), and the lifecycle of its own listener.
 */
export interface CacheServer {
  (req: IncomingMessage, res: ServerResponse): void
  /**
   * The request handler, to mount in another Node HTTP server (then `listen` and `close` are not
   * used). The GC, when a budget is set, starts as soon as the store is open, listening or not.
   */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void
  /** The server `listen` uses (http or https), with the timeouts set. */
  readonly server: Server
  /** Resolves with the opened store (and rejects if it cannot be opened). */
  readonly ready: Promise<Store>
  /**
   * Listens on `host` (default: the `host` option, else 127.0.0.1) and `port` (default: the
   * `port` option, else 8080; 0 picks a free one). Also takes `{ port, host }`.
   *
   * @throws {CairnError} ERR_CAIRN_INVALID_OPTION for a non-loopback host with no token and no
   *   `allowAnonymous`.
   */
  listen(port?: number | { port?: number; host?: string }, host?: string): Promise<ListenAddress>
  /** Where it listens, once `listen` resolved: `http://HOST:PORT`. */
  readonly url: string | undefined
  /** Stops accepting, lets requests in flight finish, stops the GC (after a prune in progress). */
  close(): Promise<void>
  /**
   * Reads `tokenFile` again; the old tokens stay if it cannot be read or parsed (and this throws),
   * and also (with a log line) when it holds no token while the server is on a non-loopback host
   * without `allowAnonymous`: an emptied file must not open the cache to anyone.
   */
  reloadTokens(): void
  /** This server's counters. */
  metrics(): MetricsSnapshot
  /** Runs a prune now (when a budget is set), for tests and for `cairn serve` start-up. */
  pruneNow(): Promise<void>
}

/**
 * Creates a cache server over one Cairn store: Bazel's HTTP cache (also ccache's and Cairn's
 * remote tier), Turborepo's v8 API and Nx's self-hosted cache API, plus `/healthz` and
 * `/metrics`. Bodies stream to and from the store, never buffered whole; an upload the client
 * abandons stores nothing. Many servers (processes) may share one store directory with no lock.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_OPTION for a bad option or an unreadable token file.
 */
export function createCacheServer(given: CacheServerOptions): CacheServer {
  const checked = checkOptions(given)
  const { maxSize: _size, maxAge: _age, maxEntrySize: _entry, ...rest } = given
  const options = { ...rest, ...budgetOf(given) }
  let tokens = new TokenSet(grantsOf(options))
  const metrics = new Metrics()
  const log = options.log ?? (() => {})
  const uploads = new UploadGate(checked.maxUploads)
  const ready = openServerStore(options)
  ready.catch(() => {})
  let hasher: Hasher | undefined
  let gc: GcScheduler | undefined
  const budget = {
    ...(options.maxSize === undefined ? {} : { maxBytes: options.maxSize }),
    ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge }),
  }
  const gcWanted = options.gc !== false && (options.maxSize !== undefined || options.maxAge !== undefined)
  const started = ready.then(async (store) => {
    hasher = await createHasher({ algorithm: store.algorithm })
    if (gcWanted) {
      gc = new GcScheduler(store.dir, budget, {
        ...(options.allowForeignOwner ? { allowForeignOwner: true } : {}),
        onReport: (report) => {
          metrics.add('cairn_serve_gc_runs_total', 1)
          metrics.add('cairn_serve_gc_entries_removed_total', report.removed.entries)
          metrics.add('cairn_serve_gc_bytes_freed_total', report.removed.bytes)
          if (!report.skipped && report.removed.entries > 0) {
            log(describePrune(report))
          }
        },
        onError: (error) => log(`cairn serve: gc failed: ${messageOf(error)}`),
      })
      gc.start()
    }
    return store
  })
  started.catch(() => {})

  const written = (bytes: number): void => {
    gc?.noteWritten(bytes)
    options.onWritten?.(bytes)
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      metrics.add('cairn_serve_errors_total', 1)
      log(`cairn serve: ${req.method} ${req.url} failed: ${messageOf(error)}`)
      if (!res.headersSent) send(req, res, 500, 'The cache failed to answer; see the server log.\n')
      else res.destroy()
    })
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const line: RequestLine = {
      method: req.method ?? 'GET',
      path: q < 0 ? url : url.slice(0, q),
      query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
      header: (name) => {
        const value = req.headers[name]
        return Array.isArray(value) ? value[0] : value
      },
    }
    if (line.path === '/healthz' && (line.method === 'GET' || line.method === 'HEAD')) {
      return send(req, res, 200, 'ok\n')
    }
    const standing = tokens.standing(req.headers.authorization)
    const route = turboRoute(line) ?? nxRoute(line) ?? bazelRoute(line)
    // Credentials first: with tokens configured, a request without a valid one learns nothing
    // else (not whether its method or path would do).
    if (standing === 'missing' || standing === 'invalid') {
      if (route !== undefined) metrics.add('cairn_serve_rejected_total', 1, protocolOf(route))
      return unauthorized(req, res, standing)
    }
    if (line.path === '/metrics' && line.method === 'GET') {
      const snapshot = await (options.metricsSource ?? (async () => metrics.snapshot()))()
      return send(req, res, 200, renderMetrics(snapshot), { 'content-type': 'text/plain; version=0.0.4' })
    }
    if (route === undefined) {
      return send(
        req,
        res,
        404,
        `${JSON.stringify(line.path)} is not a cache path: see the @cairn/server README.\n`,
      )
    }
    if (route.op === 'refuse') {
      metrics.add('cairn_serve_rejected_total', 1, route.protocol)
      return send(req, res, route.status, `${route.message}\n`, route.allow ? { allow: route.allow } : {})
    }
    const writes = route.op === 'put' || (route.op === 'static' && route.write)
    if (writes && standing !== 'rw') {
      metrics.add('cairn_serve_rejected_total', 1, protocolOf(route))
      return send(req, res, 403, 'This token may only read: uploads need a read-write token.\n')
    }
    const store = await started
    switch (route.op) {
      case 'static':
        return send(req, res, route.status, JSON.stringify(route.body), {
          'content-type': 'application/json',
        })
      case 'get':
      case 'head':
        return read(req, res, store, route.op, route.target)
      case 'put':
        return write(req, res, store, route)
      case 'query':
        return query(req, res, store, route.namespace)
    }
  }

  async function read(
    req: IncomingMessage,
    res: ServerResponse,
    store: Store,
    op: 'get' | 'head',
    target: CacheName,
  ): Promise<void> {
    const key = storeKey(hasher as Hasher, target)
    // Synchronous reads of a record and a small file cost microseconds, far less than the async
    // path's round trips through the thread pool (bench/server.mjs: GET 1 KiB); entries past
    // SMALL_ENTRY_BYTES stream, never read whole.
    const info = store.infoSync(key)
    if (!info) return miss(req, res, target)
    if (op === 'head') {
      metrics.add('cairn_serve_hits_total', 1, target.protocol)
      res.writeHead(200, entryHeaders(info, target))
      res.end()
      return
    }
    if (info.size <= SMALL_ENTRY_BYTES) {
      const entry = store.getSync(key)
      // Gone since the info (a prune): a miss like any other.
      if (!entry) return miss(req, res, target)
      metrics.add('cairn_serve_hits_total', 1, target.protocol)
      metrics.add('cairn_serve_bytes_out_total', entry.size, target.protocol)
      res.writeHead(200, entryHeaders(entry, target))
      res.end(entry.data)
      return
    }
    const found = await store.getStream(key)
    if (!found) return miss(req, res, target)
    metrics.add('cairn_serve_hits_total', 1, target.protocol)
    res.writeHead(200, entryHeaders(found.info, target))
    try {
      await pipeline(found.stream, res)
      metrics.add('cairn_serve_bytes_out_total', found.info.size, target.protocol)
    } catch (error) {
      // The client went away mid-download (nothing to answer), or the content failed a check on
      // the way (the client sees a short body against its Content-Length).
      const clientLeft = req.socket.destroyed
      found.stream.destroy()
      res.destroy()
      if (!clientLeft) throw error
    }
  }

  async function write(
    req: IncomingMessage,
    res: ServerResponse,
    store: Store,
    route: Route & { op: 'put' },
  ): Promise<void> {
    const { target } = route
    const protocol = target.protocol
    const declared = Number(req.headers['content-length'])
    if (req.headers['content-length'] !== undefined && declared > checked.maxEntrySize) {
      return tooLarge(req, res, protocol)
    }
    const key = storeKey(hasher as Hasher, target)
    // An entry that exists is not uploaded again: the first writer wins, and the rest of this body
    // is read and dropped after the answer (drainAfterAnswer). Not for content named by its
    // digest: that body is still checked against its name (400 on a mismatch), and the put then
    // finds the entry and keeps the first one.
    if (route.sha256 === undefined && store.hasSync(key)) return stored(req, res, route, false)
    const small = req.headers['content-length'] !== undefined && declared <= SMALL_ENTRY_BYTES
    // Small bodies skip the gate: they are read at once and stored synchronously, holding nothing.
    // A queued upload's connection is idle by design: its idle timer waits with it.
    let release = () => {}
    if (!small) {
      req.socket.setTimeout(0)
      release = await uploads.acquire()
      req.socket.setTimeout(checked.idleTimeout)
    }
    const slow = small ? undefined : watchUploadRate(req)
    let size = 0
    let published: boolean
    try {
      proceed(req, res)
      const body = boundedBody(req, { limit: checked.maxEntrySize, sha256: route.sha256 })
      const options = route.metadata ? { metadata: route.metadata } : {}
      if (small) {
        // A small body, bounded by its Content-Length, is gathered and stored synchronously (see read).
        const chunks: Uint8Array[] = []
        for await (const chunk of body) chunks.push(chunk)
        const data = Buffer.concat(chunks)
        size = data.length
        published = store.putSync(key, data, options).published
      } else {
        const counted = (async function* () {
          for await (const chunk of body) {
            size += chunk.length
            yield chunk
          }
        })()
        published = (await store.put(key, counted, options)).published
      }
    } catch (error) {
      if (error instanceof BodyTooLarge) return tooLarge(req, res, protocol)
      if (error instanceof DigestMismatch) {
        metrics.add('cairn_serve_rejected_total', 1, protocol)
        return send(req, res, 400, `${error.message}\n`)
      }
      if (error instanceof ClientGone) {
        res.destroy()
        return
      }
      throw error
    } finally {
      if (slow !== undefined) clearInterval(slow)
      release()
    }
    if (published) {
      metrics.add('cairn_serve_bytes_in_total', size, protocol)
      metrics.add('cairn_serve_entries_written_total', 1, protocol)
      written(size)
    }
    return stored(req, res, route, published)
  }

  /**
   * Cuts an upload holding a gate slot that sends less than minUploadRate over a window: it
   * stores nothing (ClientGone) and frees its slot for the uploads queued behind it.
   */
  function watchUploadRate(req: IncomingMessage): NodeJS.Timeout | undefined {
    if (checked.minUploadRate === 0) return undefined
    let last = req.socket.bytesRead
    const timer = setInterval(() => {
      const now = req.socket.bytesRead
      if (now - last < (checked.minUploadRate * checked.uploadRateWindow) / 1000) {
        metrics.add('cairn_serve_rejected_total', 1)
        log(`cairn serve: ${req.method} ${req.url} cut: slower than ${checked.minUploadRate} bytes/s`)
        req.socket.destroy()
      }
      last = now
    }, checked.uploadRateWindow)
    timer.unref()
    return timer
  }

  function stored(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route & { op: 'put' },
    published: boolean,
  ): void {
    if (!published && route.existing === 'conflict') {
      send(req, res, 409, 'This entry exists: the first upload wins.\n')
    } else if (route.target.protocol === 'turbo') {
      send(req, res, route.created, JSON.stringify({ urls: [] }), { 'content-type': 'application/json' })
    } else {
      send(req, res, route.created, '')
    }
  }

  async function query(
    req: IncomingMessage,
    res: ServerResponse,
    store: Store,
    namespace: string,
  ): Promise<void> {
    proceed(req, res)
    const body = await readSmallBody(req, QUERY_MAX_BYTES)
    if (body === undefined) return send(req, res, 413, `The query is larger than ${QUERY_MAX_BYTES} bytes.\n`)
    const parsed = parseTurboQuery(body.toString('utf8'))
    if (typeof parsed === 'string') return send(req, res, 400, `${parsed}\n`)
    const hashes = new Set(parsed)
    if (hashes.size > QUERY_MAX_HASHES) {
      return send(
        req,
        res,
        400,
        `The query asks about ${hashes.size} hashes; at most ${QUERY_MAX_HASHES} at once: split it.\n`,
      )
    }
    // A Map, not an object: a hash named "__proto__" must be a key like any other.
    const answer = new Map<string, unknown>()
    let looked = 0
    for (const hash of hashes) {
      // Each lookup is synchronous: yield now and then so /healthz and other requests go on.
      if (++looked % QUERY_LOOKUPS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve))
      const info = store.infoSync(storeKey(hasher as Hasher, { protocol: 'turbo', namespace, name: hash }))
      metrics.add(info ? 'cairn_serve_hits_total' : 'cairn_serve_misses_total', 1, 'turbo')
      answer.set(hash, info ? turboQueryAnswer(info.size, info.metadata) : null)
    }
    if (req.socket.destroyed) return
    return send(req, res, 200, JSON.stringify(Object.fromEntries(answer)), {
      'content-type': 'application/json',
    })
  }

  function miss(req: IncomingMessage, res: ServerResponse, target: CacheName): void {
    metrics.add('cairn_serve_misses_total', 1, target.protocol)
    send(req, res, 404, req.method === 'HEAD' ? '' : 'Not in the cache.\n')
  }

  function tooLarge(req: IncomingMessage, res: ServerResponse, protocol: CacheName['protocol']): void {
    metrics.add('cairn_serve_rejected_total', 1, protocol)
    send(
      req,
      res,
      413,
      `The entry is larger than the server's limit of ${checked.maxEntrySize} bytes (--max-entry-size).\n`,
    )
  }

  // Node checks the header and request timeouts every connectionsCheckingInterval (30 s by
  // default), so a slow client could hold a connection that long past them.
  const timing = { connectionsCheckingInterval: Math.max(100, Math.min(1000, checked.headersTimeout / 4)) }
  const server = options.tls
    ? createHttpsServer({ ...timing, cert: options.tls.cert, key: options.tls.key })
    : createHttpServer(timing)
  server.on('request', handler)
  // A client sending `Expect: 100-continue` is told to go on only when its body is about to be
  // read (proceed): a 401, 403, 409 or 413 comes before it sends the body.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    awaitingContinue.add(req)
    server.emit('request', req, res)
  })
  server.headersTimeout = checked.headersTimeout
  server.requestTimeout = checked.requestTimeout
  server.setTimeout(checked.idleTimeout, (socket) => socket.destroy())
  let listening: ListenAddress | undefined

  const cache = Object.assign(handler, {
    handler,
    server,
    ready,
    url: undefined as string | undefined,
    async listen(first?: number | { port?: number; host?: string }, second?: string) {
      const asked = typeof first === 'object' && first !== null ? first : { port: first, host: second }
      const port = asked.port ?? options.port ?? 8080
      const host = asked.host ?? options.host ?? '127.0.0.1'
      checkExposure(host, tokens.size, options.allowAnonymous === true)
      await started
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      const address = server.address() as AddressInfo
      const shown = address.family === 'IPv6' || host.includes(':') ? `[${host}]` : host
      listening = {
        url: `${options.tls ? 'https' : 'http'}://${shown}:${address.port}`,
        host,
        port: address.port,
      }
      return listening
    },
    async close() {
      const closed = listening
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve()
      server.closeIdleConnections()
      await gc?.stop()
      await closed
    },
    reloadTokens() {
      const next = new TokenSet(grantsOf(options))
      const host = listening?.host ?? options.host ?? '127.0.0.1'
      if (next.size === 0 && tokens.size > 0 && !isLoopback(host) && options.allowAnonymous !== true) {
        log(
          `cairn serve: the token file ${options.tokenFile} has no token now; the old tokens stay (serving ${host} with none would let anyone read and write: pass --allow-anonymous for that)`,
        )
        return
      }
      tokens = next
    },
    metrics: () => metrics.snapshot(),
    async pruneNow() {
      await started
      await gc?.trigger()
    },
  })
  // A getter, which Object.assign would have read once instead of copying.
  Object.defineProperty(cache, 'url', { get: () => listening?.url, enumerable: true })
  return cache
}

/**
 * The GC budget and entry limit of `options` as numbers: sizes and durations given as text
 * (`'10GB'`, `'30d'`) are read as `cairn gc` reads them.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_POLICY quoting a size or duration that is neither.
 */
export function budgetOf(options: Pick<CacheServerOptions, 'maxSize' | 'maxAge' | 'maxEntrySize'>): {
  maxSize?: number
  maxAge?: number
  maxEntrySize?: number
} {
  const size = (value: number | string | undefined) => (typeof value === 'string' ? parseSize(value) : value)
  const maxSize = size(options.maxSize)
  const maxEntrySize = size(options.maxEntrySize)
  const maxAge = typeof options.maxAge === 'string' ? parseDuration(options.maxAge) : options.maxAge
  return {
    ...(maxSize === undefined ? {} : { maxSize }),
    ...(maxAge === undefined ? {} : { maxAge }),
    ...(maxEntrySize === undefined ? {} : { maxEntrySize }),
  }
}

interface CheckedOptions {
  maxEntrySize: number
  maxUploads: number
  headersTimeout: number
  requestTimeout: number
  idleTimeout: number
  minUploadRate: number
  uploadRateWindow: number
}

function checkOptions(options: CacheServerOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new CairnError(
      'ERR_CAIRN_INVALID_OPTION',
      'createCacheServer needs an options object with a store.',
    )
  }
  const count = (name: string, value: number | undefined, fallback: number, min = 0): number => {
    if (value === undefined) return fallback
    if (!Number.isSafeInteger(value) || value < min) {
      throw new CairnError(
        'ERR_CAIRN_INVALID_OPTION',
        `createCacheServer option ${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}.`,
      )
    }
    return value
  }
  if (options.store === undefined && options.dir === undefined) {
    throw new CairnError(
      'ERR_CAIRN_INVALID_OPTION',
      'createCacheServer needs a store: a directory path or an open Store.',
    )
  }
  const numbers = budgetOf(options)
  count('maxSize', numbers.maxSize, 0)
  count('maxAge', numbers.maxAge, 0)
  return {
    maxEntrySize: count('maxEntrySize', numbers.maxEntrySize, DEFAULT_MAX_ENTRY_SIZE),
    maxUploads: count('maxUploads', options.maxUploads, 64, 1),
    headersTimeout: count('headersTimeout', options.headersTimeout, 20_000, 1),
    requestTimeout: count('requestTimeout', options.requestTimeout, 900_000),
    idleTimeout: count('idleTimeout', options.idleTimeout, 60_000),
    minUploadRate: count('minUploadRate', options.minUploadRate, 16 * 1024),
    uploadRateWindow: count('uploadRateWindow', options.uploadRateWindow, 30_000, 1),
  }
}

/** The tokens `options` gives (reading `tokenFile`). @throws {CairnError} ERR_CAIRN_INVALID_OPTION */
export function grantsOf(
  options: Pick<CacheServerOptions, 'tokens' | 'readTokens' | 'tokenFile'>,
): TokenGrant[] {
  const grants: TokenGrant[] = [
    ...(options.tokens ?? []).map((token) => ({ token, access: 'rw' as const })),
    ...(options.readTokens ?? []).map((token) => ({ token, access: 'ro' as const })),
  ]
  if (options.tokenFile !== undefined) {
    let text: string
    try {
      text = readFileSync(options.tokenFile, 'utf8')
    } catch (error) {
      throw new CairnError(
        'ERR_CAIRN_INVALID_OPTION',
        `Cannot read the token file ${options.tokenFile}: ${messageOf(error)}`,
        {
          path: options.tokenFile,
          cause: error,
        },
      )
    }
    grants.push(...parseTokenFile(text, options.tokenFile))
  }
  for (const { token } of grants) {
    if (token === '' || /\s/.test(token)) {
      throw new CairnError('ERR_CAIRN_INVALID_OPTION', 'A token must be non-empty and contain no whitespace.')
    }
  }
  return grants
}

/**
 * Opens the store. A new store gets SHA-256 content digests: clients the server does not control
 * write into it, and xxh128 is not collision-resistant against one crafting content. An existing
 * store keeps its own algorithm.
 */
async function openServerStore(options: CacheServerOptions): Promise<Store> {
  if (options.store !== undefined && typeof options.store !== 'string') return options.store
  const dir = (options.store ?? options.dir) as string
  const storeOptions = {
    touchInterval: SERVER_TOUCH_INTERVAL_MS,
    ...(options.allowForeignOwner ? { allowForeignOwner: true } : {}),
    ...(options.compression === undefined ? {} : { compression: options.compression }),
  }
  try {
    return await openStore(dir, { ...storeOptions, algorithm: 'sha256' })
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_CAIRN_ALGORITHM_MISMATCH') throw error
    return openStore(dir, storeOptions)
  }
}

function entryHeaders(info: EntryInfo, target: CacheName): Record<string, string> {
  return {
    'content-type': 'application/octet-stream',
    'content-length': String(info.size),
    ...(target.protocol === 'turbo' ? turboHeaders(info.metadata) : {}),
  }
}

function protocolOf(route: Route): CacheName['protocol'] {
  return 'target' in route ? route.target.protocol : route.protocol
}

/** Requests with `Expect: 100-continue` not yet told to send their body. */
const awaitingContinue = new WeakSet<IncomingMessage>()

/** Tells a client waiting on `Expect: 100-continue` to send its body, now that it will be read. */
function proceed(req: IncomingMessage, res: ServerResponse): void {
  if (awaitingContinue.delete(req)) res.writeContinue()
}

/** Answers with a small body; if the request's body is still arriving, it is drained first. */
function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  // A client never told to continue may or may not send its body now: the connection cannot be
  // reused safely, so it closes after the answer.
  if (awaitingContinue.delete(req)) headers = { ...headers, connection: 'close' }
  drainAfterAnswer(req, res)
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}

function unauthorized(req: IncomingMessage, res: ServerResponse, standing: Standing): void {
  send(
    req,
    res,
    401,
    standing === 'missing'
      ? 'This cache needs a token: send "Authorization: Bearer <token>" (or Basic with the token as password).\n'
      : 'This token is not valid here.\n',
    { 'www-authenticate': 'Bearer realm="cairn", Basic realm="cairn"' },
  )
}

/**
 * Refuses a non-loopback `host` when no token is configured, unless `allowAnonymous`.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_OPTION
 */
export function checkExposure(host: string, tokenCount: number, allowAnonymous: boolean): void {
  if (tokenCount === 0 && !isLoopback(host) && !allowAnonymous) {
    throw new CairnError(
      'ERR_CAIRN_INVALID_OPTION',
      `Refusing to serve ${host} with no token: anyone who can reach it could read and write the cache. Give --token (or --token-file), listen on 127.0.0.1, or pass --allow-anonymous.`,
    )
  }
}

/** Whether `host` is a loopback address or name, where a server without tokens is only local. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

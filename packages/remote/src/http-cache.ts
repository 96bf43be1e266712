import type { DigestStream } from '@cairn/hash'
import { networkFailure, RemoteFailure } from './failure.js'
import type { RemoteConfig } from './options.js'
import type { RemoteStats } from './stats.js'
import { TransferTimer, transferDeadlineMs } from './transfer-timer.js'

/** The two halves of Bazel's HTTP cache protocol: action cache (records) and content. */
export type Namespace = 'ac' | 'cas'

/** A content download in progress; see HttpCache.getContent. */
export interface ContentBody {
  chunks: AsyncIterable<Uint8Array>
  close(): Promise<void>
}

/** An upload body, built afresh for each attempt; `progress` is called with each chunk's size. */
export type BodySource = (progress: (bytes: number) => void) => Uint8Array | ReadableStream<Uint8Array>

/**
 * A client for one remote cache: `GET`, `HEAD` and `PUT` of `<base>/ac/<key>` and
 * `<base>/cas/<digest>` with Node's fetch (undici, whose global agent keeps connections alive).
 * Every method resolves with the answer or `undefined`/false for a 404, and otherwise throws a
 * RemoteFailure (never another error): the caller turns those into misses.
 *
 * A request whose connection broke before any answer is tried once more: a keep-alive
 * connection the server closed while idle fails that way, and nothing was done on the server.
 * Every request here is idempotent (a PUT of the same name stores the same bytes).
 */
export class HttpCache {
  readonly #config: RemoteConfig
  readonly #stats: RemoteStats
  /** The MKCOL of each namespace a 409 made us create, made once (see put). */
  readonly #collections = new Map<Namespace, Promise<void>>()

  constructor(config: RemoteConfig, stats: RemoteStats) {
    this.#config = config
    this.#stats = stats
  }

  /** `<base>/<namespace>/<name>`, without credentials: safe to print once redacted. */
  url(namespace: Namespace, name: string): string {
    return `${this.#config.baseUrl}/${namespace}/${name}`
  }

  /**
   * A small document whole (a record), or undefined if the server has none. Waits at most
   * `timeoutMs` in all.
   *
   * @throws {RemoteFailure} ERR_CAIRN_REMOTE_CORRUPT when the body is longer than `maxBytes`.
   */
  async getSmall(namespace: Namespace, name: string, maxBytes: number): Promise<Buffer | undefined> {
    const request = `GET ${this.url(namespace, name)}`
    const signal = AbortSignal.timeout(this.#config.timeoutMs)
    const response = await this.#send(
      request,
      namespace,
      name,
      { method: 'GET', signal },
      () => signal.aborted,
    )
    if (response === undefined) return undefined
    const problem = encodingProblem(response)
    if (problem !== undefined) {
      await cancel(response)
      throw new RemoteFailure('ERR_CAIRN_REMOTE_CORRUPT', request, problem)
    }
    const chunks: Uint8Array[] = []
    let total = 0
    try {
      for await (const chunk of readChunks(response)) {
        total += chunk.length
        this.#stats.bytesDown += chunk.length
        if (total > maxBytes) {
          throw new RemoteFailure(
            'ERR_CAIRN_REMOTE_CORRUPT',
            request,
            `the body is larger than ${maxBytes} bytes`,
          )
        }
        chunks.push(chunk)
      }
    } catch (error) {
      throw networkFailure(request, error, signal.aborted, this.#config.timeoutMs)
    }
    return Buffer.concat(chunks, total)
  }

  /**
   * Content, as chunks checked while they arrive: the iterable throws ERR_CAIRN_REMOTE_CORRUPT
   * at the first byte past `size`, and at the end if there were fewer bytes or their digest
   * (computed with `check`) is not `digest`. So a consumer that publishes only after the last
   * chunk (Store.put of an iterable) never publishes wrong bytes. Undefined if the server has
   * none. The wait for the answer and for each chunk is at most `timeoutMs`, and the whole
   * transfer at most `timeoutMs` plus `size` at `minBytesPerSecond`. A compressed answer is
   * refused before any of it is decoded: the caller bounds `size`, but a few hundred kilobytes
   * of gzip decode to gigabytes, and the request asked for none. The caller must call `close()`
   * when done (it may not have iterated at all): it ends the request and its timer.
   */
  async getContent(digest: string, size: number, check: DigestStream): Promise<ContentBody | undefined> {
    const request = `GET ${this.url('cas', digest)}`
    const timer = this.#transferTimer(size)
    let response: Response | undefined
    try {
      response = await this.#send(
        request,
        'cas',
        digest,
        { method: 'GET', signal: timer.signal },
        () => timer.signal.aborted,
        timer.signal,
      )
    } finally {
      if (response === undefined) timer.clear()
    }
    if (response === undefined) return undefined
    const announced = response.headers.get('content-length')
    const problem =
      encodingProblem(response) ??
      (announced !== null && Number(announced) !== size
        ? `the server announces ${announced} bytes; the record says ${size}`
        : undefined)
    if (problem !== undefined) {
      timer.clear()
      await cancel(response)
      throw new RemoteFailure('ERR_CAIRN_REMOTE_CORRUPT', request, problem)
    }
    const body = response
    return {
      chunks: this.#checkedChunks(request, response, timer, { digest, size, check }),
      close: async () => {
        timer.clear()
        await cancel(body)
      },
    }
  }

  async *#checkedChunks(
    request: string,
    response: Response,
    timer: TransferTimer,
    expected: { digest: string; size: number; check: DigestStream },
  ): AsyncGenerator<Uint8Array> {
    let total = 0
    try {
      for await (const chunk of readChunks(response)) {
        timer.refresh()
        total += chunk.length
        this.#stats.bytesDown += chunk.length
        if (total > expected.size) {
          throw new RemoteFailure(
            'ERR_CAIRN_REMOTE_CORRUPT',
            request,
            `the body is longer than ${expected.size} bytes`,
          )
        }
        expected.check.update(chunk)
        yield chunk
      }
    } catch (error) {
      throw networkFailure(request, error, timer.signal.aborted, this.#config.timeoutMs, timer.signal)
    } finally {
      timer.clear()
    }
    if (total !== expected.size) {
      throw new RemoteFailure(
        'ERR_CAIRN_REMOTE_CORRUPT',
        request,
        `the body ended after ${total} of ${expected.size} bytes`,
      )
    }
    const found = expected.check.digest()
    if (found !== expected.digest) {
      throw new RemoteFailure('ERR_CAIRN_REMOTE_CORRUPT', request, `the body's digest is ${found}`)
    }
  }

  /** The timer of a transfer of `bytes`: see TransferTimer. */
  #transferTimer(bytes: number): TransferTimer {
    const { timeoutMs, minBytesPerSecond } = this.#config
    return new TransferTimer(timeoutMs, transferDeadlineMs(timeoutMs, minBytesPerSecond, bytes))
  }

  /** Whether the server has `<namespace>/<name>` (HEAD). */
  async has(namespace: Namespace, name: string): Promise<boolean> {
    const request = `HEAD ${this.url(namespace, name)}`
    const signal = AbortSignal.timeout(this.#config.timeoutMs)
    const response = await this.#send(
      request,
      namespace,
      name,
      { method: 'HEAD', signal },
      () => signal.aborted,
    )
    if (response === undefined) return false
    await cancel(response)
    return true
  }

  /**
   * Stores `size` bytes at `<namespace>/<name>` (PUT). The wait for the answer, and between two
   * chunks the server accepts, is at most `timeoutMs`; the whole request at most `timeoutMs`
   * plus `size` at `minBytesPerSecond`.
   */
  async put(namespace: Namespace, name: string, size: number, body: BodySource): Promise<void> {
    try {
      await this.#putOnce(namespace, name, size, body)
    } catch (error) {
      // 409 Conflict is WebDAV for "the parent collection does not exist": Apache's mod_dav,
      // unlike nginx, does not create `ac/` and `cas/` by itself. Create them, as other WebDAV
      // clients do, once per process (uploads that meet the 409 at once share one MKCOL), and
      // retry once: a server that still answers 409 fails that upload as before.
      if (!(error instanceof RemoteFailure) || error.status !== 409) throw error
      let made = this.#collections.get(namespace)
      if (made === undefined) {
        made = this.#makeCollections(namespace)
        this.#collections.set(namespace, made)
      }
      await made
      await this.#putOnce(namespace, name, size, body)
    }
  }

  /**
   * MKCOL of the base URL's collection and of `<base>/<namespace>/`. A collection that exists
   * already answers 405, one whose parent is missing 409: neither is an error here, the PUT
   * that follows says whether it worked.
   */
  async #makeCollections(namespace: Namespace): Promise<void> {
    for (const url of [`${this.#config.baseUrl}/`, `${this.#config.baseUrl}/${namespace}/`]) {
      try {
        const response = await fetch(url, {
          method: 'MKCOL',
          headers: { ...this.#config.headers },
          signal: AbortSignal.timeout(this.#config.timeoutMs),
          redirect: 'manual',
        })
        await cancel(response)
      } catch {
        // Unreachable or timed out: the retried PUT fails and reports it.
      }
    }
  }

  async #putOnce(namespace: Namespace, name: string, size: number, body: BodySource): Promise<void> {
    const request = `PUT ${this.url(namespace, name)}`
    const timer = this.#transferTimer(size)
    try {
      const response = await this.#send(
        request,
        namespace,
        name,
        () => {
          const bytes = body((n) => {
            timer.refresh()
            this.#stats.bytesUp += n
          })
          if (bytes instanceof Uint8Array) this.#stats.bytesUp += bytes.length
          return {
            method: 'PUT',
            signal: timer.signal,
            body: bytes,
            // A stream has no length of its own; bazel-remote wants one, and nginx stores a
            // chunked body through a temp file anyway.
            headers: { 'content-length': String(size) },
            duplex: 'half',
          }
        },
        () => timer.signal.aborted,
        timer.signal,
      )
      if (response === undefined) {
        throw new RemoteFailure(
          'ERR_CAIRN_REMOTE_STATUS',
          request,
          'HTTP 404 (the server does not accept uploads here)',
          {
            status: 404,
          },
        )
      }
      await cancel(response)
    } finally {
      timer.clear()
    }
  }

  /**
   * Sends a request (retrying once if the connection broke before any answer) and returns the
   * response for a 2xx status, undefined for 404; throws a RemoteFailure for anything else.
   */
  async #send(
    request: string,
    namespace: Namespace,
    name: string,
    init: RequestInit | (() => RequestInit & { duplex?: 'half' }),
    timedOut: () => boolean,
    /** A transfer's signal, whose abort reason says which bound was hit. */
    transfer?: AbortSignal,
  ): Promise<Response | undefined> {
    const url = this.url(namespace, name)
    let response: Response
    for (let attempt = 1; ; attempt++) {
      const options = typeof init === 'function' ? init() : init
      try {
        response = await fetch(url, {
          ...options,
          headers: {
            ...this.#config.headers,
            // Bodies are stored and checked as they are: a compressed answer is refused.
            'accept-encoding': 'identity',
            ...(options.headers as Record<string, string> | undefined),
          },
          // A redirect is reported, not followed: following one could carry credentials to
          // another host, and a cache that redirects is misconfigured.
          redirect: 'manual',
        })
        break
      } catch (error) {
        const failure = networkFailure(request, error, timedOut(), this.#config.timeoutMs, transfer)
        if (failure.retryable && attempt === 1) continue
        throw failure
      }
    }
    if (response.status === 404) {
      await cancel(response)
      return undefined
    }
    if (response.status < 200 || response.status > 299) {
      await cancel(response)
      throw new RemoteFailure('ERR_CAIRN_REMOTE_STATUS', request, `HTTP ${response.status}`, {
        status: response.status,
      })
    }
    return response
  }
}

/**
 * Why a response's encoding is unusable, or undefined. fetch decodes gzip, deflate and br by
 * itself, so a compressed body would be checked only after decoding: a 255 KB gzip bomb raised
 * a download's memory by 300 MiB. Every request asks for `identity`, which a correct server
 * (nginx, bazel-remote) honours.
 */
function encodingProblem(response: Response): string | undefined {
  const encoding = response.headers.get('content-encoding')
  if (encoding === null || encoding.trim() === '' || encoding.trim().toLowerCase() === 'identity')
    return undefined
  return `the server sent a compressed body (Content-Encoding: ${JSON.stringify(encoding)}) though the request asked for none; it is refused unread`
}

/** The body's chunks; an empty body (HEAD, 204) has none. */
async function* readChunks(response: Response): AsyncGenerator<Uint8Array> {
  if (response.body === null) return
  const reader = response.body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    // Abandoned early (too long, corrupt, consumer failed): close the connection's stream.
    reader.cancel().catch(() => {})
  }
}

/** Discards a body we do not read, so its connection can be reused or closed. */
async function cancel(response: Response): Promise<void> {
  try {
    await response.body?.cancel()
  } catch {
    // The connection is already gone; nothing to release.
  }
}

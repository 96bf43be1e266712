/**
 * Why a request to the remote cache did not give a usable answer. These never reach the caller
 * of a store method: the remote store turns every one into a miss (or a dropped upload), counts
 * it and prints one warning line per kind (remote-store.ts). A 404 is not a failure: it is the
 * server saying "not here", a plain miss.
 */
export type RemoteFailureCode =
  /** The connection could not be made or broke (refused, reset, DNS, TLS). */
  | 'ERR_CAIRN_REMOTE_UNREACHABLE'
  /** No answer, or no progress in the body, within `timeoutMs`. */
  | 'ERR_CAIRN_REMOTE_TIMEOUT'
  /** An HTTP status other than the ones the protocol expects (5xx, 401, 403, 405, 413...). */
  | 'ERR_CAIRN_REMOTE_STATUS'
  /** A body that is not what its name promises: truncated, too long, or the wrong digest. */
  | 'ERR_CAIRN_REMOTE_CORRUPT'

export class RemoteFailure extends Error {
  readonly code: RemoteFailureCode
  /** The request, e.g. `GET https://cache.example.com/cairn/ac/3fa1…`, credentials removed. */
  readonly request: string
  /** The HTTP status, for ERR_CAIRN_REMOTE_STATUS. */
  readonly status: number | undefined
  /** True for a connection that broke before any answer: worth one retry (a stale keep-alive). */
  readonly retryable: boolean

  constructor(
    code: RemoteFailureCode,
    request: string,
    detail: string,
    facts: { status?: number; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(`${request} failed: ${detail}`, facts.cause === undefined ? undefined : { cause: facts.cause })
    this.name = 'RemoteFailure'
    this.code = code
    this.request = request
    this.status = facts.status
    this.retryable = facts.retryable ?? false
  }
}

/** Connection errors that mean "the socket broke", as opposed to "nobody is listening". */
const BROKEN_CONNECTION = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

/**
 * Turns what `fetch` threw into a RemoteFailure. `timedOut` says whether our own timer aborted
 * the request (undici reports that as an AbortError or TimeoutError, or as `terminated` when
 * the abort lands in the middle of a body).
 */
export function networkFailure(
  request: string,
  error: unknown,
  timedOut: boolean,
  timeoutMs: number,
  signal?: AbortSignal,
) {
  if (timedOut || isAbortError(error)) {
    // A transfer's timer says which bound it hit (no progress, or the whole-request deadline).
    const reason: unknown = signal?.reason
    const detail = reason instanceof Error ? reason.message : `no answer within ${timeoutMs} ms`
    return new RemoteFailure('ERR_CAIRN_REMOTE_TIMEOUT', request, detail, { cause: error })
  }
  if (error instanceof RemoteFailure) return error
  const cause = causeOf(error)
  const code = errorCode(cause) ?? errorCode(error)
  const message =
    cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error)
  return new RemoteFailure(
    'ERR_CAIRN_REMOTE_UNREACHABLE',
    request,
    code !== undefined && !message.includes(code) ? `${message} (${code})` : message,
    { cause: error, retryable: code !== undefined && BROKEN_CONNECTION.has(code) },
  )
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')
}

function causeOf(error: unknown): unknown {
  if (!(error instanceof Error) || error.cause === undefined) return undefined
  // Connecting to a name with several addresses fails with an AggregateError of each attempt.
  if (error.cause instanceof AggregateError) return error.cause.errors[0] ?? error.cause
  return error.cause
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code
  }
  return undefined
}

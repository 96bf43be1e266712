import type { Algorithm } from '@cairn/hash'
import { CairnError, type StoreOptions } from '@cairn/store'
import { checkHeader } from './headers.js'
import { REDACTED, Redactor, redactUserinfo } from './redact.js'

/** How Cairn talks to the remote cache; `remote` in {@link RemoteStoreOptions}. */
export interface RemoteOptions {
  /**
   * Base URL of the cache: `http://` or `https://`, optionally with a path prefix. Entries live
   * at `<url>/ac/<key>` and content at `<url>/cas/<digest>`. Credentials in the URL
   * (`https://user:password@host`) are sent as HTTP Basic authentication and never printed.
   */
  url: string
  /**
   * Extra request headers, e.g. `{ Authorization: 'Bearer …' }` (see parseRemoteHeaders for
   * the text form). Their values are never printed.
   */
  headers?: Record<string, string>
  /**
   * The longest wait, in ms, for an answer to a request and, during a content transfer, for the
   * next chunk of the body. Default 10,000. A hung server costs a lookup at most this long.
   * A content transfer is also bounded as a whole, by `timeoutMs` plus its size at
   * `minBytesPerSecond`, so a server that trickles bytes cannot hold it longer.
   */
  timeoutMs?: number
  /**
   * The slowest average rate, in bytes per second, a content download or upload may run at: a
   * transfer of n bytes is abandoned (a miss, or a dropped upload) after
   * `timeoutMs + n / minBytesPerSecond` seconds in all. Default 262,144 (256 KiB/s, about
   * 2 Mbit/s), which gives a 1 GiB entry 68 minutes.
   */
  minBytesPerSecond?: number
  /**
   * The largest entry, in bytes, downloaded from the remote: a record naming larger content, or
   * a body announcing or sending more, is a miss (said once), and larger local entries are not
   * uploaded. Default 1 GiB (1,073,741,824).
   */
  maxEntryBytes?: number
  /** Requests in flight at once, for uploads and, separately, for downloads. Default 8. */
  concurrency?: number
  /** `read-write` (default) downloads and uploads; `read-only` never sends a PUT. */
  mode?: 'read-write' | 'read-only'
  /**
   * What the server checks. `generic` (default): any server that stores PUT bodies and serves
   * them back (nginx WebDAV, a bucket). `bazel-remote`: names must be SHA-256 digests, so the
   * store must use `algorithm: 'sha256'` (the default then) and keys must be 64 hex characters;
   * it must run with `--disable_http_ac_validation`.
   */
  server?: 'generic' | 'bazel-remote'
  /** Failed requests in a row that stop remote use for `cooldownMs`. Default 5. */
  failureThreshold?: number
  /** How long, in ms, the remote is left alone after `failureThreshold` failures. Default 60,000. */
  cooldownMs?: number
  /**
   * Where warnings go, one line each (no newline). Default: stderr, as `cairn: remote: …`.
   * Each kind of warning is printed at most once per store.
   */
  warn?: (line: string) => void
}

/** Options of {@link openRemoteStore}: the local store's, plus the remote cache. */
export interface RemoteStoreOptions extends StoreOptions {
  remote: RemoteOptions
}

/** Checked, normalized remote options. */
export interface RemoteConfig {
  /** The base URL without credentials (safe to print) and without a trailing slash. */
  readonly baseUrl: string
  /** Every header sent, lowercased names, Basic authentication from the URL included. */
  readonly headers: Readonly<Record<string, string>>
  readonly timeoutMs: number
  readonly minBytesPerSecond: number
  readonly maxEntryBytes: number
  readonly concurrency: number
  readonly readOnly: boolean
  readonly server: 'generic' | 'bazel-remote'
  readonly failureThreshold: number
  readonly cooldownMs: number
  readonly warn: (line: string) => void
  readonly redactor: Redactor
  /** Plain http to a host that is not this machine: worth one warning. */
  readonly insecure: boolean
}

export const DEFAULT_TIMEOUT_MS = 10_000
/** 256 KiB/s: see RemoteOptions.minBytesPerSecond. */
export const DEFAULT_MIN_BYTES_PER_SECOND = 256 * 1024
/** 1 GiB: see RemoteOptions.maxEntryBytes. */
export const DEFAULT_MAX_ENTRY_BYTES = 1024 * 1024 * 1024
export const DEFAULT_CONCURRENCY = 8
export const DEFAULT_FAILURE_THRESHOLD = 5
export const DEFAULT_COOLDOWN_MS = 60_000

const writeToStderr = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/**
 * Checks `remote` and normalizes it. Called before anything touches the disk or the network.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_OPTION naming the option and what was expected; a URL
 *   is quoted with its credentials removed, a header by its name only.
 */
export function checkRemoteOptions(remote: unknown): RemoteConfig {
  if (typeof remote !== 'object' || remote === null) {
    throw invalid(
      `openRemoteStore needs options.remote, an object such as { url: 'https://cache.example.com/cairn' }; got ${describe(remote)}.`,
    )
  }
  const {
    url,
    headers = {},
    timeoutMs = DEFAULT_TIMEOUT_MS,
    minBytesPerSecond = DEFAULT_MIN_BYTES_PER_SECOND,
    maxEntryBytes = DEFAULT_MAX_ENTRY_BYTES,
    concurrency = DEFAULT_CONCURRENCY,
    mode = 'read-write',
    server = 'generic',
    failureThreshold = DEFAULT_FAILURE_THRESHOLD,
    cooldownMs = DEFAULT_COOLDOWN_MS,
    warn = writeToStderr,
  } = remote as RemoteOptions
  const parsed = parseBaseUrl(url)
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw invalid(`remote.headers must be an object of header names to values, got ${describe(headers)}.`)
  }
  const sent: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    checkHeader(name, value, 'remote.headers')
    sent[name.toLowerCase()] = value
  }
  const secrets = Object.values(sent)
  if (parsed.username !== '' || parsed.password !== '') {
    const user = decodeURIComponent(parsed.username)
    const password = decodeURIComponent(parsed.password)
    const basic = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`
    sent.authorization ??= basic
    secrets.push(user, password, basic)
    parsed.username = ''
    parsed.password = ''
  }
  if (!isPositiveInteger(timeoutMs))
    throw bad('timeoutMs', timeoutMs, 'a whole number of milliseconds, 1 or more')
  if (!isPositiveInteger(minBytesPerSecond)) {
    throw bad('minBytesPerSecond', minBytesPerSecond, 'a whole number of bytes per second, 1 or more')
  }
  if (!isPositiveInteger(maxEntryBytes))
    throw bad('maxEntryBytes', maxEntryBytes, 'a whole number of bytes, 1 or more')
  if (!isPositiveInteger(concurrency)) throw bad('concurrency', concurrency, 'a whole number, 1 or more')
  if (mode !== 'read-write' && mode !== 'read-only') throw bad('mode', mode, "'read-write' or 'read-only'")
  if (server !== 'generic' && server !== 'bazel-remote')
    throw bad('server', server, "'generic' or 'bazel-remote'")
  if (!isPositiveInteger(failureThreshold)) {
    throw bad('failureThreshold', failureThreshold, 'a whole number of failures, 1 or more')
  }
  if (typeof cooldownMs !== 'number' || !(cooldownMs >= 0) || !Number.isFinite(cooldownMs)) {
    throw bad('cooldownMs', cooldownMs, 'a number of milliseconds, 0 or more')
  }
  if (typeof warn !== 'function') throw bad('warn', warn, 'a function taking one line of text')
  const baseUrl = parsed.href.replace(/\/+$/, '')
  return {
    baseUrl,
    headers: sent,
    timeoutMs,
    minBytesPerSecond,
    maxEntryBytes,
    concurrency,
    readOnly: mode === 'read-only',
    server,
    failureThreshold,
    cooldownMs,
    warn,
    redactor: new Redactor(secrets),
    insecure: parsed.protocol === 'http:' && !isLoopback(parsed.hostname),
  }
}

/**
 * The algorithm to open the local store with. bazel-remote names every blob by its SHA-256, so
 * with it the store must use sha256: asked for nothing, the store gets sha256; asked for
 * another, it is an error here (and an existing xxh128 store fails in openStore with
 * ERR_CAIRN_ALGORITHM_MISMATCH).
 */
export function storeAlgorithm(config: RemoteConfig, asked: Algorithm | undefined): Algorithm | undefined {
  if (config.server !== 'bazel-remote') return asked
  if (asked !== undefined && asked !== 'sha256') {
    throw invalid(
      `remote.server 'bazel-remote' needs a store with algorithm 'sha256' (bazel-remote checks that every cas/ blob's SHA-256 matches its name), but algorithm is ${JSON.stringify(asked)}.`,
    )
  }
  return 'sha256'
}

function parseBaseUrl(url: unknown): URL {
  if (typeof url !== 'string' || url === '') {
    throw invalid(
      `remote.url must be the cache's base URL, such as 'https://cache.example.com/cairn'; got ${describe(url)}.`,
    )
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw invalid(
      `remote.url ${quoteUrl(url)} is not a valid URL; expected one such as 'https://cache.example.com/cairn'.`,
    )
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid(`remote.url ${quoteUrl(url)} uses ${parsed.protocol}; expected http:// or https://.`)
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw invalid(
      `remote.url ${quoteUrl(url)} has a query or fragment; expected a base URL that /ac/<key> and /cas/<digest> can be appended to.`,
    )
  }
  return parsed
}

/** A URL as it may be printed: userinfo removed, and not at all if it cannot be parsed. */
function quoteUrl(url: string): string {
  const shown = redactUserinfo(url)
  // An unparseable URL may hide credentials where redactUserinfo does not look (no scheme).
  return shown.includes('@') && !shown.includes(`${REDACTED}@`)
    ? '(not shown: it contains "@")'
    : JSON.stringify(shown)
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '')
  return (
    host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
  )
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1
}

function bad(name: string, value: unknown, expected: string): CairnError {
  return invalid(`remote.${name} is ${describe(value)}; expected ${expected}.`)
}

function invalid(message: string): CairnError {
  return new CairnError('ERR_CAIRN_INVALID_OPTION', message)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`
  if (typeof value === 'string') return JSON.stringify(redactUserinfo(value))
  if (typeof value === 'function') return 'a function'
  return String(value)
}

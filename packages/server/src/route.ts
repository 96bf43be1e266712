/**
 * What a request asks of the cache, once a protocol module has read its method and path. The
 * handler (cache-server.ts) acts on these and knows nothing of any protocol's paths.
 */

/** The protocols the server speaks; each maps its names into the store apart from the others. */
export type Protocol = 'bazel' | 'turbo' | 'nx'

/** One cache name: a protocol's own key within a namespace (a Bazel prefix, a Turbo team). */
export interface CacheName {
  protocol: Protocol
  namespace: string
  /** The client's name for the entry: a hex digest, a Turbo hash, an Nx hash. */
  name: string
}

/** A request understood by a protocol module. */
export type Route =
  | { op: 'get' | 'head'; target: CacheName }
  | {
      op: 'put'
      target: CacheName
      /** A body that must hash (SHA-256) to this hex digest, or 400 and nothing stored. */
      sha256?: string
      /** What an existing entry answers: Nx wants 409 (first writer wins), others a success. */
      existing: 'success' | 'conflict'
      /** The success status: 200 (Bazel, Turbo) or 202 (Nx). */
      created: number
      /** Entry metadata read from the request's headers (Turbo's duration and tag). */
      metadata?: Record<string, string | number>
    }
  /** Turbo's batch query: `{"hashes": [...]}` in, what is known of each out. */
  | { op: 'query'; protocol: Protocol; namespace: string }
  /** A fixed JSON answer that needs no store (Turbo's status, its analytics events). */
  | { op: 'static'; protocol: Protocol; status: number; body: unknown; write: boolean }
  /** A request for a protocol path that is wrong: answered with `status` and the message. */
  | { op: 'refuse'; protocol: Protocol; status: number; message: string; allow?: string }

/** The request line a protocol module reads: method, path without query, and the query. */
export interface RequestLine {
  method: string
  path: string
  query: URLSearchParams
  header(name: string): string | undefined
}

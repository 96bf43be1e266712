/** What the remote tier did for this process since the store was opened (`cairn stats`). */
export interface RemoteStats {
  /** Local misses the remote served: downloaded, verified and published locally. */
  hits: number
  /** Local misses the remote did not serve: not there, unusable, failed, or skipped while the breaker was open. */
  misses: number
  /** Requests that failed (timeout, refused, unexpected status, corrupt body); each was also a miss or a dropped upload. */
  errors: number
  /** Body bytes received (records and content). */
  bytesDown: number
  /** Body bytes sent (records and content). */
  bytesUp: number
  /** Entries uploaded: content (unless the server had it) and then the record. */
  uploads: number
  /** Uploads given up: a request failed, or the breaker was open. */
  uploadsFailed: number
}

export function emptyRemoteStats(): RemoteStats {
  return { hits: 0, misses: 0, errors: 0, bytesDown: 0, bytesUp: 0, uploads: 0, uploadsFailed: 0 }
}

/**
 * Every error Cairn throws on purpose is a CairnError with a stable `code`; match on the code,
 * never on the message. Filesystem failures keep the system error as `cause` (so
 * `error.cause.code` is `ENOSPC`, `EACCES`, ...).
 */
export type CairnErrorCode =
  /** A key that is not 16 to 128 lowercase hex characters. Thrown before touching the disk. */
  | 'ERR_CAIRN_INVALID_KEY'
  /** `put` data of a type Cairn cannot store, or a stream that yields something other than bytes. */
  | 'ERR_CAIRN_INVALID_DATA'
  /** Metadata that is not plain JSON, or larger than {@link METADATA_MAX_BYTES}. */
  | 'ERR_CAIRN_INVALID_METADATA'
  /** An option of the wrong type or out of range. */
  | 'ERR_CAIRN_INVALID_OPTION'
  /** The directory exists, is not empty and is not a Cairn store (or the path is a file). */
  | 'ERR_CAIRN_NOT_A_STORE'
  /** The store was written by a newer Cairn, or its marker file is unreadable. */
  | 'ERR_CAIRN_FORMAT'
  /** The store uses another digest algorithm than the one asked for. */
  | 'ERR_CAIRN_ALGORITHM_MISMATCH'
  /** A filesystem operation failed for a reason other than a race (disk full, permissions, ...). */
  | 'ERR_CAIRN_IO'
  /** A GC policy (object or policy string) with an unknown key or a bad value. */
  | 'ERR_CAIRN_INVALID_POLICY'
  /**
   * A stream found damaged content (streams only; `get` misses): with `verify: 'hash'` content
   * that does not match its digest, or compressed content that does not decompress to exactly
   * its size. The damaged file is removed first, so the next read is a plain miss.
   */
  | 'ERR_CAIRN_CORRUPT'
  /**
   * In a store others can write, a directory of the store (or the store directory itself) was
   * replaced by a symlink or another kind of file: Cairn wrote and deleted nothing through it
   * (safety.ts). A stream `put` rejects with it when `tmp/` is not a real directory.
   */
  | 'ERR_CAIRN_UNSAFE_PATH'
  /**
   * A root process asked to write into, or prune, a store whose directory another user owns,
   * without the opt-in (`allowForeignOwner`, `CAIRN_ALLOW_FOREIGN_OWNER=1`): see safety.ts.
   */
  | 'ERR_CAIRN_FOREIGN_OWNER'

/** Facts an error may carry besides its code. */
export interface CairnErrorFacts {
  cause?: unknown
  path?: string
  key?: string
}

export class CairnError extends Error {
  readonly code: CairnErrorCode
  /** The file or directory involved, when there is one. */
  readonly path: string | undefined
  /** The key involved, when there is one. */
  readonly key: string | undefined

  constructor(code: CairnErrorCode, message: string, facts: CairnErrorFacts = {}) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause })
    this.name = 'CairnError'
    this.code = code
    this.path = facts.path
    this.key = facts.key
  }
}

/** The errno-style code of a system error, or undefined for anything else. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code
  }
  return undefined
}

/**
 * Wraps a system error from a filesystem call the caller could not recover from, keeping it as
 * `cause` and saying what to do. `action` reads as "while <action> <path>".
 */
export function ioError(error: unknown, action: string, path: string): CairnError {
  if (error instanceof CairnError) return error
  const code = errnoOf(error)
  let advice: string
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      advice = 'the disk holding the store is full: free space, or prune the store (cairn-gc).'
      break
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      advice =
        'permission denied: this user cannot write there. Check the owner and mode of the store directory, or give this user a store of its own.'
      break
    case 'EMFILE':
    case 'ENFILE':
      advice = 'too many open files: raise the limit (ulimit -n) or lower the number of operations in flight.'
      break
    default:
      advice = `${code ?? 'unexpected error'}: ${error instanceof Error ? error.message : String(error)}`
  }
  return new CairnError('ERR_CAIRN_IO', `Cairn failed while ${action} ${path}: ${advice}`, {
    cause: error,
    path,
  })
}

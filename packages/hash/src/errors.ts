/**
 * Thrown by the canonical encoding for a value that has no defined encoding. It is a
 * TypeError (the caller passed the wrong kind of value) with a stable `code` to match on.
 */
export class UnsupportedValueError extends TypeError {
  readonly code = 'ERR_CAIRN_UNSUPPORTED_VALUE'
  /** Where the bad value sits inside the encoded value, e.g. `value.flags[2]`. */
  readonly path: string

  constructor(path: string, found: string) {
    super(
      `Cannot encode ${path} as part of a cache key: found ${found}. ` +
        'Keys accept strings, numbers, booleans, null, bigints, Uint8Arrays, arrays and plain objects; ' +
        'convert the value to one of these first (for a Date, use its getTime() or toISOString()).',
    )
    this.name = 'UnsupportedValueError'
    this.path = path
  }
}

import { parseDuration, parseSize } from '@cairn/gc'

/** The options of `['@cairn/jest', options]` in Jest's `transform`. */
export interface CairnJestOptions {
  /** The transformer whose output is cached: a package name or a path. Default `babel-jest`. */
  transformer?: string
  /** The options given to that transformer. */
  transformerConfig?: Record<string, unknown>
  /** The store directory; a relative path is relative to Jest's `rootDir`. */
  store?: string
  /** `@cairn/jest/global-teardown` prunes the store to this size: bytes, or a string like `'2GB'`. */
  maxSize?: number | string
  /** `@cairn/jest/global-teardown` removes entries unused this long: ms, or a string like `'30d'`. */
  maxAge?: number | string
  /** The teardown prunes at most once per this interval: ms or a string. Default 1 hour. */
  pruneInterval?: number | string
}

/** {@link CairnJestOptions} checked, with defaults and units applied. */
export interface CheckedOptions {
  transformer: string
  transformerConfig: Record<string, unknown>
  store: string | undefined
  maxSize: number | undefined
  maxAge: number | undefined
  pruneInterval: number
}

export const DEFAULT_PRUNE_INTERVAL_MS = 3_600_000

const KNOWN = new Set(['transformer', 'transformerConfig', 'store', 'maxSize', 'maxAge', 'pruneInterval'])

/**
 * Checks the options Jest passes to the transformer (and the teardown reads from the config).
 * A mistyped option is a configuration error the user must see, so it throws; store failures
 * later never do.
 */
export function checkOptions(raw: unknown, env: NodeJS.ProcessEnv = process.env): CheckedOptions {
  const options = (raw ?? {}) as Record<string, unknown>
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw optionError(`its options must be an object, got ${describe(raw)}`)
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name)) {
      throw optionError(`unknown option ${JSON.stringify(name)}; known: ${[...KNOWN].join(', ')}`)
    }
  }
  const { transformer = 'babel-jest', transformerConfig = {}, store } = options
  if (typeof transformer !== 'string' || transformer === '') {
    throw optionError(`"transformer" must be a package name or path, got ${describe(transformer)}`)
  }
  if (
    typeof transformerConfig !== 'object' ||
    transformerConfig === null ||
    Array.isArray(transformerConfig)
  ) {
    throw optionError(`"transformerConfig" must be an object, got ${describe(transformerConfig)}`)
  }
  if (store !== undefined && (typeof store !== 'string' || store === '')) {
    throw optionError(`"store" must be a directory path, got ${describe(store)}`)
  }
  const envMaxSize = env.CAIRN_JEST_MAX_SIZE
  return {
    transformer,
    transformerConfig: transformerConfig as Record<string, unknown>,
    store,
    maxSize:
      envMaxSize !== undefined && envMaxSize !== ''
        ? amount(envMaxSize, parseSize, 'CAIRN_JEST_MAX_SIZE')
        : amount(options.maxSize, parseSize, 'maxSize'),
    maxAge: amount(options.maxAge, parseDuration, 'maxAge'),
    pruneInterval: amount(options.pruneInterval, parseDuration, 'pruneInterval') ?? DEFAULT_PRUNE_INTERVAL_MS,
  }
}

/** A number as is, a string through `parse` (sizes such as `2GB`, durations such as `30d`). */
function amount(value: unknown, parse: (text: string) => number, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  if (typeof value === 'string') {
    try {
      return parse(value)
    } catch (error) {
      throw optionError(`"${name}": ${(error as Error).message}`)
    }
  }
  throw optionError(`"${name}" must be a non-negative number or a string, got ${describe(value)}`)
}

function optionError(what: string): TypeError {
  return Object.assign(new TypeError(`@cairn/jest: ${what}.`), { code: 'ERR_CAIRN_INVALID_OPTION' })
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

import type { Hasher } from '@cairn/hash'
import { type Claim, claimOrWait } from './busy.js'
import { TransformCache } from './cache.js'
import { decodeEntry, ENTRY_VERSION, encodeEntry } from './entry.js'
import type { Inner, JestTransformer, TransformOptions, TransformResult } from './inner.js'
import type { CheckedOptions } from './options.js'
import { keyable, relativePath } from './paths.js'
import { resolvedConfig } from './resolved-config.js'
import { storeDirFor } from './store-dir.js'

/** Part of every key: bump it when what is keyed or stored changes meaning. */
export const CACHE_FORMAT_VERSION = `@cairn/jest/${ENTRY_VERSION}`

const caches = new Map<string, TransformCache>()

/**
 * The caching transformer around `inner`. `hashers` holds one hasher per store algorithm (the
 * first one makes keys); they are created before because Jest's `process` is synchronous.
 */
export function cachingTransformer(
  inner: Inner,
  options: CheckedOptions,
  hashers: readonly Hasher[],
): JestTransformer {
  const hasher = hashers[0]
  if (hasher === undefined) throw new TypeError('cachingTransformer needs a hasher.')
  const keyHasher: Hasher = hasher
  // Jest asks for the key, then (on a miss in its own cache) transforms the same file: process
  // takes the key getCacheKey just made, so Babel's config is resolved once per file. Only
  // getCacheKey fills this and only process empties it, so a key is never reused across a
  // config change (watch mode): getCacheKey always computes afresh.
  const justMade = new Map<string, string>()
  const memoOf = (source: string, filename: string, o: TransformOptions): string =>
    [
      o.config.rootDir,
      filename,
      o.instrument === true,
      o.supportsStaticESM === true,
      o.supportsDynamicImport === true,
      o.supportsExportNamespaceFrom === true,
      o.supportsTopLevelAwait === true,
      source,
    ].join('\0')

  /** The key getCacheKey made for this call, or a new one. */
  function keyForProcess(
    source: string,
    filename: string,
    jestOptions: TransformOptions,
  ): string | undefined {
    const memo = memoOf(source, filename, jestOptions)
    const known = justMade.get(memo)
    if (known === undefined) return keyOf(source, filename, jestOptions)
    justMade.delete(memo)
    return known
  }

  /** A new key, remembered for the process call that usually follows. */
  function keyForJest(source: string, filename: string, jestOptions: TransformOptions): string | undefined {
    const key = keyOf(source, filename, jestOptions)
    if (key === undefined) return undefined
    // Jest's own cache hits mean process is not called: bound what is kept.
    if (justMade.size >= 64) justMade.delete(justMade.keys().next().value as string)
    justMade.set(memoOf(source, filename, jestOptions), key)
    return key
  }

  /** The store key of this transform, or undefined when it cannot be made (the inner then decides). */
  function keyOf(source: string, filename: string, jestOptions: TransformOptions): string | undefined {
    const rootDir = jestOptions.config.rootDir
    let key: string
    try {
      key = keyHasher.key({
        format: CACHE_FORMAT_VERSION,
        transformer: inner.identity(keyHasher),
        transformerConfig: keyable(options.transformerConfig, rootDir),
        resolved: resolvedConfig(inner, options.transformerConfig, filename, jestOptions, keyHasher),
        file: relativePath(rootDir, filename),
        source,
        env: {
          NODE_ENV: process.env.NODE_ENV ?? null,
          BABEL_ENV: process.env.BABEL_ENV ?? null,
          BROWSERSLIST: process.env.BROWSERSLIST ?? null,
          BROWSERSLIST_ENV: process.env.BROWSERSLIST_ENV ?? null,
        },
        // preset-env's `targets: { node: 'current' }` compiles for the running Node.
        node: process.versions.node,
        instrument: jestOptions.instrument === true,
        caller: {
          supportsDynamicImport: jestOptions.supportsDynamicImport === true,
          supportsExportNamespaceFrom: jestOptions.supportsExportNamespaceFrom === true,
          supportsStaticESM: jestOptions.supportsStaticESM === true,
          supportsTopLevelAwait: jestOptions.supportsTopLevelAwait === true,
        },
      })
    } catch {
      return undefined
    }
    return key
  }

  function cacheFor(rootDir: string): TransformCache {
    const dir = storeDirFor(options.store, rootDir)
    let cache = caches.get(dir)
    if (cache === undefined) {
      cache = new TransformCache(dir, hashers)
      caches.set(dir, cache)
    }
    return cache
  }

  /** An entry holding rootDir's absolute path is stored under a key that includes it. */
  const boundKey = (key: string, rootDir: string): string => hasher.key({ key, rootDir })

  function lookup(key: string, rootDir: string): TransformResult | undefined {
    const cache = cacheFor(rootDir)
    for (const candidate of [key, boundKey(key, rootDir)]) {
      const text = cache.get(candidate)
      const result = text === undefined ? undefined : decodeEntry(text, rootDir)
      if (result !== undefined) return result
    }
    return undefined
  }

  /**
   * After a miss: another Jest process transforming the same key right now is waited for
   * (busy.ts); else the caller transforms, then calls `release` after its put.
   */
  function claim(key: string, rootDir: string): Claim<TransformResult> {
    const cache = cacheFor(rootDir)
    if (!cache.writable) return { release: () => {} }
    return claimOrWait(cache.dir, key, () => lookup(key, rootDir))
  }

  function save(key: string, rootDir: string, result: TransformResult): void {
    const entry = encodeEntry(result, rootDir)
    if (entry === undefined) return
    cacheFor(rootDir).put(entry.bound ? boundKey(key, rootDir) : key, entry.text)
  }

  const forInner = (jestOptions: TransformOptions) => innerOptions(jestOptions, options)

  const innerProcessAsync = (
    source: string,
    filename: string,
    jestOptions: TransformOptions,
  ): Promise<TransformResult> | TransformResult =>
    inner.transformer.processAsync
      ? inner.transformer.processAsync(source, filename, forInner(jestOptions))
      : (inner.transformer.process as NonNullable<JestTransformer['process']>).call(
          inner.transformer,
          source,
          filename,
          forInner(jestOptions),
        )

  const transformer: JestTransformer = {
    canInstrument: inner.transformer.canInstrument === true,
    getCacheKey(source, filename, jestOptions) {
      const key = keyForJest(source, filename, jestOptions)
      if (key !== undefined) return boundKey(key, jestOptions.config.rootDir)
      return inner.transformer.getCacheKey?.(source, filename, forInner(jestOptions)) ?? hasher.bytes(source)
    },
    async getCacheKeyAsync(source, filename, jestOptions) {
      const key = keyForJest(source, filename, jestOptions)
      if (key !== undefined) return boundKey(key, jestOptions.config.rootDir)
      const own = inner.transformer.getCacheKeyAsync
        ? inner.transformer.getCacheKeyAsync(source, filename, forInner(jestOptions))
        : inner.transformer.getCacheKey?.(source, filename, forInner(jestOptions))
      return (await own) ?? hasher.bytes(source)
    },
    async processAsync(source, filename, jestOptions) {
      const rootDir = jestOptions.config.rootDir
      const key = keyForProcess(source, filename, jestOptions)
      if (key === undefined) return await innerProcessAsync(source, filename, jestOptions)
      const hit = lookup(key, rootDir)
      if (hit !== undefined) return hit
      const claimed = claim(key, rootDir)
      if ('hit' in claimed) return claimed.hit
      try {
        const result = await innerProcessAsync(source, filename, jestOptions)
        save(key, rootDir, result)
        return result
      } finally {
        claimed.release()
      }
    },
  }
  const innerProcess = inner.transformer.process
  // Only a transformer with a synchronous `process` can serve Jest's synchronous require path.
  if (typeof innerProcess === 'function') {
    transformer.process = (source, filename, jestOptions) => {
      const rootDir = jestOptions.config.rootDir
      const key = keyForProcess(source, filename, jestOptions)
      if (key === undefined)
        return innerProcess.call(inner.transformer, source, filename, forInner(jestOptions))
      const hit = lookup(key, rootDir)
      if (hit !== undefined) return hit
      const claimed = claim(key, rootDir)
      if ('hit' in claimed) return claimed.hit
      try {
        const result = innerProcess.call(inner.transformer, source, filename, forInner(jestOptions))
        save(key, rootDir, result)
        return result
      } finally {
        claimed.release()
      }
    }
  }
  return transformer
}

/**
 * The options the inner transformer is called with: Jest's, with its own `transformerConfig`
 * where Jest puts a transformer's options, as if it were configured directly.
 */
function innerOptions(jestOptions: TransformOptions, options: CheckedOptions): TransformOptions {
  return { ...jestOptions, transformerConfig: options.transformerConfig }
}

/**
 * The inner transformer as Jest would use it directly, for CAIRN_DISABLE=1: only the options
 * Jest passes (ours) are replaced by its own.
 */
export function passThrough(inner: Inner, options: CheckedOptions): JestTransformer {
  const own = inner.transformer
  const forInner = (jestOptions: TransformOptions) => innerOptions(jestOptions, options)
  const transformer: JestTransformer = { canInstrument: own.canInstrument === true }
  if (own.getCacheKey)
    transformer.getCacheKey = (s, f, o) =>
      (own.getCacheKey as NonNullable<JestTransformer['getCacheKey']>).call(own, s, f, forInner(o))
  if (own.getCacheKeyAsync)
    transformer.getCacheKeyAsync = (s, f, o) =>
      (own.getCacheKeyAsync as NonNullable<JestTransformer['getCacheKeyAsync']>).call(own, s, f, forInner(o))
  if (own.process)
    transformer.process = (s, f, o) =>
      (own.process as NonNullable<JestTransformer['process']>).call(own, s, f, forInner(o))
  if (own.processAsync)
    transformer.processAsync = (s, f, o) =>
      (own.processAsync as NonNullable<JestTransformer['processAsync']>).call(own, s, f, forInner(o))
  return transformer
}

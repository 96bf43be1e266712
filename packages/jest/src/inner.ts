import { createRequire } from 'node:module'
import { isAbsolute, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Hasher } from '@cairn/hash'
import { fileDigest, isInstalled, packageOf } from './files.js'
import type { KeyableValue } from './paths.js'
import { withRootDir } from './store-dir.js'

/** The subset of Jest's transformer interface @cairn/jest calls (it is typed loosely on purpose). */
export interface JestTransformer {
  canInstrument?: boolean
  getCacheKey?: (source: string, path: string, options: TransformOptions) => string
  getCacheKeyAsync?: (source: string, path: string, options: TransformOptions) => Promise<string>
  process?: (source: string, path: string, options: TransformOptions) => TransformResult
  processAsync?: (source: string, path: string, options: TransformOptions) => Promise<TransformResult>
}

export interface TransformOptions {
  config: { rootDir: string; cwd?: string }
  instrument?: boolean
  supportsDynamicImport?: boolean
  supportsExportNamespaceFrom?: boolean
  supportsStaticESM?: boolean
  supportsTopLevelAwait?: boolean
  [other: string]: unknown
}

export interface TransformResult {
  code: string
  map?: unknown
}

/** The inner transformer, loaded, with what identifies its code. */
export interface Inner {
  transformer: JestTransformer
  /** The resolved module file. */
  path: string
  /** `name@version` for an installed package, null for a local file. */
  packageName: string | null
  identity: (hasher: Hasher) => KeyableValue
}

/**
 * Resolves and loads the inner transformer as Jest would, then builds it with its config.
 * A name is resolved from Jest's working directory (normally rootDir, where the project's
 * node_modules are), then from @cairn/jest's own location.
 */
export async function loadInner(spec: string, config: Record<string, unknown>): Promise<Inner> {
  const path = resolveInner(spec)
  let loaded: unknown
  try {
    loaded = createRequire(import.meta.url)(path)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw error
    loaded = await import(pathToFileURL(path).href)
  }
  let transformer = interopDefault(loaded) as JestTransformer & {
    createTransformer?: (config: unknown) => JestTransformer | Promise<JestTransformer>
  }
  if (typeof transformer?.createTransformer === 'function') {
    transformer = await transformer.createTransformer(config)
  }
  if (typeof transformer?.process !== 'function' && typeof transformer?.processAsync !== 'function') {
    throw new TypeError(
      `@cairn/jest: the transformer ${JSON.stringify(spec)} (${path}) exports neither process, processAsync nor createTransformer.`,
    )
  }
  const packageName = isInstalled(path) ? packageOf(path) : null
  return {
    transformer,
    path,
    packageName,
    // A local transformer file has no version: its content is its identity.
    identity: (hasher) => packageName ?? { file: fileDigest(hasher, path) },
  }
}

function resolveInner(given: string): string {
  // rootDir is not known yet (Jest passes it to process), and Jest runs from it by default.
  const spec = withRootDir(given, process.cwd())
  if (isAbsolute(spec)) return spec
  try {
    return createRequire(join(process.cwd(), 'package.json')).resolve(spec)
  } catch {
    return createRequire(import.meta.url).resolve(spec)
  }
}

function interopDefault(module: unknown): unknown {
  const value = module as { __esModule?: boolean; default?: unknown } | null
  if (value && (value.__esModule || Object.prototype.toString.call(value) === '[object Module]')) {
    return value.default ?? value
  }
  return module
}

import { createRequire } from 'node:module'
import { isAbsolute, join, resolve } from 'node:path'
import type { Hasher } from '@cairn/hash'
import { fileDigest, isInstalled, packageOf } from './files.js'
import type { Inner, TransformOptions } from './inner.js'
import { type KeyableValue, keyable, relativePath } from './paths.js'

interface BabelConfigItem {
  name?: string
  options?: unknown
  file?: { request: string; resolved: string }
}

interface PartialConfig {
  options: Record<string, unknown> & { plugins?: BabelConfigItem[]; presets?: BabelConfigItem[] }
  files: Set<string>
}

interface BabelCore {
  loadPartialConfigSync?: (options: Record<string, unknown>) => PartialConfig | null
  loadPartialConfig: (options: Record<string, unknown>) => PartialConfig | null
  version: string
}

const babels = new Map<string, BabelCore | null>()

/** The @babel/core the inner transformer would load, or null when the project has none. */
function babelFor(inner: Inner, rootDir: string): BabelCore | null {
  const cached = babels.get(inner.path)
  if (cached !== undefined) return cached
  let babel: BabelCore | null = null
  for (const from of [inner.path, join(rootDir, 'package.json')]) {
    try {
      babel = createRequire(from)('@babel/core') as BabelCore
      break
    } catch {
      // Not resolvable from here: try the next place, else the project does not use Babel.
    }
  }
  babels.set(inner.path, babel)
  return babel
}

/**
 * What the inner transformer's configuration resolves to for `filename`, with every path
 * relative to rootDir:
 *
 * - Babel, whenever @babel/core is installed (babel-jest, or a wrapper around it): the resolved
 *   options as babel-jest builds them, each plugin and preset with its package's name and
 *   version, the digests of the config files they came from (babel.config.js, .babelrc), and
 *   @babel/core's version. Only babel-jest's own options are passed to Babel; for another
 *   transformer the project's Babel config files still count, which can only add misses.
 * - `.browserslistrc` at rootDir, where preset-env finds targets the config does not name.
 * - TypeScript's config: the digest of the tsconfig file ts-jest reads (its `tsconfig` option if
 *   a path, else rootDir/tsconfig.json) and the installed `typescript` version.
 */
export function resolvedConfig(
  inner: Inner,
  transformerConfig: Record<string, unknown>,
  filename: string,
  options: TransformOptions,
  hasher: Hasher,
): KeyableValue {
  const rootDir = options.config.rootDir
  return {
    babel: babelPart(inner, transformerConfig, filename, options, hasher),
    typescript: typescriptPart(inner, transformerConfig, rootDir, hasher),
    // preset-env reads its targets from here when the config names none; Babel does not list it.
    browserslistrc: fileDigest(hasher, join(rootDir, '.browserslistrc')),
  }
}

function babelPart(
  inner: Inner,
  transformerConfig: Record<string, unknown>,
  filename: string,
  options: TransformOptions,
  hasher: Hasher,
): KeyableValue {
  const rootDir = options.config.rootDir
  const babel = babelFor(inner, rootDir)
  if (babel === null) return null
  const isBabelJest = inner.packageName?.startsWith('babel-jest@') === true
  const { excludeJestPreset: _excluded, ...babelOptions } = isBabelJest ? transformerConfig : {}
  const load = babel.loadPartialConfigSync ?? babel.loadPartialConfig
  let partial: PartialConfig | null
  try {
    partial = load({
      cwd: options.config.cwd ?? rootDir,
      root: rootDir,
      ...babelOptions,
      caller: {
        name: 'babel-jest',
        supportsDynamicImport: options.supportsDynamicImport ?? false,
        supportsExportNamespaceFrom: options.supportsExportNamespaceFrom ?? false,
        supportsStaticESM: options.supportsStaticESM ?? false,
        supportsTopLevelAwait: options.supportsTopLevelAwait ?? false,
      },
      filename,
    })
  } catch (error) {
    // The inner transformer reports a broken config itself; the message keys this state.
    return { error: error instanceof Error ? error.message.split(rootDir).join('<rootDir>') : String(error) }
  }
  if (partial === null) return { ignored: true }
  const { plugins = [], presets = [], ...rest } = partial.options
  return {
    core: babel.version,
    options: keyable(rest, rootDir),
    plugins: plugins.map((item) => configItem(item, rootDir, hasher)),
    presets: presets.map((item) => configItem(item, rootDir, hasher)),
    files: [...partial.files].sort().map((file) => [relativePath(rootDir, file), fileDigest(hasher, file)]),
  }
}

function configItem(item: BabelConfigItem, rootDir: string, hasher: Hasher): KeyableValue {
  const resolved = item.file?.resolved
  return {
    name: item.name ?? null,
    options: keyable(item.options, rootDir),
    request: item.file === undefined ? null : keyable(item.file.request, rootDir),
    // An installed plugin is identified by its version, a local one by its content.
    code:
      resolved === undefined
        ? null
        : ((isInstalled(resolved) ? packageOf(resolved) : null) ?? fileDigest(hasher, resolved)),
  }
}

function typescriptPart(
  inner: Inner,
  transformerConfig: Record<string, unknown>,
  rootDir: string,
  hasher: Hasher,
): KeyableValue {
  const named = transformerConfig.tsconfig
  const path =
    typeof named === 'string'
      ? resolve(rootDir, named.replace('<rootDir>', rootDir))
      : join(rootDir, 'tsconfig.json')
  let typescript: string | null = null
  if (inner.packageName?.startsWith('ts-jest@') === true) {
    try {
      typescript = packageOf(createRequire(inner.path).resolve('typescript'))
    } catch {
      typescript = null
    }
  }
  return {
    tsconfig: isAbsolute(path) ? [relativePath(rootDir, path), fileDigest(hasher, path)] : null,
    typescript,
  }
}

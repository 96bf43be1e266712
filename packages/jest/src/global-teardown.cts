// Jest's `globalTeardown` entry. It is CommonJS on purpose: Jest loads global hooks through the
// project's own transform when their path matches it, and a `.cjs` file is neither matched by
// the usual `\.[jt]sx?$` patterns nor broken by a Babel pass that rewrites ES modules to
// CommonJS. The work is in the ES module it imports.
import type { ProjectConfig } from './prune-stores.js'

/** Prunes the `@cairn/jest` stores of the project's `transform` (see prune-stores.ts). */
async function globalTeardown(_globalConfig: unknown, projectConfig?: ProjectConfig): Promise<void> {
  const { pruneStores } = await import('./prune-stores.js')
  await pruneStores(projectConfig)
}

export = globalTeardown

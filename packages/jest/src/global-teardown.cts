// Jest's `globalTeardown` entry. It is CommonJS on purpose, and one self-contained file: Jest
// loads global hooks through the project's own transform when their path matches it (a pattern
// such as `\.[mc]?[jt]sx?$`, with the package linked outside node_modules by a pnpm or yarn
// workspace or `npm link`, or `transformIgnorePatterns: []`). The work is in an ES module,
// which only `import()` can load from here; a Babel pass would rewrite a literal `import()` into
// `require()`, which cannot load it, so the call is made through a Function that no transform
// can see into.
import path = require('node:path')
import url = require('node:url')

import type { ProjectConfig } from './prune-stores.js'

type PruneModule = typeof import('./prune-stores.js')

const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<PruneModule>

/** Prunes the `@cairn/jest` stores of the project's `transform` (see prune-stores.ts). */
async function globalTeardown(_globalConfig: unknown, projectConfig?: ProjectConfig): Promise<void> {
  // An absolute URL: a Function's import() has no module of its own to resolve against.
  const { pruneStores } = await importModule(url.pathToFileURL(path.join(__dirname, 'prune-stores.js')).href)
  await pruneStores(projectConfig)
}

export = globalTeardown

import { createTransformer } from './create-transformer.js'

export type { JestTransformer, TransformOptions, TransformResult } from './inner.js'
export type { CairnJestOptions } from './options.js'
export { CACHE_FORMAT_VERSION } from './transformer.js'
export { createTransformer }

// Jest reads an ES module transformer's default export (requireOrImportModule).
export default { createTransformer }

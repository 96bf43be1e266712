import { createHasher } from '@cairn/hash'
import { type JestTransformer, loadInner } from './inner.js'
import { checkOptions } from './options.js'
import { isDisabled } from './store-dir.js'
import { cachingTransformer, passThrough } from './transformer.js'

/**
 * Jest calls this once per process with the options of `['@cairn/jest', options]` and awaits
 * it, which is where the asynchronous set-up happens (loading the inner transformer, which may
 * be ESM, and the hashers' WebAssembly), so that `process` can stay synchronous.
 */
export async function createTransformer(options?: unknown): Promise<JestTransformer> {
  // CAIRN_JEST_MAX_SIZE is the teardown's business: a bad value must not stop the transforms.
  const checked = checkOptions(options, {})
  const inner = await loadInner(checked.transformer, checked.transformerConfig)
  if (isDisabled()) return passThrough(inner, checked)
  const hashers = await Promise.all([createHasher(), createHasher({ algorithm: 'sha256' })])
  return cachingTransformer(inner, checked, hashers)
}

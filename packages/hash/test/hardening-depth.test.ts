// Issue 13, item 11 (local, keys): a deeply nested key value is refused with the typed error
// and the path of the value that is too deep, never a RangeError from a blown stack.

import { createHasher, encodeCanonical, KEY_VALUE_MAX_DEPTH, type KeyValue } from '@cairn/hash'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

/** `levels` arrays nested inside one another, a string innermost. */
function nestedArrays(levels: number): KeyValue {
  let value: KeyValue = 'x'
  for (let level = 0; level < levels; level++) value = [value]
  return value
}

/** `levels` objects nested as { a: { a: ... } }. */
function nestedObjects(levels: number): KeyValue {
  let value: KeyValue = 1
  for (let level = 0; level < levels; level++) value = { a: value }
  return value
}

function thrown(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  return undefined
}

const depth = suite('key values nested too deep')

depth(
  '100,000 nested arrays: ERR_CAIRN_UNSUPPORTED_VALUE (a TypeError) with a path, not a RangeError',
  async () => {
    const hasher = await createHasher()
    const error = thrown(() => hasher.key(nestedArrays(100_000)))
    assert.instance(error, TypeError)
    assert.is((error as { code?: unknown }).code, 'ERR_CAIRN_UNSUPPORTED_VALUE')
    assert.match((error as { path: string }).path, /^value\[0\]\[0\]/)
  },
)

depth('100,000 nested objects: the same typed error', () => {
  const error = thrown(() => encodeCanonical(nestedObjects(100_000)))
  assert.is((error as { code?: unknown }).code, 'ERR_CAIRN_UNSUPPORTED_VALUE')
  assert.match((error as Error).message, `deeper than ${KEY_VALUE_MAX_DEPTH}`)
})

depth('KEY_VALUE_MAX_DEPTH levels are accepted; one more is refused at the level past the cap', async () => {
  assert.is(KEY_VALUE_MAX_DEPTH, 256)
  const hasher = await createHasher()
  assert.type(hasher.key(nestedArrays(KEY_VALUE_MAX_DEPTH)), 'string')
  assert.type(hasher.key(nestedObjects(KEY_VALUE_MAX_DEPTH)), 'string')
  const error = thrown(() => hasher.key(nestedArrays(KEY_VALUE_MAX_DEPTH + 1)))
  assert.is((error as { path: string }).path, `value${'[0]'.repeat(KEY_VALUE_MAX_DEPTH)}`)
})

depth.run()

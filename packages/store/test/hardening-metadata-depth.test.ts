// Issue 13, item 11 (local, metadata): deeply nested metadata is refused by put and putSync
// with ERR_CAIRN_INVALID_METADATA and the path of the value that is too deep, never a
// RangeError; the limit is METADATA_MAX_DEPTH.

import { type JsonValue, METADATA_MAX_DEPTH, openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

function nested(levels: number): JsonValue {
  let value: JsonValue = 'x'
  for (let level = 0; level < levels; level++) value = level % 2 === 0 ? [value] : { a: value }
  return value
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  return undefined
}

const depth = suite('metadata nested too deep')
depth.after(removeTempDirs)

depth('put and putSync refuse 100,000 levels with ERR_CAIRN_INVALID_METADATA naming the path', async () => {
  const store = await openStore(tempDir())
  const deep = nested(100_000)
  const asyncError = await rejection(store.put(randomKey(), 'data', { metadata: deep }))
  assert.is((asyncError as { code?: unknown }).code, 'ERR_CAIRN_INVALID_METADATA')
  assert.match((asyncError as Error).message, /metadata(\[0\]|\.a){256}/)
  let syncError: unknown
  try {
    store.putSync(randomKey(), 'data', { metadata: deep })
  } catch (error) {
    syncError = error
  }
  assert.is((syncError as { code?: unknown }).code, 'ERR_CAIRN_INVALID_METADATA')
})

depth('METADATA_MAX_DEPTH levels are stored and read back; one more is refused', async () => {
  assert.is(METADATA_MAX_DEPTH, 256)
  const store = await openStore(tempDir())
  const key = randomKey()
  await store.put(key, 'data', { metadata: nested(METADATA_MAX_DEPTH) })
  assert.equal(store.getSync(key)?.metadata, nested(METADATA_MAX_DEPTH))
  const error = await rejection(store.put(randomKey(), 'data', { metadata: nested(METADATA_MAX_DEPTH + 1) }))
  assert.is((error as { code?: unknown }).code, 'ERR_CAIRN_INVALID_METADATA')
})

depth.run()

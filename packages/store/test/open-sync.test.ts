// openStoreSync: the synchronous open for hooks that learn their store late (@cairn/jest).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHasher } from '@cairn/hash'
import { openStore, openStoreSync } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const test = suite('openStoreSync')
const dirs: string[] = []
const temp = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-open-sync-'))
  dirs.push(dir)
  return join(dir, 'store')
}
test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

test('creates a store that openStore reads, and reads what openStore wrote', async () => {
  const dir = temp()
  const hashers = [await createHasher(), await createHasher({ algorithm: 'sha256' })]
  const store = openStoreSync(dir, hashers)
  assert.is(store.algorithm, 'xxh128')
  store.putSync('a'.repeat(32), 'from sync')
  const again = await openStore(dir)
  assert.is((await again.get('a'.repeat(32)))?.data.toString(), 'from sync')
  await again.put('b'.repeat(32), 'from async')
  assert.is(openStoreSync(dir, hashers).getSync('b'.repeat(32))?.data.toString(), 'from async')
})

test('picks the hasher of the store algorithm; none matching is ERR_CAIRN_ALGORITHM_MISMATCH', async () => {
  const dir = temp()
  await openStore(dir, { algorithm: 'sha256' })
  const sha = await createHasher({ algorithm: 'sha256' })
  assert.is(openStoreSync(dir, [await createHasher(), sha]).algorithm, 'sha256')
  try {
    openStoreSync(dir, [await createHasher()])
    assert.unreachable('no hasher for sha256')
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_CAIRN_ALGORITHM_MISMATCH')
  }
})

test.run()

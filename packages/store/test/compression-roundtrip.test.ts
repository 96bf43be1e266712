// Compression round trips: whatever the codec and level, every read path returns the bytes put.

import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { buffer } from 'node:stream/consumers'
import { createHasher } from '@cairn/hash'
import {
  availableCodecs,
  type Codec,
  INLINE_MAX_BYTES,
  openStore,
  openStoreSync,
  type Store,
} from '@cairn/store'
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { compressible, contentPath, entryPath } from './compression-helpers.js'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const LEVELS: Record<Exclude<Codec, 'none'>, [number, number]> = {
  gzip: [1, 9],
  brotli: [0, 11],
  zstd: [1, 19],
}
const codecs = availableCodecs().filter((codec): codec is Exclude<Codec, 'none'> => codec !== 'none')

/** Content of every kind a build makes: incompressible, compressible, inline-sized, empty. */
const contentArbitrary = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 12_000 }).map((bytes) => Buffer.from(bytes)),
  fc.integer({ min: INLINE_MAX_BYTES - 8, max: 40_000 }).map((size) => compressible(size)),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 1500 }))
    .map(([unit, times]) => Buffer.concat(Array.from({ length: times }, () => Buffer.from(unit)))),
)

// ---

const roundTrip = suite('compression round trips')
roundTrip.after(removeTempDirs)

for (const codec of codecs) {
  roundTrip(`${codec}: every level, every read path returns the bytes put (property)`, async () => {
    const dir = tempDir()
    const hasher = await createHasher()
    const stores = new Map<number, Store>()
    const storeAt = async (level: number): Promise<Store> => {
      let store = stores.get(level)
      if (store === undefined) {
        store = await openStore(dir, { compression: { codec, level } })
        stores.set(level, store)
      }
      return store
    }
    const syncStore = openStoreSync(dir, [hasher], { compression: codec })
    const [min, max] = LEVELS[codec]
    await fc.assert(
      fc.asyncProperty(
        contentArbitrary,
        fc.integer({ min, max }),
        fc.boolean(),
        async (data, level, sync) => {
          const store = await storeAt(level)
          const key = randomKey()
          const put = sync ? syncStore.putSync(key, data) : await store.put(key, data)
          assert.is(put.digest, hasher.bytes(data))
          assert.ok(put.published)
          const got = await store.get(key)
          assert.ok(got?.data.equals(data), 'get')
          assert.ok(syncStore.getSync(key)?.data.equals(data), 'getSync')
          const streamed = await store.getStream(key)
          assert.ok(streamed)
          const chunks: Buffer[] = []
          for await (const chunk of streamed.stream) chunks.push(chunk as Buffer)
          assert.ok(Buffer.concat(chunks).equals(data), 'getStream')
          for (const mode of ['copy', 'link'] as const) {
            const out = join(dir, `out-${key}-${mode}`)
            assert.ok(await store.materialize(key, out, { mode }), `materialize ${mode}`)
            assert.ok(readFileSync(out).equals(data), `materialize ${mode} bytes`)
          }
          // What info says the entry takes on disk is what the content file takes.
          const info = await store.info(key)
          assert.ok(info)
          assert.is(info.size, data.length)
          if (data.length <= INLINE_MAX_BYTES) assert.is(info.storedSize, data.length)
          else assert.is(info.storedSize, statSync(contentPath(dir, info.digest)).size)
          // The 10 % rule: raw, or at most 90 % of the raw size.
          assert.ok(info.storedSize === data.length || info.storedSize <= Math.floor(data.length * 0.9))
        },
      ),
      { numRuns: 30 },
    )
    assert.is((await storeAt(min)).stats().corrupt, 0)
  })
}

roundTrip('a stream put is compressed like a buffer put, and reads back whole', async () => {
  for (const codec of codecs) {
    const dir = tempDir()
    const store = await openStore(dir, { compression: codec })
    const data = compressible(3 << 20)
    const key = randomKey()
    async function* chunks() {
      for (let at = 0; at < data.length; at += 100_000) yield data.subarray(at, at + 100_000)
    }
    await store.put(key, chunks())
    const info = await store.info(key)
    assert.ok(info && info.storedSize < data.length / 2, `${codec} compressed`)
    assert.ok((await store.get(key))?.data.equals(data))
    const streamed = await store.getStream(key)
    assert.ok(streamed && (await buffer(streamed.stream)).equals(data))
    // A file larger than a slab takes the same path (put of a big buffer, putFile).
    const big = compressible(2 << 20)
    const bigKey = randomKey()
    await store.put(bigKey, big)
    assert.ok(((await store.info(bigKey))?.storedSize ?? Infinity) < big.length / 2)
    assert.ok(
      openStoreSync(dir, [await createHasher()])
        .getSync(bigKey)
        ?.data.equals(big),
    )
  }
})

roundTrip('verify: hash reads compressed entries whole and checks the uncompressed digest', async () => {
  const dir = tempDir()
  const data = compressible(50_000)
  const key = randomKey()
  await (await openStore(dir, { compression: 'gzip' })).put(key, data)
  const store = await openStore(dir, { verify: 'hash' })
  assert.ok((await store.get(key))?.data.equals(data))
  const streamed = await store.getStream(key)
  assert.ok(streamed && (await buffer(streamed.stream)).equals(data))
  assert.ok(await store.materialize(key, join(dir, 'out'), { mode: 'link' }))
  assert.ok(readFileSync(join(dir, 'out')).equals(data))
  assert.is(store.stats().corrupt, 0)
})

roundTrip('a compressed stream destroyed early, or left unread and destroyed, closes its file', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { compression: 'gzip' })
  const key = randomKey()
  await store.put(key, compressible(4 << 20))
  const descriptors = () => readdirSync('/proc/self/fd').length
  const before = descriptors()
  for (const readFirst of [true, false]) {
    const streamed = await store.getStream(key)
    assert.ok(streamed)
    assert.is(descriptors(), before + 1, 'the content file is open')
    if (readFirst) {
      for await (const _chunk of streamed.stream) break
    } else {
      streamed.stream.destroy()
    }
    // The close is asynchronous: wait for it, a bounded number of event-loop turns.
    for (let turn = 0; turn < 100_000 && descriptors() !== before; turn++) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.is(descriptors(), before, readFirst ? 'closed after a partial read' : 'closed unread')
  }
})

// ---

const rules = suite('when content is compressed')
rules.after(removeTempDirs)

rules('only content over the threshold, and only when the frame saves at least 10 %', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { compression: { codec: 'gzip', threshold: 10_000 } })
  const cases: [string, Buffer, 'raw' | 'framed'][] = [
    ['inline', compressible(INLINE_MAX_BYTES), 'raw'],
    ['at the threshold', compressible(10_000), 'raw'],
    ['just over it', compressible(10_001), 'framed'],
    ['incompressible', randomBytes(50_000), 'raw'],
    ['compressible', compressible(50_000), 'framed'],
  ]
  for (const [name, data, expected] of cases) {
    const key = randomKey()
    await store.put(key, data)
    const info = await store.info(key)
    assert.ok(info, name)
    const record = readFileSync(entryPath(dir, key))
    if (expected === 'raw') {
      assert.is(info.storedSize, data.length, name)
      assert.is(record[4], 1, `${name}: a raw entry's record stays version 01`)
    } else {
      assert.ok(info.storedSize <= Math.floor(data.length * 0.9), name)
      assert.is(record[4], 2, `${name}: a framed entry's record is version 02`)
      const file = readFileSync(contentPath(dir, info.digest))
      assert.is(file.subarray(0, 4).toString('latin1'), 'CRNZ', name)
      assert.is(file.length, info.storedSize, name)
    }
  }
})

rules('content that would save less than 10 % is stored raw', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { compression: 'gzip' })
  // Random bytes with a few in a hundred set to zero: compressible, but by less than 10 %.
  for (const share of [0.02, 0.05, 0.08]) {
    const data = randomBytes(60_000)
    for (let at = 0; at < data.length; at += Math.round(1 / share)) data[at] = 0
    const key = randomKey()
    await store.put(key, data)
    const info = await store.info(key)
    assert.ok(info)
    assert.is(info.storedSize, data.length, `share ${share}`)
    assert.is(statSync(contentPath(dir, info.digest)).size, data.length)
  }
})

rules("a raw entry's record is byte for byte what a store without compression writes", async () => {
  const data = randomBytes(20_000)
  const key = randomKey()
  const records: Buffer[] = []
  for (const compression of ['none', 'gzip', 'brotli'] as const) {
    const dir = tempDir()
    await (await openStore(dir, { compression, now: () => 1_795_583_112_073 })).put(key, data, {
      metadata: { exit: 0 },
    })
    records.push(readFileSync(entryPath(dir, key)))
  }
  assert.ok(records[1]?.equals(records[0] as Buffer))
  assert.ok(records[2]?.equals(records[0] as Buffer))
})

rules('a repeated put of a taken key compresses nothing and publishes nothing', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { compression: 'brotli' })
  const key = randomKey()
  const first = compressible(30_000)
  assert.ok((await store.put(key, first)).published)
  const again = await store.put(key, compressible(30_000))
  assert.is(again.published, false)
  assert.is(store.putSync(key, compressible(30_000)).published, false)
  assert.ok((await store.get(key))?.data.equals(first))
})

roundTrip.run()
rules.run()

import { randomBytes } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createHasher } from '@cairn/hash'
import { INLINE_MAX_BYTES, openStore, type Store } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, rejectsWith, removeTempDirs, tempDir } from './helpers.js'

/** The async and sync APIs must behave identically; every round trip runs through both. */
const apis = {
  async: {
    put: (s: Store, key: string, data: Uint8Array | string, metadata?: never) =>
      s.put(key, data, metadata === undefined ? {} : { metadata }),
    get: (s: Store, key: string) => s.get(key),
    info: (s: Store, key: string) => s.info(key),
    has: (s: Store, key: string) => s.has(key),
    delete: (s: Store, key: string) => s.delete(key),
  },
  sync: {
    put: async (s: Store, key: string, data: Uint8Array | string, metadata?: never) =>
      s.putSync(key, data, metadata === undefined ? {} : { metadata }),
    get: async (s: Store, key: string) => s.getSync(key),
    info: async (s: Store, key: string) => s.infoSync(key),
    has: async (s: Store, key: string) => s.hasSync(key),
    delete: async (s: Store, key: string) => s.deleteSync(key),
  },
}

const sizes = [0, 1, 100, INLINE_MAX_BYTES, INLINE_MAX_BYTES + 1, 1024 * 1024]

for (const [name, api] of Object.entries(apis)) {
  const round = suite(`round trips (${name})`)
  round.after(removeTempDirs)

  round('put then get returns the same bytes, size and digest, for inline and content entries', async () => {
    const s = await openStore(tempDir())
    const hasher = await createHasher()
    for (const size of sizes) {
      const data = randomBytes(size)
      const key = randomKey()
      const put = await api.put(s, key, data)
      assert.equal(put, { key, digest: hasher.bytes(data), size, published: true })
      const got = await api.get(s, key)
      assert.ok(got, `hit at ${size} bytes`)
      assert.ok(got.data.equals(data), `bytes at ${size}`)
      assert.is(got.size, size)
      assert.is(got.digest, hasher.bytes(data))
      assert.is(got.key, key)
      assert.instance(got.time, Date)
      assert.is(got.metadata, undefined)
      const info = await api.info(s, key)
      assert.equal(info, {
        key,
        size,
        storedSize: size,
        digest: hasher.bytes(data),
        metadata: undefined,
        time: got.time,
      })
      assert.ok(await api.has(s, key))
    }
  })

  round('strings are stored as UTF-8', async () => {
    const s = await openStore(tempDir())
    const key = randomKey()
    await api.put(s, key, 'héllo 𝄞')
    assert.is((await api.get(s, key))?.data.toString('utf8'), 'héllo 𝄞')
  })

  round('metadata round-trips as JSON', async () => {
    const s = await openStore(tempDir())
    const key = randomKey()
    const metadata = { exitCode: 0, files: ['a.js', 'b.js'], nested: { ok: true, none: null }, ratio: 0.5 }
    await api.put(s, key, 'x', metadata as never)
    assert.equal((await api.get(s, key))?.metadata, metadata)
    assert.equal((await api.info(s, key))?.metadata, metadata)
  })

  round('a miss is undefined; has is false; delete of a missing key is false', async () => {
    const s = await openStore(tempDir())
    const key = randomKey()
    assert.is(await api.get(s, key), undefined)
    assert.is(await api.info(s, key), undefined)
    assert.is(await api.has(s, key), false)
    assert.is(await api.delete(s, key), false)
  })

  round(
    'first writer wins: a second put of the key reports published: false and changes nothing',
    async () => {
      const s = await openStore(tempDir())
      const key = randomKey()
      const first = randomBytes(10_000)
      const second = randomBytes(10_000)
      assert.ok((await api.put(s, key, first)).published)
      const again = await api.put(s, key, second)
      assert.is(again.published, false)
      assert.is(again.size, 10_000)
      assert.ok((await api.get(s, key))?.data.equals(first))
    },
  )

  round('equal contents are stored once: two keys, one content file', async () => {
    const dir = tempDir()
    const s = await openStore(dir)
    const data = randomBytes(50_000)
    const a = await api.put(s, randomKey(), data)
    const b = await api.put(s, randomKey(), data)
    assert.is(a.digest, b.digest)
    const contentFiles = readdirSync(join(dir, 'content')).flatMap((shard) =>
      readdirSync(join(dir, 'content', shard)),
    )
    assert.equal(contentFiles, [a.digest])
    const mode = statSync(join(dir, 'content', a.digest.slice(0, 2), a.digest)).mode & 0o777
    assert.is(mode, 0o444)
  })

  round('delete removes the entry; a later put publishes again', async () => {
    const s = await openStore(tempDir())
    const key = randomKey()
    await api.put(s, key, 'one')
    assert.ok(await api.delete(s, key))
    assert.is(await api.get(s, key), undefined)
    assert.ok((await api.put(s, key, 'two')).published)
    assert.is((await api.get(s, key))?.data.toString(), 'two')
  })

  round('nothing is left in tmp/ after puts', async () => {
    const dir = tempDir()
    const s = await openStore(dir)
    for (const size of sizes) await api.put(s, randomKey(), randomBytes(size))
    assert.equal(readdirSync(join(dir, 'tmp')), [])
  })

  round('stats count hits, misses, puts and published in this process', async () => {
    const s = await openStore(tempDir())
    const key = randomKey()
    await api.put(s, key, 'a')
    await api.put(s, key, 'b')
    await api.get(s, key)
    await api.get(s, randomKey())
    assert.equal(s.stats(), { hits: 1, misses: 1, puts: 2, published: 1, corrupt: 0 })
  })

  round.run()
}

// ---

const inputs = suite('put input kinds')
inputs.after(removeTempDirs)

inputs('streams, async iterables and files round-trip, inline and not', async () => {
  const dir = tempDir()
  const s = await openStore(dir)
  for (const size of [0, 10, INLINE_MAX_BYTES, INLINE_MAX_BYTES + 1, 300_000]) {
    const data = randomBytes(size)
    const fromStream = randomKey()
    const chunks = [data.subarray(0, size / 3), data.subarray(size / 3)]
    await s.put(fromStream, Readable.from(chunks))
    assert.ok((await s.get(fromStream))?.data.equals(data), `stream, ${size}`)
    const fromIterable = randomKey()
    await s.put(
      fromIterable,
      (async function* () {
        yield* chunks
      })(),
    )
    assert.ok((await s.get(fromIterable))?.data.equals(data), `iterable, ${size}`)
    const file = join(tempDir(), 'input')
    writeFileSync(file, data)
    const fromFile = randomKey()
    const put = await s.putFile(fromFile, file)
    assert.is(put.size, size)
    assert.ok((await s.get(fromFile))?.data.equals(data), `file, ${size}`)
  }
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

inputs('a 64 MiB value round-trips through put, putSync, putFile and getStream', async () => {
  const s = await openStore(tempDir())
  const data = randomBytes(64 * 1024 * 1024)
  const a = randomKey()
  await s.put(a, data)
  assert.ok((await s.get(a))?.data.equals(data))
  const b = randomKey()
  s.putSync(b, data)
  assert.ok(s.getSync(b)?.data.equals(data))
  const file = join(tempDir(), 'big')
  writeFileSync(file, data)
  const c = randomKey()
  await s.putFile(c, file)
  const streamed = await s.getStream(c)
  assert.ok(streamed)
  const parts: Buffer[] = []
  for await (const chunk of streamed.stream) parts.push(chunk as Buffer)
  assert.ok(Buffer.concat(parts).equals(data))
})

inputs('a stream that fails midway rejects with its own error and leaves nothing behind', async () => {
  const dir = tempDir()
  const s = await openStore(dir)
  const key = randomKey()
  const failure = new Error('network went away')
  const failing = (async function* () {
    yield randomBytes(100_000)
    throw failure
  })()
  try {
    await s.put(key, failing)
    assert.unreachable('put resolved')
  } catch (error) {
    assert.is(error, failure)
  }
  assert.is(await s.get(key), undefined)
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

inputs('a stream that yields something other than bytes is ERR_CAIRN_INVALID_DATA', async () => {
  const dir = tempDir()
  const s = await openStore(dir)
  for (const bad of [42, { a: 1 }, null, undefined, [1, 2]]) {
    const key = randomKey()
    const yieldsBad = (async function* () {
      yield Buffer.from('ok')
      yield bad
    })()
    await rejectsWith(() => s.put(key, yieldsBad as AsyncIterable<Uint8Array>), 'ERR_CAIRN_INVALID_DATA')
    assert.is(await s.get(key), undefined)
  }
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

inputs('data of the wrong type is ERR_CAIRN_INVALID_DATA', async () => {
  const s = await openStore(tempDir())
  for (const bad of [42, null, undefined, { length: 3 }, [1, 2]]) {
    await rejectsWith(() => s.put(randomKey(), bad as never), 'ERR_CAIRN_INVALID_DATA')
    await rejectsWith(() => s.putSync(randomKey(), bad as never), 'ERR_CAIRN_INVALID_DATA')
  }
})

inputs('metadata that is not plain JSON, or too large, is ERR_CAIRN_INVALID_METADATA', async () => {
  const dir = tempDir()
  const s = await openStore(dir)
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const bad = [() => 1, 1n, Number.NaN, new Date(0), cyclic, { deep: [Symbol('s')] }, 'x'.repeat(70_000)]
  for (const metadata of bad) {
    const key = randomKey()
    await rejectsWith(() => s.put(key, 'x', { metadata: metadata as never }), 'ERR_CAIRN_INVALID_METADATA')
    await rejectsWith(
      () => s.putSync(key, 'x', { metadata: metadata as never }),
      'ERR_CAIRN_INVALID_METADATA',
    )
    assert.is(await s.get(key), undefined)
  }
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

inputs('an aborted put rejects with the abort reason, even while its stream is stalled', async () => {
  const dir = tempDir()
  const s = await openStore(dir)
  const controller = new AbortController()
  const stalled = (async function* () {
    yield Buffer.alloc(10)
    await new Promise(() => {})
  })()
  const key = randomKey()
  const pending = s.put(key, stalled, { signal: controller.signal })
  setTimeout(() => controller.abort(new Error('build cancelled')), 20)
  try {
    await pending
    assert.unreachable('put resolved')
  } catch (error) {
    assert.is((error as Error).message, 'build cancelled')
  }
  assert.is(await s.get(key), undefined)
  assert.equal(readdirSync(join(dir, 'tmp')), [])
  try {
    await s.put(randomKey(), 'x', { signal: AbortSignal.abort() })
    assert.unreachable('an already aborted put resolved')
  } catch (error) {
    assert.is((error as Error).name, 'AbortError')
  }
})

inputs.run()

// ---

const reading = suite('materialize and getStream')
reading.after(removeTempDirs)

reading(
  'materialize copies (writable) or links (read-only, shared) the content, replacing dest',
  async () => {
    const s = await openStore(tempDir())
    const out = tempDir('cairn-out-')
    for (const size of [10, 100_000]) {
      const data = randomBytes(size)
      const key = randomKey()
      await s.put(key, data)
      const copy = join(out, `copy-${size}`)
      writeFileSync(copy, 'old contents')
      assert.ok(await s.materialize(key, copy))
      assert.ok(readFileSync(copy).equals(data))
      assert.is(statSync(copy).mode & 0o200, 0o200, 'a copy is writable by its owner')
      const linked = join(out, `link-${size}`)
      assert.ok(await s.materialize(key, linked, { mode: 'link' }))
      assert.ok(readFileSync(linked).equals(data))
      if (size > INLINE_MAX_BYTES) {
        assert.is(statSync(linked).nlink, 2, 'a link shares the content file')
        assert.is(statSync(linked).mode & 0o222, 0, 'a linked output is read-only')
      }
    }
    assert.is(await s.materialize(randomKey(), join(out, 'missing')), false)
    assert.equal(readdirSync(out).sort(), ['copy-10', 'copy-100000', 'link-10', 'link-100000'])
  },
)

reading('getStream streams inline and content entries; a miss is undefined', async () => {
  const s = await openStore(tempDir())
  for (const size of [0, 10, 100_000]) {
    const data = randomBytes(size)
    const key = randomKey()
    await s.put(key, data, { metadata: { size } })
    const result = await s.getStream(key)
    assert.ok(result)
    assert.is(result.info.size, size)
    assert.equal(result.info.metadata, { size })
    assert.is(result.stream.readableObjectMode, false, 'a byte stream, inline or not')
    const parts: Buffer[] = []
    for await (const chunk of result.stream) parts.push(chunk as Buffer)
    assert.ok(Buffer.concat(parts).equals(data))
  }
  assert.is(await s.getStream(randomKey()), undefined)
})

reading('entries lists every whole entry once, without counting as a use', async () => {
  const s = await openStore(tempDir())
  const keys = new Set<string>()
  for (let i = 0; i < 40; i++) {
    const key = randomKey()
    keys.add(key)
    await s.put(key, randomBytes(i * 200))
  }
  const listed = []
  for await (const info of s.entries()) listed.push(info.key)
  assert.is(listed.length, 40)
  assert.equal(new Set(listed), keys)
  assert.is(s.stats().hits, 0)
})

reading.run()

// ---

const lastUse = suite('last use (the record mtime the GC orders by)')
lastUse.after(removeTempDirs)

const HOUR = 3_600_000
const recordOf = (dir: string, key: string) => join(dir, 'entries', key.slice(0, 2), key)
function age(path: string, ms: number): void {
  const seconds = (Date.now() - ms) / 1000
  utimesSync(path, seconds, seconds)
}
const ageOf = (path: string) => Date.now() - lstatSync(path).mtimeMs

lastUse('every read that uses an entry refreshes its last use; info and has do not', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { touchInterval: 0 })
  const uses: [string, (key: string) => Promise<unknown>][] = [
    ['get', (key) => store.get(key)],
    ['getSync', async (key) => store.getSync(key)],
    ['getStream', async (key) => (await store.getStream(key))?.stream.resume()],
    ['materialize copy', (key) => store.materialize(key, join(dir, '..', `out-${key}`))],
    ['materialize link', (key) => store.materialize(key, join(dir, '..', `link-${key}`), { mode: 'link' })],
  ]
  for (const size of [100, 100_000]) {
    for (const [name, use] of uses) {
      const key = randomKey()
      await store.put(key, randomBytes(size))
      age(recordOf(dir, key), 24 * HOUR)
      await use(key)
      assert.ok(ageOf(recordOf(dir, key)) < 60_000, `${name} of ${size} bytes refreshed the last use`)
    }
    for (const [name, look] of [
      ['info', (key: string) => store.info(key)],
      ['has', (key: string) => store.has(key)],
    ] as const) {
      const key = randomKey()
      await store.put(key, randomBytes(size))
      age(recordOf(dir, key), 24 * HOUR)
      await look(key)
      assert.ok(ageOf(recordOf(dir, key)) > 23 * HOUR, `${name} is not a use`)
    }
  }
})

lastUse('with the default touch interval, a hit refreshes only a last use older than an hour', async () => {
  const dir = tempDir()
  // Entries really put in the past: a hit trusts a record created less than an interval ago to
  // have a recent last use (read.ts, touchQuickly), so aging the mtime alone would not do.
  let clock = Date.now() - 2 * HOUR
  const store = await openStore(dir, { now: () => clock })
  const recent = randomKey()
  const old = randomKey()
  await store.put(old, 'old')
  clock = Date.now() - 10 * 60_000
  await store.put(recent, 'recent')
  clock = Date.now()
  age(recordOf(dir, recent), 10 * 60_000)
  age(recordOf(dir, old), 2 * HOUR)
  await store.get(recent)
  await store.get(old)
  assert.ok(ageOf(recordOf(dir, recent)) > 9 * 60_000, 'a hit 10 minutes after the last use writes nothing')
  assert.ok(ageOf(recordOf(dir, old)) < 60_000, 'a hit 2 hours after the last use refreshes it')
})

lastUse.run()

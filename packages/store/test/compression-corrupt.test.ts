// Damaged compressed content is a miss on every read path, and is removed like any corrupt file:
// a truncated or garbled stream, a bomb, a frame that is not what its record says. Content in a
// codec this process cannot decode is a miss too, but it is not corrupt and stays.

import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buffer } from 'node:stream/consumers'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { createHasher } from '@cairn/hash'
import { availableCodecs, openStore, openStoreSync, type Store } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  CODEC_IDS,
  compressible,
  contentPath,
  entryPath,
  framedRecord,
  frameHeader,
  writeStoreFile,
} from './compression-helpers.js'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

interface Planted {
  key: string
  digest: string
  content: string
  record: string
}

/** A framed entry written by hand: `file` is the whole content file; the record says `codec` and `stored`. */
async function plant(
  dir: string,
  data: Buffer,
  file: Buffer,
  options: { codec?: string | undefined; size?: number | undefined; stored?: number | undefined } = {},
): Promise<Planted> {
  const hasher = await createHasher()
  const key = randomKey()
  const digest = hasher.bytes(data)
  const record = framedRecord(
    digest,
    options.size ?? data.length,
    options.codec ?? 'gzip',
    options.stored ?? file.length,
  )
  writeStoreFile(contentPath(dir, digest), file)
  writeStoreFile(entryPath(dir, key), record)
  return { key, digest, content: contentPath(dir, digest), record: entryPath(dir, key) }
}

const data = compressible(100_000)
const gzipped = gzipSync(data)
// Bombs: 64 MiB of zeros, compressed once (to about 290 kB with gzip, 12 kB with brotli).
const zeros = Buffer.alloc(64 << 20)
const gzipBomb = gzipSync(zeros, { level: 1 })
const brotliBomb = brotliCompressSync(zeros, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } })

/** Every way a framed content file can be bad while its size is what its record says. */
const damages: [string, () => { file: Buffer; size?: number; codec?: string }][] = [
  [
    'a truncated stream',
    () => ({ file: Buffer.concat([frameHeader(1, data.length), gzipped.subarray(0, 2000)]) }),
  ],
  [
    'a garbled stream',
    () => {
      const body = Buffer.from(gzipped)
      for (let at = 100; at < body.length; at += 97) body[at] = (body[at] as number) ^ 0x5a
      return { file: Buffer.concat([frameHeader(1, data.length), body]) }
    },
  ],
  [
    'a gzip bomb (64 MiB of zeros for a 1 MB entry)',
    () => ({ file: Buffer.concat([frameHeader(1, 1_000_000), gzipBomb]), size: 1_000_000 }),
  ],
  [
    'a brotli bomb',
    () => ({
      file: Buffer.concat([frameHeader(2, 200_000), brotliBomb]),
      size: 200_000,
      codec: 'brotli',
    }),
  ],
  [
    'a stream shorter than the size',
    () => ({ file: Buffer.concat([frameHeader(1, 200_000), gzipped]), size: 200_000 }),
  ],
  [
    'a frame of another codec than the record',
    () => ({ file: Buffer.concat([frameHeader(2, data.length), brotliCompressSync(data)]) }),
  ],
  [
    'a frame of another size than the record',
    () => ({ file: Buffer.concat([frameHeader(1, data.length + 1), gzipped]) }),
  ],
  [
    'a bad magic',
    () => {
      const file = Buffer.concat([frameHeader(1, data.length), gzipped])
      file[0] = 0x58
      return { file }
    },
  ],
  ['an unknown frame codec number', () => ({ file: Buffer.concat([frameHeader(9, data.length), gzipped]) })],
]

type ReadPath = (store: Store, key: string, dir: string) => Promise<boolean>

const readPaths: [string, ReadPath][] = [
  ['get', async (store, key) => (await store.get(key)) !== undefined],
  ['getSync', async (store, key) => store.getSync(key) !== undefined],
  [
    'getStream',
    async (store, key) => {
      const streamed = await store.getStream(key)
      if (streamed === undefined) return false
      try {
        await buffer(streamed.stream)
        return true
      } catch (error) {
        assert.is((error as { code?: string }).code, 'ERR_CAIRN_CORRUPT')
        return false
      }
    },
  ],
  ['materialize copy', async (store, key, dir) => store.materialize(key, join(dir, `out-${key}`))],
  [
    'materialize link',
    async (store, key, dir) => store.materialize(key, join(dir, `out-${key}`), { mode: 'link' }),
  ],
]

// ---

const corrupt = suite('damaged compressed content')
corrupt.after(removeTempDirs)

for (const [damage, make] of damages) {
  corrupt(`${damage}: a miss on every read path, and removed`, async () => {
    const dir = tempDir()
    for (const [name, read] of readPaths) {
      const store = name === 'getSync' ? openStoreSync(dir, [await createHasher()]) : await openStore(dir)
      const { file, ...options } = make()
      const planted = await plant(dir, data, file, options)
      assert.is(await read(store, planted.key, dir), false, `${name} misses`)
      assert.ok(store.stats().corrupt >= 1, `${name} counts it as corrupt`)
      assert.not.ok(existsSync(planted.content), `${name} removed the content file`)
      // The next read is a plain miss, and takes the record away too.
      assert.is(await store.get(planted.key), undefined)
      assert.not.ok(existsSync(planted.record), `${name}: the record is gone after the next read`)
      assert.not.ok(existsSync(join(dir, `out-${planted.key}`)), `${name} left no output`)
    }
  })
}

corrupt('a content file of another size than the record says is a miss, and removed', async () => {
  const file = Buffer.concat([frameHeader(1, data.length), gzipped])
  const dir = tempDir()
  for (const stored of [file.length - 1, file.length + 1]) {
    for (const [name, read] of readPaths) {
      const store = await openStore(dir)
      const planted = await plant(dir, data, file, { stored })
      assert.is(await read(store, planted.key, dir), false, `${name} misses`)
      assert.not.ok(existsSync(planted.content), `${name} removed the content file`)
    }
  }
})

corrupt('the same entry, undamaged, is a hit on every read path (the planting is right)', async () => {
  const dir = tempDir()
  for (const [name, read] of readPaths) {
    const store = await openStore(dir)
    const planted = await plant(dir, data, Buffer.concat([frameHeader(CODEC_IDS.gzip, data.length), gzipped]))
    assert.ok(await read(store, planted.key, dir), name)
    assert.is((await store.get(planted.key))?.data.equals(data), true)
    assert.is(store.stats().corrupt, 0)
  }
})

corrupt('a record of version 02 that says inline, or stored not below size, is a bad record', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const file = Buffer.concat([frameHeader(1, data.length), gzipped])
  const planted = await plant(dir, data, file, { stored: data.length })
  assert.is(await store.get(planted.key), undefined)
  assert.not.ok(existsSync(planted.record))
})

// ---

const undecodable = suite('content in a codec this process cannot decode')
undecodable.after(removeTempDirs)

undecodable(
  'zstd before Node 22.15: a miss on every read path, not corrupt, and nothing removed',
  async () => {
    if (availableCodecs().includes('zstd')) {
      // This Node decodes zstd: the case cannot happen here (CI runs Node 20, where it does).
      return
    }
    const dir = mkdtempSync(join(tmpdir(), 'cairn-zstd-'))
    const store = await openStore(dir)
    // Whatever the bytes after the header: this process cannot tell, so it must not judge them.
    const planted = await plant(dir, data, Buffer.concat([frameHeader(3, data.length), gzipped]), {
      codec: 'zstd',
    })
    for (const [name, read] of readPaths) {
      assert.is(await read(store, planted.key, dir), false, name)
      assert.ok(existsSync(planted.content), `${name} left the content`)
      assert.ok(existsSync(planted.record), `${name} left the record`)
    }
    assert.is(await store.info(planted.key), undefined)
    assert.is(store.stats().corrupt, 0)
    // And a writer of the same bytes keeps the file that is there, recording it as it is.
    const other = randomKey()
    await (await openStore(dir, { compression: 'gzip' })).put(other, data)
    assert.ok(existsSync(planted.content))
    assert.is(await store.get(other), undefined)
    assert.is(store.stats().corrupt, 0)
  },
)

corrupt.run()
undecodable.run()

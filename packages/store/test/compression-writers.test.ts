// Several codecs in one store: entries written by stores with different compression options are
// read by any store, and two writers of one digest with different codecs agree on one content
// file (first link wins; a writer that finds it there records the file that is there).

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buffer } from 'node:stream/consumers'
import { gzipSync } from 'node:zlib'
import { createHasher } from '@cairn/hash'
import {
  availableCodecs,
  type Codec,
  openStore,
  openStoreSync,
  readContentFrameHeader,
  type Store,
} from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  CODEC_IDS,
  compressible,
  contentPath,
  entryPath,
  frameHeader,
  writeStoreFile,
} from './compression-helpers.js'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const codecs = availableCodecs()

/** The codec and stored size a record names (docs/FORMAT.md), read from its bytes. */
function recordCodec(dir: string, key: string): { codec: string; stored: number | undefined } {
  const bytes = readFileSync(entryPath(dir, key))
  const header = JSON.parse(bytes.toString('utf8', 12, 12 + bytes.readUInt32BE(8)))
  return { codec: header.codec ?? 'none', stored: header.stored }
}

/** What the content file on disk is: raw, or the codec its frame header names. */
function fileCodec(dir: string, digest: string, size: number): { codec: string; stored: number } {
  const file = readFileSync(contentPath(dir, digest))
  if (file.length === size) return { codec: 'none', stored: size }
  const header = readContentFrameHeader(file)
  assert.ok(header && header.size === size, 'a valid frame for this size')
  return { codec: header.codec, stored: file.length }
}

// ---

const mixed = suite('a store of several codecs')
mixed.after(removeTempDirs)

mixed('entries written with each codec are read back by a store opened with any codec', async () => {
  const dir = tempDir()
  const hasher = await createHasher()
  const written: [string, Buffer][] = []
  for (const codec of codecs) {
    const store = await openStore(dir, { compression: codec })
    for (const data of [compressible(20_000), randomBytes(9_000), compressible(300)]) {
      const key = randomKey()
      await store.put(key, data)
      written.push([key, data])
    }
  }
  for (const codec of codecs) {
    const store = await openStore(dir, { compression: codec })
    const syncStore = openStoreSync(dir, [hasher], { compression: codec })
    for (const [key, data] of written) {
      assert.ok((await store.get(key))?.data.equals(data), `get by a ${codec} store`)
      assert.ok(syncStore.getSync(key)?.data.equals(data), `getSync by a ${codec} store`)
      const streamed = await store.getStream(key)
      assert.ok(streamed && (await buffer(streamed.stream)).equals(data))
    }
    assert.is(store.stats().corrupt, 0)
  }
  // Changing the option invalidated nothing: every entry is listed.
  const listed = []
  for await (const info of (await openStore(dir)).entries()) listed.push(info.key)
  assert.is(listed.length, written.length)
})

// ---

const twoWriters = suite('two writers, one digest, different codecs')
twoWriters.after(removeTempDirs)

const pairs: [Codec, Codec][] = []
for (const first of codecs) for (const second of codecs) if (first !== second) pairs.push([first, second])

for (const [first, second] of pairs) {
  twoWriters(`${first} first, then ${second}: the second records the first's file`, async () => {
    const dir = tempDir()
    const data = compressible(40_000)
    const a = randomKey()
    const b = randomKey()
    await (await openStore(dir, { compression: first })).put(a, data)
    const secondStore = await openStore(dir, { compression: second })
    // Sync and async writers take the same path; use both.
    if (second === 'brotli') secondStore.putSync(b, data)
    else await secondStore.put(b, data)
    const digest = (await secondStore.info(a))?.digest as string
    const onDisk = fileCodec(dir, digest, data.length)
    assert.is(onDisk.codec, first)
    for (const key of [a, b]) {
      const record = recordCodec(dir, key)
      assert.is(record.codec, onDisk.codec)
      assert.is(record.stored ?? data.length, onDisk.stored)
      assert.ok((await secondStore.get(key))?.data.equals(data))
      assert.is((await secondStore.info(key))?.storedSize, onDisk.stored)
    }
    assert.is(secondStore.stats().corrupt, 0)
  })
}

twoWriters('stream puts of one digest with different codecs also record the file that is there', async () => {
  const dir = tempDir()
  const data = compressible(2 << 20)
  const keys: string[] = []
  for (const codec of codecs) {
    const key = randomKey()
    keys.push(key)
    await (await openStore(dir, { compression: codec })).put(
      key,
      (async function* () {
        for (let at = 0; at < data.length; at += 65_536) yield data.subarray(at, at + 65_536)
      })(),
    )
  }
  const store = await openStore(dir)
  const digest = (await store.info(keys[0] as string))?.digest as string
  const onDisk = fileCodec(dir, digest, data.length)
  assert.is(onDisk.codec, codecs[0])
  for (const key of keys) {
    assert.is(recordCodec(dir, key).codec, onDisk.codec)
    assert.ok((await store.get(key))?.data.equals(data))
  }
})

/** A store whose marker says copy mode, as one created where hard links fail would be. */
async function openCopyModeStore(dir: string, compression: Codec): Promise<Store> {
  await openStore(dir)
  const marker = join(dir, 'cairn-store.json')
  const fields = JSON.parse(readFileSync(marker, 'utf8'))
  chmodSync(marker, 0o644)
  writeFileSync(marker, `${JSON.stringify({ ...fields, publish: 'copy' })}\n`)
  return openStore(dir, { compression })
}

twoWriters("copy mode: the second writer records the first one's file, sync and async", async () => {
  const dir = tempDir()
  const data = compressible(40_000)
  const keys = [randomKey(), randomKey(), randomKey()]
  await (await openCopyModeStore(dir, 'gzip')).put(keys[0] as string, data)
  const brotli = await openStore(dir, { compression: 'brotli' })
  await brotli.put(keys[1] as string, data)
  brotli.putSync(keys[2] as string, data)
  const digest = (await brotli.info(keys[0] as string))?.digest as string
  assert.is(fileCodec(dir, digest, data.length).codec, 'gzip')
  for (const key of keys) {
    assert.is(recordCodec(dir, key).codec, 'gzip')
    assert.ok((await brotli.get(key))?.data.equals(data))
  }
})

twoWriters('copy mode: a frame still being copied is not taken for a whole one', async () => {
  const dir = tempDir()
  const store = await openCopyModeStore(dir, 'gzip')
  const data = compressible(40_000)
  const digest = (await createHasher()).bytes(data)
  // What another gzip writer (level 6) would copy into place, a third of it written so far.
  const whole = Buffer.concat([frameHeader(CODEC_IDS.gzip, data.length), gzipSync(data, { level: 6 })])
  writeStoreFile(contentPath(dir, digest), whole.subarray(0, Math.floor(whole.length / 3)))
  const key = randomKey()
  await store.put(key, data)
  // The record describes the whole file, not the part found: a miss until the copy completes…
  assert.is(recordCodec(dir, key).stored, whole.length)
  assert.is(await store.get(key), undefined)
  assert.ok(existsSync(contentPath(dir, digest)), 'a young file in copy mode is left to its writer')
  // …and a hit once it has.
  writeStoreFile(contentPath(dir, digest), whole)
  assert.ok((await store.get(key))?.data.equals(data))
})

/** A child process that puts `count` keys, all with the same content, with `codec`. */
const WRITER = `
const [storeUrl, dir, codec, prefix, count, seed] = process.argv.slice(1)
const { openStore } = await import(storeUrl)
const store = await openStore(dir, { compression: codec })
const words = ['alpha ', 'beta ', 'gamma ', seed]
for (let i = 0; i < Number(count); i++) {
  // Content i is the same in every writer: one digest per i, written by both at about the same time.
  const data = Buffer.from(Array.from({ length: 4000 }, (_, j) => words[(i * 7 + j * j) % 4]).join(''))
  const key = (prefix + i.toString(16).padStart(8, '0')).padEnd(32, '0')
  await store.put(key, data)
}
console.log(JSON.stringify(store.stats()))
`

function runWriter(dir: string, codec: Codec, prefix: string, count: number, seed: string): Promise<string> {
  const storeUrl = new URL('../index.js', import.meta.url).href
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', WRITER, storeUrl, dir, codec, prefix, String(count), seed],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`writer exited with ${code}`))))
  })
}

twoWriters(
  'two processes with different codecs writing the same contents at once: every entry reads back',
  async () => {
    const dir = tempDir()
    await openStore(dir)
    const count = 150
    const seed = randomBytes(4).toString('hex')
    // Both orders happen: each process races the other on every digest.
    const [statsA, statsB] = await Promise.all([
      runWriter(dir, 'gzip', 'a', count, seed),
      runWriter(dir, 'brotli', 'b', count, seed),
    ])
    assert.is(JSON.parse(statsA).corrupt, 0)
    assert.is(JSON.parse(statsB).corrupt, 0)
    const store = await openStore(dir, { verify: 'hash' })
    const seen = new Set<string>()
    for (let i = 0; i < count; i++) {
      const a = `a${i.toString(16).padStart(8, '0')}`.padEnd(32, '0')
      const b = `b${i.toString(16).padStart(8, '0')}`.padEnd(32, '0')
      const gotA = await store.get(a)
      const gotB = await store.get(b)
      assert.ok(gotA && gotB, `entry ${i} of both writers`)
      assert.ok(gotA.data.equals(gotB.data))
      assert.is(gotA.digest, gotB.digest)
      const onDisk = fileCodec(dir, gotA.digest, gotA.size)
      seen.add(onDisk.codec)
      for (const key of [a, b]) {
        assert.is(recordCodec(dir, key).codec, onDisk.codec, `entry ${i}: the record names the file there`)
        assert.is((await store.info(key))?.storedSize, statSync(contentPath(dir, gotA.digest)).size)
      }
    }
    assert.is(store.stats().corrupt, 0)
    assert.ok(seen.size >= 1)
  },
)

mixed.run()
twoWriters.run()

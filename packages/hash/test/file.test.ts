import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHasher, FILE_CHUNK_SIZE, type Hasher, hashFile } from '@cairn/hash'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const dir = mkdtempSync(join(tmpdir(), 'cairn-hash-'))
let xxh: Hasher
let sha: Hasher

const files = suite('file and stream digests')

files.before(async () => {
  xxh = await createHasher()
  sha = await createHasher({ algorithm: 'sha256' })
})
files.after(() => rmSync(dir, { recursive: true, force: true }))

const sizes = [0, 1, FILE_CHUNK_SIZE - 1, FILE_CHUNK_SIZE, FILE_CHUNK_SIZE + 1, 3 * FILE_CHUNK_SIZE + 7]

files('file() equals bytes() at chunk boundaries, for both algorithms', async () => {
  for (const size of sizes) {
    const data = randomBytes(size)
    const path = join(dir, `f${size}`)
    writeFileSync(path, data)
    for (const hasher of [xxh, sha]) {
      assert.is(await hasher.file(path), hasher.bytes(data), `${hasher.algorithm} at ${size} bytes`)
    }
  }
})

files('file() equals bytes() for a 64 MiB file', async () => {
  const data = randomBytes(64 * 1024 * 1024)
  const path = join(dir, 'big')
  writeFileSync(path, data)
  assert.is(await xxh.file(path), xxh.bytes(data))
  assert.is(await hashFile(path), xxh.bytes(data))
})

files('stream() equals bytes() however the input is split', async () => {
  const data = randomBytes(100_000)
  for (const hasher of [xxh, sha]) {
    for (const step of [1, 7, 4096, 65_536, 100_000]) {
      const stream = hasher.stream()
      for (let at = 0; at < data.length; at += step) stream.update(data.subarray(at, at + step))
      assert.is(stream.digest(), hasher.bytes(data), `${hasher.algorithm}, chunks of ${step}`)
    }
  }
})

files('strings are hashed as their UTF-8 bytes', () => {
  const text = 'héllo 𝄞'
  assert.is(xxh.bytes(text), xxh.bytes(Buffer.from(text, 'utf8')))
  const stream = xxh.stream()
  stream.update('hél')
  stream.update(Buffer.from('lo 𝄞'))
  assert.is(stream.digest(), xxh.bytes(text))
})

files('different content gives different digests; the key of bytes is not their digest', () => {
  assert.is.not(xxh.bytes('a'), xxh.bytes('b'))
  assert.is.not(xxh.key(Buffer.from('a')), xxh.bytes('a'))
  assert.is(sha.bytes('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

files('file() of a missing file rejects with ENOENT and the path', async () => {
  const missing = join(dir, 'no-such-file')
  try {
    await xxh.file(missing)
    assert.unreachable('resolved')
  } catch (error) {
    assert.is((error as NodeJS.ErrnoException).code, 'ENOENT')
    assert.ok((error as Error).message.includes(missing))
  }
})

files.run()

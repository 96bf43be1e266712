// Issue 13, item 11 (remote): a record whose metadata JSON.parse turns into something that is
// not JSON (1e999 is Infinity) or that nests deeply is a miss plus one warning, never a
// rejected get.

import { randomBytes } from 'node:crypto'
import { createHasher } from '@cairn/hash'
import { openRemoteStore } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { key64, type MemoryServer, removeTempDirs, startMemoryServer, tempDir } from './helpers.js'

let server: MemoryServer

/** Serves an entry whose record carries `metadataJson` verbatim, with real content. */
async function serveWithMetadata(key: string, metadataJson: string): Promise<void> {
  const hasher = await createHasher({ algorithm: 'sha256' })
  const data = randomBytes(10_000)
  const digest = hasher.bytes(data)
  server.files.set(`/cas/${digest}`, data)
  server.files.set(
    `/ac/${key}`,
    Buffer.from(
      `{"cairnRemote":1,"key":"${key}","algorithm":"sha256","digest":"${digest}","size":${data.length},"time":1,"metadata":${metadataJson}}`,
    ),
  )
}

async function lookups(key: string): Promise<{ get: unknown; has: boolean; lines: string[] }> {
  const lines: string[] = []
  const store = await openRemoteStore(tempDir(), {
    algorithm: 'sha256',
    remote: { url: server.url, warn: (line) => lines.push(line) },
  })
  const get = await store.get(key)
  const has = await store.has(key)
  return { get, has, lines }
}

const record = suite('remote records with metadata the store cannot keep')
record.before(async () => {
  server = await startMemoryServer()
})
record.after(async () => {
  await server.close()
  removeTempDirs()
})

record('metadata 1e999 (Infinity once parsed): a miss and one warning', async () => {
  const key = key64(1)
  await serveWithMetadata(key, '{"exit":1e999}')
  const { get, has, lines } = await lookups(key)
  assert.is(get, undefined)
  assert.is(has, false)
  assert.is(lines.length, 1)
  assert.match(lines[0] as string, key)
})

record('metadata nested 20,000 deep: a miss and one warning', async () => {
  const key = key64(2)
  await serveWithMetadata(key, `${'['.repeat(20_000)}${']'.repeat(20_000)}`)
  const { get, has, lines } = await lookups(key)
  assert.is(get, undefined)
  assert.is(has, false)
  assert.is(lines.length, 1)
})

record('metadata the store accepts is still a hit', async () => {
  const key = key64(3)
  await serveWithMetadata(key, '{"exit":0,"deep":[[[1]]]}')
  const { get, lines } = await lookups(key)
  assert.equal((get as { metadata: unknown }).metadata, { exit: 0, deep: [[[1]]] })
  assert.equal(lines, [])
})

record.run()

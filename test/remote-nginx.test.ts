// The remote tier against a real nginx with WebDAV PUT: two local stores ("machines") share
// one cache, what one puts the other gets byte for byte, and what nginx holds is what
// docs/FORMAT.md ("Remote cache") says: ac/<key> a JSON record, cas/<digest> the raw bytes.

import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHasher, type Hasher } from '@cairn/hash'
import { openRemoteStore, type RemoteOptions, type RemoteStore } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type Nginx, startNginx } from './helpers/nginx.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

let nginx: Nginx
let hasher: Hasher
const warnings: string[] = []

function machine(remote: Partial<RemoteOptions> = {}): Promise<RemoteStore> {
  return openRemoteStore(tempDir(), {
    algorithm: 'sha256',
    remote: { url: nginx.url, warn: (line) => warnings.push(line), ...remote },
  })
}

const shared = suite('two machines sharing an nginx WebDAV cache')
shared.before(async () => {
  nginx = await startNginx()
  hasher = await createHasher({ algorithm: 'sha256' })
})
shared.after(async () => {
  await nginx?.stop()
  removeTempDirs()
})

shared('a put on one machine is a byte-identical hit on the other, for every size', async () => {
  const a = await machine()
  const b = await machine()
  const sizes = [0, 1, 4096, 4097, 65_536, 1_000_000, 3_000_001]
  const cases = sizes.map((size, i) => ({
    key: hasher.key(['nginx-shared', i]),
    data: randomBytes(size),
    metadata: { size, tool: 'test' },
  }))
  for (const { key, data, metadata } of cases) await a.put(key, data, { metadata })
  await a.flush()
  for (const { key, data, metadata } of cases) {
    const entry = await b.get(key)
    assert.ok(entry, `size ${data.length}`)
    assert.ok(entry.data.equals(data), `size ${data.length}`)
    assert.equal(entry.metadata, metadata)
    assert.ok(b.local.getSync(key)?.data.equals(data), 'published in the local store')
  }
  assert.equal(b.remoteStats().hits, sizes.length)
  assert.equal(a.remoteStats().uploads, sizes.length)
  assert.equal(warnings, [])
})

shared('nginx holds a JSON record under ac/<key> and the raw bytes under cas/<sha256>', async () => {
  const a = await machine()
  const key = hasher.key('layout')
  const data = Buffer.from('hello, remote')
  await a.put(key, data, { metadata: { exit: 0 } })
  await a.flush()
  const content = readFileSync(join(nginx.root, 'cas', createHash('sha256').update(data).digest('hex')))
  assert.ok(content.equals(data), 'cas/ is named by the SHA-256 of its bytes, as bazel-remote checks')
  const record = JSON.parse(readFileSync(join(nginx.root, 'ac', key), 'utf8'))
  assert.equal(Object.keys(record), ['cairnRemote', 'key', 'algorithm', 'digest', 'size', 'time', 'metadata'])
  assert.equal(
    { ...record, time: 0 },
    {
      cairnRemote: 1,
      key,
      algorithm: 'sha256',
      digest: createHash('sha256').update(data).digest('hex'),
      size: data.length,
      time: 0,
      metadata: { exit: 0 },
    },
  )
})

shared('content is uploaded before its record', async () => {
  const a = await machine()
  const key = hasher.key('order')
  await a.put(key, randomBytes(10_000))
  await a.flush()
  await nginx.settle()
  const puts = nginx.requests().filter((line) => line.startsWith('PUT'))
  const recordAt = puts.findIndex((line) => line.includes(`/ac/${key}`))
  const digest = (await a.info(key))?.digest as string
  const contentAt = puts.findIndex((line) => line.includes(`/cas/${digest}`))
  assert.ok(contentAt >= 0 && recordAt > contentAt, puts.join('\n'))
})

shared(
  'files restored by materialize on the other machine match, and equal content is sent once',
  async () => {
    const a = await machine()
    const b = await machine()
    const file = join(tempDir(), 'bundle.js')
    const bytes = randomBytes(200_000)
    writeFileSync(file, bytes)
    const digest = hasher.bytes(bytes)
    await a.putFile(digest, file)
    await a.flush()
    await a.put(hasher.key('same bytes, another key'), bytes)
    await a.flush()
    await nginx.settle()
    const contentPuts = nginx.requests().filter((line) => line === `PUT /cache/cas/${digest} 201`)
    assert.is(
      contentPuts.length,
      1,
      'the later upload found the content there (HEAD) and sent only its record',
    )
    const dest = join(tempDir(), 'restored.js')
    assert.ok(await b.materialize(digest, dest))
    assert.ok(readFileSync(dest).equals(bytes))
  },
)

shared('read-only mode downloads, and never sends a PUT', async () => {
  const writer = await machine()
  const key = hasher.key('for readers')
  await writer.put(key, 'shared bytes')
  await writer.flush()
  const reader = await machine({ mode: 'read-only' })
  await nginx.settle()
  const before = nginx.requests().length
  assert.is((await reader.get(key))?.data.toString(), 'shared bytes')
  await reader.put(hasher.key('reader 1'), randomBytes(100_000))
  reader.putSync(hasher.key('reader 2'), 'small')
  await reader.putFile(hasher.key('reader 3'), join(nginx.root, 'ac', key))
  await reader.flush()
  await nginx.settle()
  const requests = nginx.requests().slice(before)
  assert.equal(
    requests.filter((line) => !line.startsWith('GET')),
    [],
  )
  assert.is(reader.remoteStats().bytesUp, 0)
})

shared('sixty puts at once with concurrency 4: every one uploaded and fetched back', async () => {
  const a = await machine({ concurrency: 4 })
  const b = await machine({ concurrency: 4 })
  const entries = Array.from({ length: 60 }, (_, i) => ({
    key: hasher.key(['many', i]),
    data: randomBytes(i * 300),
  }))
  await Promise.all(entries.map(({ key, data }) => a.put(key, data)))
  await a.flush()
  assert.is(a.remoteStats().uploads, entries.length)
  const got = await Promise.all(entries.map(({ key }) => b.get(key)))
  for (const [i, entry] of got.entries()) {
    assert.ok(entry?.data.equals((entries[i] as { data: Buffer }).data))
  }
})

shared.run()

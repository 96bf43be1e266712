import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type CacheStore, openRemoteStore, type RemoteOptions, type RemoteStore } from '@cairn/remote'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  key64,
  type MemoryServer,
  removeTempDirs,
  startMemoryServer,
  tempDir,
  waitFor,
  withDeadline,
} from './helpers.js'

let server: MemoryServer

/** A fresh local store (a "machine") on the shared memory server. */
function machine(remote: Partial<RemoteOptions> = {}, lines: string[] = []): Promise<RemoteStore> {
  return openRemoteStore(tempDir(), {
    algorithm: 'sha256',
    remote: { url: server.url, warn: (line) => lines.push(line), ...remote },
  })
}

const tier = suite('remote tier against an in-memory server')
tier.before(async () => {
  server = await startMemoryServer()
})
tier.before.each(() => {
  server.files.clear()
  server.log.length = 0
  server.intercept = undefined
  server.delayMs = 0
  server.hold = undefined
  server.maxInFlight = 0
})
tier.after(async () => {
  await server.close()
  removeTempDirs()
})

tier(
  'a put uploads content before its record; another machine gets the same bytes and metadata',
  async () => {
    const a = await machine()
    const b = await machine()
    const key = key64(1)
    const data = randomBytes(100_000)
    await a.put(key, data, { metadata: { tool: 'tsc' } })
    await a.flush()
    const digest = (await a.info(key))?.digest as string
    const recordBytes = (server.files.get(`/ac/${key}`) as Buffer).length
    assert.equal(server.log, [`HEAD /cas/${digest}`, `PUT /cas/${digest}`, `PUT /ac/${key}`])
    const entry = await b.get(key)
    assert.ok(entry)
    assert.ok(entry.data.equals(data))
    assert.equal(entry.metadata, { tool: 'tsc' })
    assert.is(entry.digest, digest)
    // Published locally: the next get does not ask the server.
    const requests = server.log.length
    assert.ok(b.getSync(key)?.data.equals(data))
    assert.ok((await b.get(key))?.data.equals(data))
    assert.is(server.log.length, requests)
    assert.equal(b.remoteStats(), {
      hits: 1,
      misses: 0,
      errors: 0,
      bytesDown: 100_000 + recordBytes,
      bytesUp: 0,
      uploads: 0,
      uploadsFailed: 0,
    })
    assert.is(a.remoteStats().uploads, 1)
    assert.is(a.remoteStats().bytesUp, 100_000 + recordBytes)
  },
)

tier('putSync, putFile and small inline entries upload too; materialize and getStream fetch', async () => {
  const a = await machine()
  const b = await machine()
  const file = join(tempDir(), 'out.bin')
  const big = randomBytes(20_000)
  writeFileSync(file, big)
  a.putSync(key64(2), 'small')
  await a.putFile(key64(3), file)
  await a.flush()
  const dest = join(tempDir(), 'restored')
  assert.ok(await b.materialize(key64(3), dest))
  assert.ok(readFileSync(dest).equals(big))
  const streamed = await b.getStream(key64(2))
  assert.ok(streamed)
  const chunks: Buffer[] = []
  for await (const chunk of streamed.stream) chunks.push(chunk as Buffer)
  assert.is(Buffer.concat(chunks).toString(), 'small')
  assert.ok(await b.has(key64(2)))
})

tier('a Store and a RemoteStore are both CacheStores', async () => {
  const stores: CacheStore[] = [await openStore(tempDir()), await machine()]
  for (const store of stores) {
    store.putSync(key64(80), 'either')
    assert.is((await store.get(key64(80)))?.data.toString(), 'either')
  }
})

tier(
  'uploads run in the background, at most `concurrency` at once, over kept-alive connections',
  async () => {
    const a = await machine({ concurrency: 3 })
    // The server answers nothing until every put has returned: a put that waited for its upload
    // would never return (the 30 s deadline says so), with no tight time limit for a loaded
    // machine to exceed.
    let release = () => {}
    server.hold = new Promise((resolve) => {
      release = resolve
    })
    const connectionsBefore = server.connections
    const keys = Array.from({ length: 12 }, (_, i) => key64(300 + i))
    for (const key of keys) await withDeadline(a.put(key, `entry ${key}`), 'a put while uploads are held')
    assert.is(a.remoteStats().uploads, 0, 'put does not wait for its upload')
    await waitFor(() => server.maxInFlight >= 3, 'three uploads at once')
    release()
    server.hold = undefined
    await a.flush()
    assert.is(a.remoteStats().uploads, 12)
    assert.ok(server.maxInFlight <= 3, `${server.maxInFlight} requests at once`)
    assert.ok(server.maxInFlight >= 2, 'uploads overlap')
    // 24 PUTs; a connection still finishing its answer is not yet back in the pool for the next.
    const opened = server.connections - connectionsBefore
    assert.ok(opened <= 6, `${opened} connections for 24 requests`)
  },
)

tier('the *Sync reads are local only', async () => {
  const a = await machine()
  const b = await machine()
  await a.put(key64(4), 'x')
  await a.flush()
  server.log.length = 0
  assert.is(b.getSync(key64(4)), undefined)
  assert.is(b.infoSync(key64(4)), undefined)
  assert.not.ok(b.hasSync(key64(4)))
  assert.equal(server.log, [])
})

tier('prefetch fetches what is not local, at once, so that the *Sync reads hit', async () => {
  const a = await machine()
  const b = await machine()
  const keys = Array.from({ length: 20 }, (_, i) => key64(100 + i))
  for (const key of keys) a.putSync(key, `entry ${key}`)
  await a.flush()
  b.local.putSync(keys[0] as string, `entry ${keys[0]}`)
  server.log.length = 0
  assert.is(await b.prefetch([...keys, ...keys, key64(199)]), 19)
  assert.is(
    server.log.filter((line) => line.startsWith('GET /ac/')).length,
    20,
    'each missing key asked once',
  )
  for (const key of keys) assert.is(b.getSync(key)?.data.toString(), `entry ${key}`)
})

tier('a prefetch against a dead server gives up after the breaker opens', async () => {
  const lines: string[] = []
  const a = await machine({ failureThreshold: 3, concurrency: 2 }, lines)
  server.intercept = (request) => {
    request.socket.destroy()
    return true
  }
  const keys = Array.from({ length: 50 }, (_, i) => key64(200 + i))
  assert.is(await a.prefetch(keys), 0)
  // Up to `concurrency` requests were in flight when the third failure opened it (each tried twice).
  assert.ok(server.log.length <= 2 * (3 + 2), `${server.log.length} requests`)
  assert.is(a.remoteStats().misses, 50)
})

tier('read-only mode downloads but never sends a PUT', async () => {
  const writer = await machine()
  await writer.put(key64(5), 'shared')
  await writer.flush()
  const reader = await machine({ mode: 'read-only' })
  server.log.length = 0
  await reader.put(key64(6), 'local only')
  reader.putSync(key64(7), 'local only')
  await reader.flush()
  assert.is((await reader.get(key64(5)))?.data.toString(), 'shared')
  assert.equal(
    server.log.filter((line) => !line.startsWith('GET')),
    [],
  )
})

tier('an entry that was already local is uploaded only if the remote lacks its record', async () => {
  const a = await machine()
  await a.local.put(key64(8), 'made before the remote was configured')
  await a.put(key64(8), 'again')
  await a.flush()
  assert.equal(server.log.slice(0, 1), [`HEAD /ac/${key64(8)}`])
  assert.ok(server.files.has(`/ac/${key64(8)}`))
  server.log.length = 0
  await a.put(key64(8), 'again')
  await a.flush()
  assert.equal(server.log, [`HEAD /ac/${key64(8)}`])
})

tier('headers go with every request, and credentials never reach a warning', async () => {
  const lines: string[] = []
  const url = server.url.replace('http://', 'http://ci:pa55word@')
  const a = await openRemoteStore(tempDir(), {
    remote: {
      url,
      headers: { Authorization: 'Bearer t0ken-abc', 'X-Team': 'build' },
      warn: (l) => lines.push(l),
    },
  })
  server.intercept = (_request, response) => {
    response.writeHead(500).end('Bearer t0ken-abc pa55word')
    return true
  }
  assert.is(await a.get(key64(9)), undefined)
  assert.is(
    server.lastHeaders?.authorization,
    'Bearer t0ken-abc',
    'an explicit Authorization wins over the URL',
  )
  assert.is(server.lastHeaders?.['x-team'], 'build')
  assert.is(lines.length, 1)
  assert.match(
    lines[0] as string,
    /^cairn: remote: GET http:\/\/127\.0\.0\.1:\d+\/cache\/ac\/[0-9a-f]+ failed: HTTP 500/,
  )
  assert.not.match(lines.join('\n'), /t0ken|pa55word|ci:/)

  const basic = await openRemoteStore(tempDir(), { remote: { url, warn: () => {} } })
  server.intercept = undefined
  await basic.get(key64(9))
  assert.is(server.lastHeaders?.authorization, `Basic ${Buffer.from('ci:pa55word').toString('base64')}`)
})

tier(
  'repeated failures open the breaker: it says so once and stops asking until the cooldown ends',
  async () => {
    // The breaker opens at the second failure, for cooldownMs by the clock. The checks made while
    // it is open mean something only if they ended before the cooldown did; on a loaded machine
    // they may not, and then the round is repeated with a 4× longer cooldown.
    for (let cooldownMs = 300; ; cooldownMs *= 4) {
      server.log.length = 0
      const lines: string[] = []
      const a = await machine({ failureThreshold: 2, cooldownMs }, lines)
      server.intercept = (_request, response) => {
        response.writeHead(503).end()
        return true
      }
      const started = Date.now()
      const got: unknown[] = []
      for (let i = 0; i < 6; i++) got.push(await a.get(key64(20 + i)))
      const openedBy = Date.now()
      const asked = server.log.length
      await a.put(key64(30), 'not sent while open')
      await a.flush()
      const askedAfterPut = server.log.length
      if (Date.now() - started >= cooldownMs) continue
      assert.equal(got, [undefined, undefined, undefined, undefined, undefined, undefined])
      assert.is(asked, 2)
      assert.is(lines.length, 2)
      assert.match(lines[0] as string, 'HTTP 503')
      assert.match(lines[1] as string, '2 requests in a row failed')
      assert.is(askedAfterPut, 2)
      assert.equal(a.remoteStats(), {
        hits: 0,
        misses: 6,
        errors: 2,
        bytesDown: 0,
        bytesUp: 0,
        uploads: 0,
        uploadsFailed: 1,
      })
      // The breaker opened before `openedBy`, so it is closed once the clock is a cooldown past it.
      await waitFor(() => Date.now() > openedBy + cooldownMs, 'the cooldown to end')
      server.intercept = undefined
      assert.is(await a.get(key64(20)), undefined)
      assert.is(server.log.length, 3, 'after the cooldown the remote is asked again')
      assert.is(lines.length, 2)
      return
    }
  },
)

tier('a 404 is a quiet miss; a record whose content is gone is a miss', async () => {
  const lines: string[] = []
  const a = await machine({}, lines)
  const b = await machine({}, lines)
  assert.is(await a.get(key64(40)), undefined)
  await a.put(key64(41), 'evicted soon')
  await a.flush()
  for (const path of server.files.keys()) if (path.startsWith('/cas/')) server.files.delete(path)
  assert.is(await b.get(key64(41)), undefined)
  assert.equal(lines, [])
  assert.equal(b.remoteStats().misses, 1)
})

tier('a record from a store with another algorithm is a miss, said once', async () => {
  const lines: string[] = []
  const xxh = await openRemoteStore(tempDir(), { remote: { url: server.url, warn: () => {} } })
  const sha = await machine({}, lines)
  await xxh.put(key64(50), 'a')
  await xxh.put(key64(51), 'b')
  await xxh.flush()
  assert.is(await sha.get(key64(50)), undefined)
  assert.is(await sha.get(key64(51)), undefined)
  assert.is(lines.length, 1)
  assert.match(lines[0] as string, 'another digest algorithm')
})

tier('damaged downloads are misses and publish nothing', async () => {
  const lines: string[] = []
  const a = await machine()
  const b = await machine({}, lines)
  await a.put(key64(60), randomBytes(10_000))
  await a.flush()
  const cas = [...server.files.keys()].find((path) => path.startsWith('/cas/')) as string
  const good = server.files.get(cas) as Buffer
  const flipped = Buffer.from(good)
  flipped[5000] = (flipped[5000] as number) ^ 1
  server.files.set(cas, flipped)
  assert.is(await b.get(key64(60)), undefined)
  assert.not.ok(await b.materialize(key64(60), join(tempDir(), 'x')))
  assert.is(b.local.infoSync(key64(60)), undefined)
  server.files.set(`/ac/${key64(60)}`, Buffer.from('{"cairnRemote":1,"key":"nope"}'))
  assert.is(await b.get(key64(60)), undefined)
  assert.is(b.remoteStats().errors, 3)
  assert.match(lines.join('\n'), "the body's digest is")
})

tier('with bazel-remote, keys that are not 64 characters stay local, said once', async () => {
  const lines: string[] = []
  const a = await machine({ server: 'bazel-remote' }, lines)
  await a.put('0123456789abcdef', 'short key')
  assert.is(await a.get('fedcba9876543210'), undefined)
  await a.put(key64(70), 'long key')
  await a.flush()
  assert.equal(
    server.log.filter((line) => !line.endsWith(key64(70)) && !line.startsWith('PUT /cas/')),
    [],
  )
  assert.is(lines.length, 1)
  assert.match(lines[0] as string, 'only 64-character keys')
})

tier.run()

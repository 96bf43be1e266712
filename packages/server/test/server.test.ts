import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHasher } from '@cairn/hash'
import {
  createCacheServer,
  credentialOf,
  parseTokenFile,
  renderMetrics,
  storeKey,
  sumSnapshots,
  TokenSet,
} from '@cairn/server'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const dirs: string[] = []
const tempStore = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-server-unit-'))
  dirs.push(dir)
  return join(dir, 'store')
}

// ---

const keys = suite('storeKey')

keys('protocols and namespaces never share a key', async () => {
  const hasher = await createHasher({ algorithm: 'sha256' })
  const names = [
    { protocol: 'bazel' as const, namespace: '\0ac', name: 'ab'.repeat(32) },
    { protocol: 'bazel' as const, namespace: '\0cas', name: 'ab'.repeat(32) },
    { protocol: 'bazel' as const, namespace: 'team\0ac', name: 'ab'.repeat(32) },
    { protocol: 'turbo' as const, namespace: '', name: 'ab'.repeat(32) },
    { protocol: 'nx' as const, namespace: '', name: 'ab'.repeat(32) },
  ]
  const stored = names.map((name) => storeKey(hasher, name))
  assert.is(new Set(stored).size, names.length)
  assert.ok(stored.every((key) => /^[0-9a-f]{64}$/.test(key)))
})

keys.run()

// ---

const auth = suite('tokens')

auth('Bearer and Basic (token as password) are read; other schemes are not', () => {
  assert.is(credentialOf('Bearer abc'), 'abc')
  assert.is(credentialOf(`Basic ${Buffer.from('user:abc').toString('base64')}`), 'abc')
  assert.is(credentialOf(`Basic ${Buffer.from('abc').toString('base64')}`), 'abc')
  assert.is(credentialOf('Digest abc'), undefined)
  assert.is(credentialOf(undefined), undefined)
})

auth('a token file has rw/ro lines and comments; a bad line is named', () => {
  const grants = parseTokenFile('# team\nrw one\n\n  ro two  \n', 'tokens')
  assert.equal(grants, [
    { access: 'rw', token: 'one' },
    { access: 'ro', token: 'two' },
  ])
  const set = new TokenSet(grants)
  assert.is(set.standing('Bearer one'), 'rw')
  assert.is(set.standing('Bearer two'), 'ro')
  assert.is(set.standing('Bearer three'), 'invalid')
  assert.is(set.standing(undefined), 'missing')
  assert.is(new TokenSet().standing(undefined), 'rw', 'no tokens: open')
  assert.throws(() => parseTokenFile('rw one\nadmin two\n', 'tokens'), /tokens line 2/)
})

auth.run()

// ---

const metrics = suite('metrics')

metrics('snapshots add up by series and render as Prometheus text', () => {
  const total = sumSnapshots([
    { 'cairn_serve_hits_total{protocol="nx"}': 2 },
    { 'cairn_serve_hits_total{protocol="nx"}': 3 },
  ])
  const text = renderMetrics(total)
  assert.match(text, /^# TYPE cairn_serve_hits_total counter$/m)
  assert.match(text, /^cairn_serve_hits_total\{protocol="nx"\} 5$/m)
  assert.match(text, /^cairn_serve_gc_runs_total 0$/m)
})

metrics.run()

// ---

const server = suite('createCacheServer')
server.after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

server('refuses a non-loopback address with no token, unless allowAnonymous', async () => {
  const open = createCacheServer({ store: tempStore() })
  try {
    await open.listen(0, '0.0.0.0')
    assert.unreachable('listened')
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_CAIRN_INVALID_OPTION')
  }
  await open.close()
  const anonymous = createCacheServer({ store: tempStore(), allowAnonymous: true })
  const address = await anonymous.listen(0, '0.0.0.0')
  assert.match(address.url, /^http:\/\/0\.0\.0\.0:\d+$/)
  await anonymous.close()
})

server('its handler mounts in another server; past 10 % of --max-size written, a prune runs', async () => {
  // The server is itself a handler; sizes may be given as text.
  const cache = createCacheServer({ store: tempStore(), maxSize: '100kB' })
  const host = createServer(cache)
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`
  try {
    await cache.pruneNow()
    const before = cache.metrics().cairn_serve_gc_runs_total ?? 0
    for (let i = 0; i < 3; i++) {
      const put = await fetch(`${base}/v1/cache/${i}`, { method: 'PUT', body: Buffer.alloc(20_000, i) })
      assert.is(put.status, 202)
    }
    const deadline = Date.now() + 20_000
    while ((cache.metrics().cairn_serve_gc_runs_total ?? 0) <= before) {
      assert.ok(Date.now() < deadline, 'no prune after 60 KB written against a 100 KB budget')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const got = await fetch(`${base}/v1/cache/2`)
    assert.is(got.status, 200)
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(Buffer.alloc(20_000, 2)))
  } finally {
    await new Promise((resolve) => host.close(resolve))
    await cache.close()
  }
})

server('listen takes { port, host } or the options; url says where it listens', async () => {
  const cache = createCacheServer({ dir: tempStore(), host: '127.0.0.1', port: 0 })
  const address = await cache.listen()
  assert.is(cache.url, address.url)
  assert.match(address.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  assert.is((await fetch(`${cache.url}/healthz`)).status, 200)
  await cache.close()
  const other = createCacheServer({ store: tempStore() })
  assert.match((await other.listen({ port: 0 })).url, /^http:\/\/127\.0\.0\.1:\d+$/)
  await other.close()
})

server('a client that never finishes its headers is cut off after headersTimeout', async () => {
  const cache = createCacheServer({ store: tempStore(), headersTimeout: 300 })
  const { port } = await cache.listen(0)
  try {
    const socket = connect(port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
    let answer = ''
    socket.on('data', (chunk) => {
      answer += chunk
    })
    await new Promise((resolve) => socket.once('close', resolve))
    assert.match(answer, /^HTTP\/1\.1 408/, 'answered 408, then closed')
  } finally {
    await cache.close()
  }
})

server.run()

// Regressions from the adversarial review of `@cairn/server` (issue #15), in process: a server on
// loopback (or configured for another host without listening there), real sockets against it.

import { createHash } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHasher } from '@cairn/hash'
import { type CacheServer, createCacheServer, QUERY_MAX_HASHES, storeKey } from '@cairn/server'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const dirs: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-server-review-'))
  dirs.push(dir)
  return dir
}
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const hex = (n: number) => n.toString(16).padStart(64, '0')

/** One request; the body read whole; a connection error resolves as status 0 with its code. */
function call(
  base: string,
  method: string,
  path: string,
  options: { body?: Buffer; token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(`${base}${path}`, {
      method,
      agent: false,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body ? { 'content-length': String(options.body.length) } : {}),
        ...options.headers,
      },
    })
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ status: 0, body: '', error: error.code ?? 'error' }),
    )
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      res.on('error', () => resolve({ status: 0, body: '', error: 'response' }))
    })
    req.end(options.body)
  })
}

async function listening(cache: CacheServer): Promise<string> {
  return (await cache.listen(0, '127.0.0.1')).url
}

/** Opens a raw connection and writes `head`; resolves with the socket and what it receives. */
async function raw(base: string, head: string): Promise<{ socket: Socket; received: () => string }> {
  const { port } = new URL(base)
  const socket = connect(Number(port), '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  let text = ''
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1')
  })
  socket.on('error', () => {})
  socket.write(head)
  return { socket, received: () => text }
}

/** Resolves once `check` is true, polling; fails after 30 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const review = suite('@cairn/server: review findings')

review.after(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

review('an emptied token file reloaded on a non-loopback host keeps the old tokens (finding 1)', async () => {
  const dir = tempDir()
  const file = join(dir, 'tokens')
  writeFileSync(file, 'rw secret\n')
  const lines: string[] = []
  // Configured for a non-loopback host, never listening there: its handler is mounted on loopback.
  const cache = createCacheServer({
    store: join(dir, 'store'),
    host: '10.9.8.7',
    tokenFile: file,
    log: (line) => lines.push(line),
  })
  await cache.ready
  const mount = createServer(cache.handler)
  await new Promise<void>((resolve) => mount.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(mount.address() as AddressInfo).port}`
  try {
    for (const text of ['', '# all tokens revoked\n\n']) {
      writeFileSync(file, text)
      cache.reloadTokens()
      assert.is(
        (await call(base, 'GET', `/ac/${hex(1)}`)).status,
        401,
        `after reloading ${JSON.stringify(text)}`,
      )
      assert.is((await call(base, 'PUT', `/ac/${hex(1)}`, { body: Buffer.from('x') })).status, 401)
      assert.is((await call(base, 'GET', `/ac/${hex(1)}`, { token: 'secret' })).status, 404)
    }
    assert.is(lines.filter((line) => line.includes('old tokens stay')).length, 2)
    // A real new token still replaces the old ones.
    writeFileSync(file, 'rw other\n')
    cache.reloadTokens()
    assert.is((await call(base, 'GET', `/ac/${hex(1)}`, { token: 'secret' })).status, 401)
    assert.is((await call(base, 'GET', `/ac/${hex(1)}`, { token: 'other' })).status, 404)
  } finally {
    mount.close()
    mount.closeAllConnections()
    await cache.close()
  }
  // On loopback, emptying the file is how one turns tokens off: allowed.
  writeFileSync(file, 'rw secret\n')
  const local = createCacheServer({ store: join(dir, 'store'), tokenFile: file })
  const url = await listening(local)
  try {
    writeFileSync(file, '')
    local.reloadTokens()
    assert.is((await call(url, 'GET', `/ac/${hex(1)}`)).status, 404)
  } finally {
    await local.close()
  }
})

review('a GET refreshes last use, so the budget evicts the least recently used (finding 3)', async () => {
  const dir = tempDir()
  const storeDir = join(dir, 'store')
  const cache = createCacheServer({ store: storeDir, maxSize: 35 * 1024 })
  const url = await listening(cache)
  const hasher = await createHasher({ algorithm: 'sha256' })
  const entryFile = (name: string) => {
    const key = storeKey(hasher, { protocol: 'bazel', namespace: '\0ac', name })
    return join(storeDir, 'entries', key.slice(0, 2), key)
  }
  try {
    const [a, b, c, d] = [hex(0xa), hex(0xb), hex(0xc), hex(0xd)]
    for (const name of [a, b, c]) {
      assert.is((await call(url, 'PUT', `/ac/${name}`, { body: Buffer.alloc(10 * 1024, name) })).status, 200)
    }
    // Written 50, 40 and 30 minutes ago: all within the store's default touch interval (1 h).
    // Both the mtime (last use) and the record's creation time move back: a hit skips the
    // last-use check on an entry younger than the touch interval by its creation time.
    for (const [name, minutes] of [
      [a, 50],
      [b, 40],
      [c, 30],
    ] as const) {
      const path = entryFile(name)
      const time = Date.now() - minutes * 60_000
      const record = readFileSync(path, 'latin1')
      const aged = record.replace(/"time":\d{13}/, `"time":${time}`)
      assert.is.not(aged, record, 'the record holds its creation time')
      chmodSync(path, 0o644)
      writeFileSync(path, aged, 'latin1')
      chmodSync(path, 0o444)
      utimesSync(path, time / 1000, time / 1000)
    }
    assert.is((await call(url, 'GET', `/ac/${a}`)).status, 200)
    assert.is((await call(url, 'PUT', `/ac/${d}`, { body: Buffer.alloc(10 * 1024, d) })).status, 200)
    await cache.pruneNow()
    assert.is((await call(url, 'GET', `/ac/${b}`)).status, 404, 'B, least recently used, is evicted')
    assert.is((await call(url, 'GET', `/ac/${a}`)).status, 200, 'A, read last, stays')
    assert.is((await call(url, 'GET', `/ac/${c}`)).status, 200)
    assert.is((await call(url, 'GET', `/ac/${d}`)).status, 200)
  } finally {
    await cache.close()
  }
})

review(
  'the batch query is capped, de-duplicated, and "__proto__" is a hash like another (findings 4, 8)',
  async () => {
    const cache = createCacheServer({ store: join(tempDir(), 'store') })
    const url = await listening(cache)
    try {
      const many = Array.from({ length: QUERY_MAX_HASHES + 1 }, (_, i) => `h${i}`)
      const refused = await call(url, 'POST', '/v8/artifacts', {
        body: Buffer.from(JSON.stringify({ hashes: many })),
      })
      assert.is(refused.status, 400)
      assert.match(refused.body, String(QUERY_MAX_HASHES))
      // The same hash many times is one lookup, and passes the cap.
      const repeated = Array.from({ length: QUERY_MAX_HASHES + 1 }, () => 'same')
      const one = await call(url, 'POST', '/v8/artifacts', {
        body: Buffer.from(JSON.stringify({ hashes: repeated })),
      })
      assert.is(one.status, 200)
      assert.equal(JSON.parse(one.body), { same: null })
      assert.is((await call(url, 'PUT', '/v8/artifacts/stored', { body: Buffer.from('x') })).status, 200)
      const answer = await call(url, 'POST', '/v8/artifacts', {
        body: Buffer.from(JSON.stringify({ hashes: ['__proto__', 'stored', 'constructor'] })),
      })
      assert.is(answer.status, 200)
      const parsed = JSON.parse(answer.body)
      assert.equal(Object.keys(parsed).sort(), ['__proto__', 'constructor', 'stored'])
      assert.is(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value, null)
      assert.is(parsed.constructor, null)
      assert.is(parsed.stored.size, 1)
    } finally {
      await cache.close()
    }
  },
)

review('slow uploads cannot hold every slot; small and queued uploads go through (finding 5)', async () => {
  const dir = tempDir()
  const cache = createCacheServer({
    store: join(dir, 'store'),
    maxUploads: 1,
    idleTimeout: 1000,
    minUploadRate: 1024,
    uploadRateWindow: 500,
  })
  const url = await listening(cache)
  try {
    // 1 byte every 200 ms: never idle for a second, far below 1 KiB/s.
    const loris = await raw(url, `PUT /ac/${hex(1)} HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n`)
    let closed = false
    loris.socket.on('close', () => {
      closed = true
    })
    const drip = setInterval(() => {
      if (!closed) loris.socket.write('x')
    }, 200)
    try {
      await new Promise((resolve) => setTimeout(resolve, 100))
      // A small body is stored synchronously and needs no slot.
      assert.is((await call(url, 'PUT', `/ac/${hex(2)}`, { body: Buffer.alloc(1024, 2) })).status, 200)
      // A large one queues behind the slow one, and is not cut as idle while it waits.
      const big = Buffer.alloc(1024 * 1024, 3)
      const queued = await call(url, 'PUT', `/cas/${sha256(big)}`, { body: big })
      assert.equal(queued, { status: 200, body: '' })
      await until(() => closed, 'the slow upload is cut')
    } finally {
      clearInterval(drip)
      loris.socket.destroy()
    }
    assert.is((await call(url, 'GET', `/ac/${hex(1)}`)).status, 404, 'the cut upload stored nothing')
  } finally {
    await cache.close()
  }
})

review('a cas/ upload under an existing name is still checked against it (finding 6)', async () => {
  const cache = createCacheServer({ store: join(tempDir(), 'store') })
  const url = await listening(cache)
  try {
    const good = Buffer.from('the content')
    const name = sha256(good)
    assert.is((await call(url, 'PUT', `/cas/${name}`, { body: good })).status, 200)
    const wrong = await call(url, 'PUT', `/cas/${name}`, { body: Buffer.from('other content') })
    assert.is(wrong.status, 400)
    assert.is((await call(url, 'PUT', `/cas/${name}`, { body: good })).status, 200)
    assert.is((await call(url, 'GET', `/cas/${name}`)).body, 'the content')
  } finally {
    await cache.close()
  }
})

review('after an early 413 the server drains at most about 64 MiB, then closes (finding 7)', async () => {
  const cache = createCacheServer({ store: join(tempDir(), 'store'), maxEntrySize: 1024 * 1024 })
  const url = await listening(cache)
  try {
    const client = await raw(
      url,
      `PUT /ac/${hex(1)} HTTP/1.1\r\nHost: x\r\nContent-Length: ${8 * 1024 ** 3}\r\n\r\n`,
    )
    let closed = false
    client.socket.on('close', () => {
      closed = true
    })
    const chunk = Buffer.alloc(1024 * 1024)
    let sent = 0
    const limit = 1024 ** 3
    while (!closed && !client.socket.destroyed && sent < limit) {
      if (!client.socket.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            client.socket.off('drain', done)
            client.socket.off('close', done)
            resolve()
          }
          client.socket.on('drain', done)
          client.socket.on('close', done)
        })
      }
      sent += chunk.length
    }
    client.socket.destroy()
    assert.match(client.received(), /^HTTP\/1\.1 413 /)
    assert.ok(sent < limit, `the server read ${sent} bytes of a body it had refused`)
  } finally {
    await cache.close()
  }
})

review(
  'with tokens, a request without one is a 401 before any other check or 100 Continue (finding 8)',
  async () => {
    const cache = createCacheServer({
      store: join(tempDir(), 'store'),
      tokens: ['secret'],
      maxEntrySize: 1024,
    })
    const url = await listening(cache)
    try {
      assert.is((await call(url, 'POST', '/v8/artifacts/status')).status, 401)
      assert.is((await call(url, 'GET', '/v8/artifacts/not!a!hash')).status, 401)
      assert.is((await call(url, 'DELETE', '/v1/cache/abc')).status, 401)
      const answerTo = async (head: string) => {
        const client = await raw(url, head)
        await until(() => /\r\n\r\n/.test(client.received()), 'an answer')
        client.socket.destroy()
        return client.received().split('\r\n')[0]
      }
      const put = (path: string, extra: string) =>
        `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n${extra}\r\n`
      assert.is(await answerTo(put('/v1/cache/abc', '')), 'HTTP/1.1 401 Unauthorized')
      assert.is(
        await answerTo(put('/v1/cache/abc', 'Authorization: Bearer wrong\r\n')),
        'HTTP/1.1 401 Unauthorized',
      )
      // Nx's 409 for an existing entry comes before the body too.
      assert.is(
        (await call(url, 'PUT', '/v1/cache/abc', { token: 'secret', body: Buffer.from('x') })).status,
        202,
      )
      assert.is(
        await answerTo(put('/v1/cache/abc', 'Authorization: Bearer secret\r\n')),
        'HTTP/1.1 409 Conflict',
      )
      const large = `PUT /v1/cache/big HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\nExpect: 100-continue\r\nAuthorization: Bearer secret\r\n\r\n`
      assert.is(await answerTo(large), 'HTTP/1.1 413 Payload Too Large')
      assert.is(
        await answerTo(put('/v1/cache/new', 'Authorization: Bearer secret\r\n')),
        'HTTP/1.1 100 Continue',
      )
    } finally {
      await cache.close()
    }
  },
)

review.run()

// `cairn serve`'s HTTP rules, with real requests against a real server process: who may read and
// write, content checked against its name, bounded bodies answered so the client can read the
// answer, first writer wins under a race, abandoned uploads leave nothing, and the signals.

import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import { get as httpsGet } from 'node:https'
import { connect } from 'node:net'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, runNode, tempDir } from './helpers/processes.js'
import { CAIRN_BIN, request, type Served, startServe } from './helpers/serve.js'

const RW = 'read-write-token'
const RO = 'read-only-token'
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** Files left in the store's tmp/ directory (an abandoned upload must leave none). */
function tempFiles(store: string): string[] {
  try {
    return readdirSync(join(store, 'tmp'))
  } catch {
    return []
  }
}

/** Resolves once `check` is true, polling; fails after 20 s. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A PUT whose body is sent in `parts`, with `between` awaited after the first part. */
function slowPut(
  url: string,
  parts: Buffer[],
  options: { token?: string; agent?: Agent; between?: () => Promise<void> } = {},
): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const total = parts.reduce((sum, part) => sum + part.length, 0)
    const req = httpRequest(url, {
      method: 'PUT',
      agent: options.agent ?? false,
      headers: {
        'content-length': String(total),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
    })
    req.on('error', reject)
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          reused: req.reusedSocket,
        }),
      )
    })
    void (async () => {
      for (const [index, part] of parts.entries()) {
        if (!req.write(part)) await new Promise((resolve) => req.once('drain', resolve))
        if (index === 0) await options.between?.()
      }
      req.end()
    })().catch(reject)
  })
}

let served: Served
let store: string

const http = suite('cairn serve: HTTP rules')
http.before(async () => {
  store = join(tempDir('cairn-serve-http-'), 'store')
  served = await startServe(['--store', store, '--token', RW, '--read-token', RO, '--max-entry-size', '1MiB'])
})
http.after(async () => {
  const { code } = await served.stop()
  removeTempDirs()
  assert.is(code, 0)
})

http('/healthz needs no token; /metrics needs one (a read-only token will do)', async () => {
  assert.is((await request(`${served.url}/healthz`)).status, 200)
  assert.is((await request(`${served.url}/metrics`)).status, 401)
  const metrics = await request(`${served.url}/metrics`, { token: RO })
  assert.is(metrics.status, 200)
  assert.match(metrics.body.toString(), /^# TYPE cairn_serve_hits_total counter$/m)
})

http('no token is a 401, an unknown one too; a read-only token reads but cannot write (403)', async () => {
  const url = `${served.url}/ns/ac/${'ab'.repeat(32)}`
  assert.is((await request(url)).status, 401)
  assert.is((await request(url, { token: 'nope' })).status, 401)
  assert.is((await request(url, { token: RO })).status, 404)
  assert.is((await request(url, { method: 'PUT', body: 'x', token: RO })).status, 403)
  assert.is((await request(url, { token: RW })).status, 404, 'nothing was stored')
  // HTTP Basic with the token as password, for clients that only do Basic.
  const basic = `Basic ${Buffer.from(`anyone:${RW}`).toString('base64')}`
  assert.is((await request(url, { method: 'PUT', body: 'x', headers: { authorization: basic } })).status, 200)
  assert.is((await request(url, { token: RO })).body.toString(), 'x')
})

http('a cas/ upload whose SHA-256 is not its name is refused (400) and nothing is stored', async () => {
  const data = randomBytes(200_000)
  const wrong = sha256(Buffer.from('something else'))
  const refused = await request(`${served.url}/cas/${wrong}`, { method: 'PUT', body: data, token: RW })
  assert.is(refused.status, 400)
  assert.is((await request(`${served.url}/cas/${wrong}`, { token: RW })).status, 404)
  assert.equal(tempFiles(store), [], 'no temp file left')
  const right = sha256(data)
  assert.is(
    (await request(`${served.url}/cas/${right}`, { method: 'PUT', body: data, token: RW })).status,
    200,
  )
  assert.ok((await request(`${served.url}/cas/${right}`, { token: RW })).body.equals(data))
})

http(
  'past --max-entry-size a client still sending reads the 413, and its connection stays usable',
  async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const big = [randomBytes(512 * 1024), randomBytes(3 * 1024 * 1024)]
      const refused = await slowPut(`${served.url}/v1/cache/too-big`, big, { token: RW, agent })
      assert.is(refused.status, 413)
      assert.match(refused.body, /--max-entry-size/)
      const next = await slowPut(`${served.url}/v1/cache/small`, [Buffer.from('fits')], { token: RW, agent })
      assert.is(next.status, 202)
      assert.ok(next.reused, 'the same keep-alive connection')
      assert.is((await request(`${served.url}/v1/cache/too-big`, { token: RW })).status, 404)
    } finally {
      agent.destroy()
    }
  },
)

http('Nx: the second PUT of a hash is a 409 and the connection carries on (as nx 24 needs)', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  try {
    const body = [randomBytes(300_000), randomBytes(300_000)]
    assert.is((await slowPut(`${served.url}/v1/cache/12345`, body, { token: RW, agent })).status, 202)
    const again = await slowPut(`${served.url}/v1/cache/12345`, [randomBytes(600_000)], { token: RW, agent })
    assert.is(again.status, 409)
    const after = await slowPut(`${served.url}/v1/cache/67890`, [Buffer.from('next')], { token: RW, agent })
    assert.is(after.status, 202)
    assert.ok(after.reused, 'the same keep-alive connection')
    const got = await request(`${served.url}/v1/cache/12345`, { token: RW })
    assert.ok(got.body.equals(Buffer.concat(body)), 'the first upload won')
  } finally {
    agent.destroy()
  }
})

http('two clients putting the same key at once leave one whole entry', async () => {
  const a = [randomBytes(400_000), randomBytes(400_000)]
  const b = [randomBytes(400_000), randomBytes(400_000)]
  // Both send their first half before either sends the rest.
  let release: () => void = () => {}
  const bothStarted = new Promise<void>((resolve) => {
    release = resolve
  })
  let started = 0
  const between = async () => {
    if (++started === 2) release()
    await bothStarted
  }
  const url = `${served.url}/v1/cache/raced`
  const results = await Promise.all([
    slowPut(url, a, { token: RW, between }),
    slowPut(url, b, { token: RW, between }),
  ])
  assert.equal(results.map((r) => r.status).sort(), [202, 409])
  const got = (await request(url, { token: RW })).body
  const winner = results[0]?.status === 202 ? a : b
  assert.ok(got.equals(Buffer.concat(winner)), 'the entry is the whole body of the 202')
})

http('a client that disconnects mid-upload leaves nothing behind', async () => {
  const socket = connect(served.port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(
    `PUT /v1/cache/abandoned HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${RW}\r\nContent-Length: 900000\r\n\r\n`,
  )
  socket.write(randomBytes(300_000))
  await until(() => tempFiles(store).length > 0, 'the upload started')
  socket.destroy()
  await until(() => tempFiles(store).length === 0, 'the temp file went')
  assert.is((await request(`${served.url}/v1/cache/abandoned`, { token: RW })).status, 404)
})

http('Turborepo: duration and tag come back on GET and in the batch query', async () => {
  const url = `${served.url}/v8/artifacts/00ff00ff00ff00ff?slug=team`
  const put = await request(url, {
    method: 'PUT',
    body: 'artifact',
    token: RW,
    headers: { 'x-artifact-duration': '4321', 'x-artifact-tag': 'c2lnbmF0dXJl' },
  })
  assert.is(put.status, 200)
  const got = await request(url, { token: RO })
  assert.is(got.headers.get('x-artifact-duration'), '4321')
  assert.is(got.headers.get('x-artifact-tag'), 'c2lnbmF0dXJl')
  assert.is(
    (await request(`${served.url}/v8/artifacts/00ff00ff00ff00ff?slug=other`, { token: RO })).status,
    404,
  )
  const query = await request(`${served.url}/v8/artifacts?slug=team`, {
    method: 'POST',
    body: JSON.stringify({ hashes: ['00ff00ff00ff00ff', '1111'] }),
    token: RO,
  })
  assert.equal(JSON.parse(query.body.toString()), {
    '00ff00ff00ff00ff': { size: 8, taskDurationMs: 4321, tag: 'c2lnbmF0dXJl' },
    '1111': null,
  })
  const status = await request(`${served.url}/v8/artifacts/status`, { token: RO })
  assert.equal(JSON.parse(status.body.toString()), { status: 'enabled' })
})

http.run()

// ---

const lifecycle = suite('cairn serve: signals and start-up checks')
lifecycle.after(() => removeTempDirs())

lifecycle('SIGTERM lets an upload in flight finish, then exits 0', async () => {
  const dir = join(tempDir('cairn-serve-term-'), 'store')
  const server = await startServe(['--store', dir])
  const parts = [randomBytes(200_000), randomBytes(200_000)]
  const put = slowPut(`${server.url}/v1/cache/inflight`, parts, {
    between: async () => {
      // Once the server is streaming the body into the store, the request is in flight.
      await until(() => tempFiles(dir).length > 0, 'the upload started')
      server.child.kill('SIGTERM')
      await new Promise((resolve) => setTimeout(resolve, 100))
    },
  })
  assert.is((await put).status, 202)
  const { code, signal } = await server.exited()
  assert.is(code, 0, `${signal} ${server.stderr()}`)
  assert.is(tempFiles(dir).length, 0)
})

lifecycle('with no token, a non-loopback --host is refused unless --allow-anonymous', async () => {
  const refused = await runNode(CAIRN_BIN, ['serve', '--host', '0.0.0.0', '--port', '0'])
  assert.is(refused.code, 2, refused.stderr)
  assert.match(refused.stderr, /--allow-anonymous/)
  assert.is(refused.stdout, '')
  const workers = await runNode(CAIRN_BIN, ['serve', '--host', '0.0.0.0', '--port', '0', '--workers', '2'])
  assert.is(workers.code, 2, workers.stderr)
  assert.match(workers.stderr, /--allow-anonymous/)
  const allowed = await startServe([
    '--store',
    join(tempDir('cairn-serve-anon-'), 'store'),
    '--host',
    '0.0.0.0',
    '--allow-anonymous',
  ])
  const ended = await allowed.stop()
  assert.is(ended.code, 0, `${ended.signal} ${allowed.stderr()}`)
})

lifecycle('--tls-cert and --tls-key serve HTTPS, and the ready line says https://', async () => {
  const dir = tempDir('cairn-serve-tls-')
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
      .concat(['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'])
      .concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]),
    { stdio: 'ignore' },
  )
  const server = await startServe([
    '--store',
    join(dir, 'store'),
    '--tls-cert',
    join(dir, 'cert.pem'),
    '--tls-key',
    join(dir, 'key.pem'),
  ])
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/)
    const status = await new Promise<number>((resolve, reject) => {
      httpsGet(`${server.url}/healthz`, { ca: readFileSync(join(dir, 'cert.pem')) }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      }).on('error', reject)
    })
    assert.is(status, 200)
  } finally {
    assert.is((await server.stop()).code, 0)
  }
})

lifecycle('SIGHUP rereads --token-file', async () => {
  const dir = tempDir('cairn-serve-hup-')
  const file = join(dir, 'tokens')
  writeFileSync(file, '# team tokens\nrw first-token\nro reader\n')
  const server = await startServe(['--store', join(dir, 'store'), '--token-file', file])
  try {
    const url = `${server.url}/v1/cache/hup`
    assert.is((await request(url, { method: 'PUT', body: 'a', token: 'first-token' })).status, 202)
    assert.is((await request(url, { token: 'reader' })).status, 200)
    writeFileSync(file, 'rw second-token\n')
    server.child.kill('SIGHUP')
    await until(
      async () => (await request(url, { token: 'second-token' })).status === 200,
      'the new token works',
    )
    assert.is((await request(url, { token: 'first-token' })).status, 401)
  } finally {
    assert.is((await server.stop()).code, 0)
  }
})

lifecycle.run()

// `cairn serve --workers 4` under 16 concurrent clients for 8 s (CAIRN_STRESS_MS to change it;
// `pnpm stress` style runs use 30 s): uploads of content named by its SHA-256, racing uploads of
// shared names, and reads of all of them. Nothing acknowledged may be lost or read back
// different, and the counters /metrics sums over the four processes must match what the clients
// saw.

import { createHash, randomBytes } from 'node:crypto'
import { Agent, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, tempDir } from './helpers/processes.js'
import { request, startServe } from './helpers/serve.js'

const DURATION_MS = Number(process.env.CAIRN_STRESS_MS ?? 8000)
const CLIENTS = 16
const TOKEN = 'stress-token'
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** One request on the shared keep-alive agent; the body read whole. */
function call(
  agent: Agent,
  base: string,
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, {
      method,
      agent,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body ? { 'content-length': String(body.length) } : {}),
      },
    })
    req.on('error', reject)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
    })
    req.end(body)
  })
}

/** The one body every writer of shared ac/ name `index` uploads. */
function sharedBody(index: number): Buffer {
  const seed = createHash('sha256').update(`shared ${index}`).digest()
  return Buffer.concat(Array.from({ length: 1 + ((index * 37) % 200) }, () => seed))
}
const sharedName = (index: number) => createHash('sha256').update(`name ${index}`).digest('hex')

const stress = suite('cairn serve --workers 4 under 16 clients')
stress.after(() => removeTempDirs())

stress(`loses and corrupts nothing in ${DURATION_MS} ms`, async () => {
  const served = await startServe([
    '--store',
    join(tempDir('cairn-serve-stress-'), 'store'),
    '--workers',
    '4',
    '--token',
    TOKEN,
  ])
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS })
  const content = new Set<string>()
  const nxWinners = new Map<number, string>()
  const problems: string[] = []
  let hits = 0
  let requests = 0
  const deadline = Date.now() + DURATION_MS
  const client = async () => {
    while (Date.now() < deadline && problems.length < 10) {
      const roll = Math.random()
      requests += 1
      if (roll < 0.3) {
        const data = randomBytes(1 + Math.floor(Math.random() ** 3 * 256 * 1024))
        const name = sha256(data)
        const put = await call(agent, served.url, 'PUT', `/cas/${name}`, data)
        if (put.status !== 200) problems.push(`PUT cas ${put.status}`)
        else content.add(name)
      } else if (roll < 0.45) {
        const index = Math.floor(Math.random() * 48)
        const put = await call(agent, served.url, 'PUT', `/team/ac/${sharedName(index)}`, sharedBody(index))
        if (put.status !== 200) problems.push(`PUT ac ${put.status}`)
      } else if (roll < 0.55) {
        const index = Math.floor(Math.random() * 32)
        const data = randomBytes(1 + Math.floor(Math.random() * 64 * 1024))
        const put = await call(agent, served.url, 'PUT', `/v1/cache/${index}`, data)
        if (put.status === 202) {
          if (nxWinners.has(index)) problems.push(`second 202 for nx ${index}`)
          nxWinners.set(index, sha256(data))
        } else if (put.status !== 409) problems.push(`PUT nx ${put.status}`)
      } else if (roll < 0.8 && content.size > 0) {
        const names = [...content]
        const name = names[Math.floor(Math.random() * names.length)] as string
        const got = await call(agent, served.url, 'GET', `/cas/${name}`)
        if (got.status !== 200) problems.push(`GET cas of an acknowledged upload: ${got.status}`)
        else if (sha256(got.body) !== name) problems.push(`GET cas ${name}: other bytes`)
        else hits += 1
      } else {
        const index = Math.floor(Math.random() * 48)
        const got = await call(agent, served.url, 'GET', `/team/ac/${sharedName(index)}`)
        if (got.status === 200) {
          hits += 1
          if (!got.body.equals(sharedBody(index))) problems.push(`GET ac ${index}: other bytes`)
        } else if (got.status !== 404) problems.push(`GET ac ${got.status}`)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: CLIENTS }, client))
    assert.equal(problems, [], problems.join('\n'))
    assert.ok(requests > CLIENTS * 4, `only ${requests} requests`)
    // Everything acknowledged is there, whole.
    for (const name of content) {
      const got = await call(agent, served.url, 'GET', `/cas/${name}`)
      assert.is(got.status, 200)
      assert.is(sha256(got.body), name)
      hits += 1
    }
    for (const [index, digest] of nxWinners) {
      const got = await call(agent, served.url, 'GET', `/v1/cache/${index}`)
      assert.is(got.status, 200)
      assert.is(sha256(got.body), digest, `nx ${index} is the body answered 202`)
      hits += 1
    }
    // /metrics sums the four workers: every hit the clients saw was counted once.
    const metrics = (await request(`${served.url}/metrics`, { token: TOKEN })).body.toString()
    const counted = [
      ...metrics.matchAll(/^cairn_serve_hits_total\{protocol="(?:bazel|nx)"\} (\d+)$/gm),
    ].reduce((sum, match) => sum + Number(match[1]), 0)
    assert.is(counted, hits, metrics)
  } finally {
    agent.destroy()
    const { code } = await served.stop()
    assert.is(code, 0, served.stderr())
    assert.is(served.stdout(), `cairn serve: listening on ${served.url}\n`, 'one ready line for four workers')
  }
})

stress.run()

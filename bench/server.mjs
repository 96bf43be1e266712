// `cairn serve` against nginx serving the same bytes, in one run: GET hits of 1 KiB and 1 MiB
// (nginx: static files) and PUTs of new 1 KiB and 1 MiB entries (nginx: WebDAV PUT), each at 16
// keep-alive connections, with one worker and with --workers 2; then the server's RSS while 32
// clients upload 100 MB each.
//
// nginx runs as the test helper starts it: one worker process (worker_processes 1, sendfile on).
// The load generator is this process (16 keep-alive connections on raw sockets, one request in
// flight on each), on the same 2 cores as the servers; it loads them alike: compare the ratios.
//
// Needs nginx and the compiled test helpers (pnpm bench builds first).

import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNginx } from '../test/dist/helpers/nginx.js'
import { startServe } from '../test/dist/helpers/serve.js'
import { printTable } from './lib.mjs'

const KiB = 1024
const MiB = 1024 * KiB
const CONNECTIONS = 16

/** One request; resolves with its status once the answer is read. */
function send(agent, url, method, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method,
      agent,
      headers: body
        ? { 'content-length': String(body.length), authorization: 'Bearer bench' }
        : { authorization: 'Bearer bench' },
    })
    req.on('error', reject)
    req.on('response', (res) => {
      res.on('data', () => {})
      res.on('end', () => resolve(res.statusCode))
      res.on('error', reject)
    })
    req.end(body)
  })
}

/**
 * Requests per second over `ms` with CONNECTIONS keep-alive connections, each sending its next
 * request when the last answer is read. Raw sockets and a minimal response parser instead of
 * http.request: on 2 cores the load generator shares the CPU with the server, and Node's HTTP
 * client spent more per request than the servers measured (it capped nginx's rate).
 * `target(i)` is the i-th URL; every answer must be 2xx.
 */
async function load({ target, method = 'GET', body, ms }) {
  const { hostname, port } = new URL(target(0))
  let sequence = 0
  let ok = 0
  let counting = false
  const end = performance.now() + Math.min(500, ms / 4) + ms
  let started = 0
  const head = (path) =>
    Buffer.from(
      `${method} ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer bench\r\n${body ? `Content-Length: ${body.length}\r\n` : ''}\r\n`,
    )
  // nginx closes a keep-alive connection after 1,000 requests (keepalive_requests): open another.
  const connection = () =>
    new Promise((resolve, reject) => {
      let socket
      let buffered = Buffer.alloc(0)
      let need = -1
      const next = () => {
        if (performance.now() >= end) {
          socket.end()
          return resolve()
        }
        const url = new URL(target(sequence++))
        socket.write(body ? Buffer.concat([head(url.pathname), body]) : head(url.pathname))
      }
      const open = () => {
        buffered = Buffer.alloc(0)
        need = -1
        socket = connect(Number(port), hostname)
        socket.setNoDelay(true)
        socket.on('data', (chunk) => {
          buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
          for (;;) {
            if (need < 0) {
              const headerEnd = buffered.indexOf('\r\n\r\n')
              if (headerEnd < 0) return
              const header = buffered.subarray(0, headerEnd).toString('latin1')
              const status = Number(header.slice(9, 12))
              if (status < 200 || status > 299)
                return reject(new Error(`${method}: ${header.split('\r\n')[0]}`))
              const length = /\r\ncontent-length: *(\d+)/i.exec(header)
              need = headerEnd + 4 + Number(length?.[1] ?? 0)
              if (/\r\nconnection: *close/i.test(header)) socket.closing = true
            }
            if (buffered.length < need) return
            buffered = buffered.subarray(need)
            need = -1
            if (counting) ok++
            if (socket.closing) {
              socket.destroy()
              return open()
            }
            next()
          }
        })
        socket.on('error', reject)
        socket.on('connect', next)
      }
      open()
    })
  setTimeout(
    () => {
      counting = true
      started = performance.now()
    },
    Math.min(500, ms / 4),
  )
  await Promise.all(Array.from({ length: CONNECTIONS }, connection))
  return ok / ((performance.now() - started) / 1000)
}

const hex = (n) => createHash('sha256').update(String(n)).digest('hex')

/** Peak RSS (bytes) of `pids` summed, sampled every 20 ms while `work` runs. */
async function peakRss(pids, work) {
  let peak = 0
  const sample = () => {
    let total = 0
    for (const pid of pids) {
      try {
        const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
        total += Number(match?.[1] ?? 0) * 1024
      } catch {}
    }
    peak = Math.max(peak, total)
  }
  const timer = setInterval(sample, 20)
  try {
    await work()
  } finally {
    clearInterval(timer)
    sample()
  }
  return peak
}

/** 32 clients upload `size` bytes each (unique bodies, streamed in 1 MiB chunks). */
async function bigUploads(url, clients, size) {
  const chunk = randomBytes(MiB)
  await Promise.all(
    Array.from(
      { length: clients },
      (_, client) =>
        new Promise((resolve, reject) => {
          const req = request(`${url}/v1/cache/rss-${client}`, {
            method: 'PUT',
            agent: false,
            headers: { 'content-length': String(size), authorization: 'Bearer bench' },
          })
          req.on('error', reject)
          req.on('response', (res) => {
            res.resume()
            res.on('end', () =>
              res.statusCode === 202 ? resolve() : reject(new Error(`upload: ${res.statusCode}`)),
            )
          })
          let sent = 0
          const pump = () => {
            while (sent < size) {
              const part = Buffer.from(chunk.subarray(0, Math.min(MiB, size - sent)))
              part.writeUInt32BE(client, 0)
              part.writeUInt32BE(sent / MiB, 4)
              sent += part.length
              if (!req.write(part)) return req.once('drain', pump)
            }
            req.end()
          }
          pump()
        }),
    ),
  )
}

export async function benchServer({ quick = false } = {}) {
  const ms = quick ? 1000 : 2000
  const rounds = quick ? 3 : 5
  const work = mkdtempSync(join(tmpdir(), 'cairn-bench-server-'))
  const nginx = await startNginx()
  const servers = {}
  const results = { connections: CONNECTIONS, ms, rounds, rows: {} }
  const rows = []
  try {
    for (const workers of [1, 2]) {
      servers[workers] = await startServe([
        '--store',
        join(work, `store-${workers}`),
        '--workers',
        String(workers),
        '--token',
        'bench',
        '--quiet',
      ])
    }
    const bodies = { '1 KiB': randomBytes(KiB), '1 MiB': randomBytes(MiB) }
    mkdirSync(join(nginx.root, 'static'), { recursive: true })
    const cases = []
    for (const [label, data] of Object.entries(bodies)) {
      const file = label.replace(' ', '')
      const name = createHash('sha256').update(data).digest('hex')
      writeFileSync(join(nginx.root, 'static', file), data)
      for (const served of Object.values(servers)) {
        if ((await send(undefined, `${served.url}/cas/${name}`, 'PUT', data)) !== 200)
          throw new Error('seed PUT failed')
      }
      cases.push({
        op: `GET ${label} (hit)`,
        nginx: { target: () => `${nginx.url}/static/${file}` },
        serve: (served) => ({ target: () => `${served.url}/cas/${name}` }),
      })
      cases.push({
        op: `PUT ${label} (new entry)`,
        nginx: { target: (i) => `${nginx.url}/put/${file}-${i}`, method: 'PUT', body: data },
        serve: (served, workers) => ({
          target: (i) => `${served.url}/ac/${hex(`${workers} ${label} ${i}`)}`,
          method: 'PUT',
          body: data,
        }),
      })
    }
    // The machine is shared and its load moves by the second: each round measures nginx and both
    // server set-ups back to back, and a ratio is the median of the rounds' ratios.
    const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1]
    for (const { op, nginx: baseline, serve } of cases) {
      const measured = { nginx: [], 1: [], 2: [] }
      for (let round = 0; round < rounds; round++) {
        measured.nginx.push(await load({ ...baseline, ms }))
        for (const workers of [1, 2])
          measured[workers].push(await load({ ...serve(servers[workers], workers), ms }))
      }
      for (const workers of [1, 2]) {
        const ratio = median(measured[workers].map((rps, round) => rps / measured.nginx[round]))
        const rps = median(measured[workers])
        const base = median(measured.nginx)
        results.rows[`${op}, --workers ${workers}`] = { rps, nginx: base, ratio }
        rows.push([
          `${op}, --workers ${workers}`,
          `${Math.round(rps).toLocaleString('en-US')}/s`,
          `${Math.round(base).toLocaleString('en-US')}/s`,
          `${ratio.toFixed(2)}×`,
        ])
      }
    }
    for (const served of Object.values(servers)) await served.stop()
    console.log(
      `cairn serve vs nginx (1 worker process), ${CONNECTIONS} keep-alive connections, ${ms} ms per sample, median of ${rounds} rounds\n`,
    )
    printTable(['requests', 'cairn serve', 'nginx', 'ratio (median)'], rows)

    const size = quick ? 20 * MiB : 100 * MiB
    const store = join(work, 'store-rss')
    const served = await startServe(['--store', store, '--token', 'bench', '--quiet'])
    try {
      const started = performance.now()
      const peak = await peakRss([served.child.pid], () => bigUploads(served.url, 32, size))
      const seconds = (performance.now() - started) / 1000
      results.rss = { clients: 32, bytesEach: size, peakBytes: peak, seconds }
      console.log(
        `\nRSS of cairn serve while 32 clients upload ${size / MiB} MiB each: peak ${(peak / MiB).toFixed(0)} MiB (goal < 200 MB); ${((32 * size) / MiB / seconds).toFixed(0)} MiB/s in all`,
      )
    } finally {
      await served.stop()
    }
    return results
  } finally {
    for (const served of Object.values(servers)) await served.stop()
    await nginx.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  await benchServer({ quick: process.argv.includes('--quick') })

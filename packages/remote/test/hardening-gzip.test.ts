// Issue 13, item 12: a gzip bomb. A record names 256 MiB of content and the server answers
// with a quarter megabyte of gzip (Content-Encoding: gzip) that fetch would decode to 256 MiB
// of zeros. The old download decoded and buffered all of it before finding the digest wrong.
// Alone in its file: it measures this process's peak memory.

import { randomBytes } from 'node:crypto'
import { createGzip } from 'node:zlib'
import { encodeRemoteRecord, openRemoteStore } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { key64, type MemoryServer, removeTempDirs, startMemoryServer, tempDir } from './helpers.js'

const DECODED_BYTES = 256 * 1024 * 1024

/** DECODED_BYTES of zeros, gzipped one MiB at a time (the bomb itself must not cost memory). */
async function gzipBomb(): Promise<Buffer> {
  const gzip = createGzip({ level: 9 })
  const parts: Buffer[] = []
  gzip.on('data', (chunk: Buffer) => parts.push(chunk))
  const ended = new Promise((resolve) => gzip.on('end', resolve))
  const zeros = Buffer.alloc(1024 * 1024)
  for (let written = 0; written < DECODED_BYTES; written += zeros.length) {
    if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once('drain', resolve))
  }
  gzip.end()
  await ended
  return Buffer.concat(parts)
}

let server: MemoryServer

const bomb = suite('a compressed answer')
bomb.before(async () => {
  server = await startMemoryServer()
})
bomb.after(async () => {
  await server.close()
  removeTempDirs()
})

bomb('a gzip bomb is a miss, refused unread: peak memory grows by far less than it decodes to', async () => {
  const body = await gzipBomb()
  const key = key64(1)
  const digest = randomBytes(32).toString('hex')
  server.files.set(
    `/ac/${key}`,
    encodeRemoteRecord({
      key,
      algorithm: 'sha256',
      digest,
      size: DECODED_BYTES,
      time: 1,
      metadata: undefined,
    }),
  )
  let acceptEncoding: string | undefined
  server.intercept = (request, response) => {
    if (!request.url?.endsWith(`/cas/${digest}`)) return false
    acceptEncoding = request.headers['accept-encoding']
    // Compressed whatever the request asked for, as a hostile server would.
    response.writeHead(200, { 'content-encoding': 'gzip', 'content-length': body.length }).end(body)
    return true
  }
  const lines: string[] = []
  const store = await openRemoteStore(tempDir(), {
    algorithm: 'sha256',
    remote: { url: server.url, warn: (line) => lines.push(line) },
  })
  const before = process.resourceUsage().maxRSS // KiB
  assert.is(await store.get(key), undefined)
  const grownMiB = (process.resourceUsage().maxRSS - before) / 1024
  assert.ok(grownMiB < 64, `peak memory grew by ${Math.round(grownMiB)} MiB`)
  assert.is(acceptEncoding, 'identity')
  assert.is(lines.length, 1)
  assert.match(lines[0] as string, 'compressed')
})

bomb.run()

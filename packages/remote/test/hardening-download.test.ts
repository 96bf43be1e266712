// Issue 13, items 12 and 13: downloads are bounded in size (maxEntryBytes, checked before any
// content is asked for) and in time as a whole (a trickling server cannot stretch a lookup by
// sending a byte just inside every timeout), and a local disk that fills up during a download
// is a miss plus a warning, not an exception out of has() or get().

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createHasher } from '@cairn/hash'
import { encodeRemoteRecord, openRemoteStore, type RemoteOptions } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { key64, type MemoryServer, removeTempDirs, startMemoryServer, tempDir } from './helpers.js'

let server: MemoryServer

/** Puts an entry of `data` on the server as another machine's upload would; returns its digest. */
async function serve(key: string, data: Buffer): Promise<string> {
  const hasher = await createHasher({ algorithm: 'sha256' })
  const digest = hasher.bytes(data)
  server.files.set(`/cas/${digest}`, data)
  server.files.set(
    `/ac/${key}`,
    encodeRemoteRecord({ key, algorithm: 'sha256', digest, size: data.length, time: 1, metadata: undefined }),
  )
  return digest
}

async function machine(remote: Partial<RemoteOptions>, lines: string[], dir = tempDir()) {
  return openRemoteStore(dir, {
    algorithm: 'sha256',
    remote: { url: server.url, warn: (line) => lines.push(line), ...remote },
  })
}

const download = suite('downloads bounded in size and time')
download.before(async () => {
  server = await startMemoryServer()
})
download.before.each(() => {
  server.files.clear()
  server.log.length = 0
  server.intercept = undefined
})
download.after(async () => {
  await server.close()
  removeTempDirs()
})

download('content larger than maxEntryBytes is a miss, said once, and never requested', async () => {
  const key = key64(1)
  const digest = await serve(key, randomBytes(2 * 1024 * 1024))
  const lines: string[] = []
  const store = await machine({ maxEntryBytes: 1024 * 1024 }, lines)
  assert.is(await store.get(key), undefined)
  assert.is(await store.has(key), false)
  assert.not.ok(server.log.includes(`GET /cas/${digest}`), 'the content was requested')
  assert.is(lines.length, 1)
  assert.match(lines[0] as string, 'maxEntryBytes')
  // The same entry within the limit is a hit.
  const roomy = await machine({ maxEntryBytes: 4 * 1024 * 1024 }, [])
  assert.is((await roomy.get(key))?.size, 2 * 1024 * 1024)
})

download('a server trickling one byte every 300 ms is cut off by the whole-request deadline', async () => {
  const key = key64(2)
  const data = randomBytes(40)
  const digest = await serve(key, data)
  let sent = 0
  server.intercept = (request, response) => {
    if (request.method !== 'GET' || !request.url?.endsWith(`/cas/${digest}`)) return false
    response.writeHead(200, { 'content-length': data.length })
    const timer = setInterval(() => {
      if (sent === data.length) return
      response.write(data.subarray(sent, sent + 1))
      sent += 1
    }, 300)
    response.on('close', () => clearInterval(timer))
    return true
  }
  const lines: string[] = []
  // Each byte arrives well inside the 1,000 ms wait for the next one; 40 bytes take 12 s.
  const store = await machine({ timeoutMs: 1000 }, lines)
  assert.is(await store.get(key), undefined)
  // The deadline (1,000 ms plus 40 bytes at 256 KiB/s) fell long before the last byte.
  assert.ok(sent < data.length, `the whole body trickled in (${sent} bytes)`)
  assert.is(store.remoteStats().errors, 1)
  assert.match(lines.join('\n'), 'within')
})

download('a large download at a healthy rate completes under a short timeout', async () => {
  const key = key64(3)
  const data = randomBytes(8 * 1024 * 1024)
  await serve(key, data)
  const store = await machine({ timeoutMs: 1000 }, [])
  assert.ok((await store.get(key))?.data.equals(data))
})

download('a local disk that fills up during a download: has() and get() miss, with one warning', async () => {
  if (process.getuid?.() !== 0) {
    console.log('  (skipped: mounting a small tmpfs needs root)')
    return
  }
  const key = key64(4)
  await serve(key, randomBytes(8 * 1024 * 1024))
  const dir = tempDir('cairn-full-')
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir])
  try {
    const lines: string[] = []
    const store = await machine({}, lines, dir)
    assert.is(await store.has(key), false)
    assert.is(await store.get(key), undefined)
    assert.is(lines.length, 1)
    assert.match(lines[0] as string, 'treated as a miss')
    // The remote was not blamed: no error counted, the breaker untouched.
    assert.is(store.remoteStats().errors, 0)
  } finally {
    execFileSync('umount', ['-l', dir])
  }
})

download.run()

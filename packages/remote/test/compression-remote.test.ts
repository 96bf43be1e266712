// Issue 17: the remote tier between stores that compress and stores that do not. The wire
// format is unchanged (cas/ holds the raw bytes, as Bazel's protocol says), so an upload
// decompresses a framed content file as it sends it, and a download is stored with the local
// store's own codec (it goes through put).

import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs'
import {
  openStore as openRemoteOrLocalStore,
  openRemoteStore,
  type RemoteOptions,
  type RemoteStore,
} from '@cairn/remote'
import { type CompressionOption, Layout, openStore, readContentFrameHeader } from '@cairn/store'
import * as fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { key64, type MemoryServer, removeTempDirs, startMemoryServer, tempDir } from './helpers.js'

let server: MemoryServer

/** `size` bytes that compress well but not to nothing: random words from a small vocabulary. */
function compressible(size: number, seed = randomBytes(8)): Buffer {
  const words = ['export', 'const', 'function', 'return', seed.toString('hex'), '{', '}', ';\n']
  const out = Buffer.alloc(size)
  let at = 0
  let state = seed.readUInt32BE(0) || 1
  while (at < size) {
    state = (state * 1103515245 + 12345) >>> 0
    at += out.write(`${words[state % words.length]} `, at)
  }
  return out
}

/** A store on the shared memory server, compressing with `compression`. */
function machine(
  compression: CompressionOption = 'none',
  remote: Partial<RemoteOptions> = {},
  lines: string[] = [],
): Promise<RemoteStore> {
  return openRemoteStore(tempDir(), {
    algorithm: 'sha256',
    compression,
    remote: { url: server.url, warn: (line) => lines.push(line), ...remote },
  })
}

/** What a local entry looks like on disk: its record's version and codec, its content file's. */
function onDisk(dir: string, key: string) {
  const layout = new Layout(dir)
  const record = readFileSync(layout.entryPath(key))
  const header = JSON.parse(record.toString('utf8', 12, 12 + record.readUInt32BE(8)))
  const file = readFileSync(layout.contentPath(header.digest))
  const frame = readContentFrameHeader(file)
  return {
    version: record[4],
    codec: (header.codec ?? 'none') as string,
    stored: header.stored as number | undefined,
    fileBytes: file.length,
    fileCodec: file.length === header.size ? 'none' : (frame?.codec ?? 'not a frame'),
    digest: header.digest as string,
  }
}

const tier = suite('compressed and raw stores share one remote')
tier.before(async () => {
  server = await startMemoryServer()
})
tier.before.each(() => {
  server.files.clear()
  server.log.length = 0
  server.intercept = undefined
})
tier.after(async () => {
  await server.close()
  removeTempDirs()
})

tier('a gzip store uploads the raw bytes; a raw store downloads them byte-identically', async () => {
  const a = await machine('gzip')
  const b = await machine('none')
  const key = key64(1)
  const data = compressible(200_000)
  await a.put(key, data, { metadata: { tool: 'tsc' } })
  await a.flush()
  const local = onDisk(a.dir, key)
  assert.is(local.version, 2)
  assert.is(local.codec, 'gzip')
  assert.is(local.fileCodec, 'gzip')
  assert.ok(local.fileBytes < data.length / 2, `compressed to ${local.fileBytes} bytes`)
  assert.is(a.remoteStats().uploads, 1)
  assert.ok((server.files.get(`/cas/${local.digest}`) as Buffer).equals(data), 'cas/ holds the raw bytes')

  const entry = await b.get(key)
  assert.ok(entry)
  assert.ok(entry.data.equals(data))
  assert.equal(entry.metadata, { tool: 'tsc' })
  assert.is(entry.storedSize, data.length)
  const copy = onDisk(b.dir, key)
  assert.is(copy.version, 1)
  assert.is(copy.fileCodec, 'none')
})

tier('a raw store uploads; a brotli store keeps the download compressed and reads it back', async () => {
  const a = await machine('none')
  const b = await machine('brotli')
  const key = key64(2)
  const data = compressible(150_000)
  await a.put(key, data)
  await a.flush()
  const digest = onDisk(a.dir, key).digest
  assert.ok((server.files.get(`/cas/${digest}`) as Buffer).equals(data))

  const entry = await b.get(key)
  assert.ok(entry)
  assert.ok(entry.data.equals(data), 'the downloaded entry read back is the original bytes')
  assert.ok(entry.storedSize < data.length, `storedSize ${entry.storedSize}`)
  const copy = onDisk(b.dir, key)
  assert.is(copy.version, 2)
  assert.is(copy.codec, 'brotli')
  assert.is(copy.fileCodec, 'brotli')
  assert.is(copy.stored, copy.fileBytes)
  assert.ok((await b.local.get(key))?.data.equals(data), 'later local hits are the original bytes')
  const streamed = await b.getStream(key)
  assert.ok(streamed)
  const chunks: Buffer[] = []
  for await (const chunk of streamed.stream) chunks.push(chunk as Buffer)
  assert.ok(Buffer.concat(chunks).equals(data))
})

tier('@cairn/remote openStore passes compression to the local store, and checks it', async () => {
  const dir = tempDir()
  const store = await openRemoteOrLocalStore(dir, {
    algorithm: 'sha256',
    compression: { codec: 'gzip', level: 9 },
    remote: { url: server.url, warn: () => {} },
  })
  const key = key64(3)
  const data = compressible(50_000)
  await store.put(key, data)
  await store.flush()
  assert.is(onDisk(dir, key).fileCodec, 'gzip')
  assert.ok((server.files.get(`/cas/${onDisk(dir, key).digest}`) as Buffer).equals(data))
  for (const compression of ['lz4', { codec: 'gzip', level: 42 }]) {
    try {
      await openRemoteOrLocalStore(tempDir(), {
        compression: compression as CompressionOption,
        remote: { url: server.url },
      })
      assert.unreachable(`${JSON.stringify(compression)} was accepted`)
    } catch (error) {
      assert.is((error as { code?: string }).code, 'ERR_CAIRN_INVALID_OPTION')
    }
  }
})

tier('a compressed entry made while uploads were off is uploaded raw by a later put', async () => {
  const dir = tempDir()
  const key = key64(4)
  const data = compressible(80_000)
  // Put with the plain store (no upload), then again through a remote tier: the second put finds
  // the entry there and uploads it.
  const plain = await openStore(dir, { algorithm: 'sha256', compression: 'gzip' })
  await plain.put(key, data)
  const remote = await openRemoteStore(dir, { algorithm: 'sha256', remote: { url: server.url } })
  const result = await remote.put(key, data)
  assert.not.ok(result.published)
  await remote.flush()
  assert.is(remote.remoteStats().uploads, 1)
  assert.ok((server.files.get(`/cas/${onDisk(dir, key).digest}`) as Buffer).equals(data))
})

tier('a retried upload of a compressed entry sends the raw bytes again from the start', async () => {
  // A WebDAV server without the cas/ collection answers 409; the client makes it and sends the
  // body again, from a new decompressing stream over the same open descriptor.
  let refused = 0
  server.intercept = (request, response) => {
    if (request.method !== 'PUT' || !request.url?.includes('/cas/') || refused > 0) return false
    refused += 1
    request.resume()
    request.on('end', () => response.writeHead(409).end())
    return true
  }
  const store = await machine('gzip')
  const key = key64(7)
  const data = compressible(400_000)
  await store.put(key, data)
  await store.flush()
  assert.is(refused, 1)
  assert.is(store.remoteStats().uploads, 1, JSON.stringify(store.remoteStats()))
  assert.ok((server.files.get(`/cas/${onDisk(store.dir, key).digest}`) as Buffer).equals(data))
})

/**
 * Puts `data` through a gzip store whose upload is held at HEAD cas/<digest> (content of
 * 64 KiB or more asks first), runs `tamper` on the content file then (after the upload opened
 * and checked it), and lets the upload go on.
 */
async function uploadWhileTampering(data: Buffer, tamper: (contentPath: string) => void) {
  const lines: string[] = []
  const store = await machine('gzip', {}, lines)
  const layout = new Layout(store.dir)
  server.intercept = (request, response) => {
    if (request.method !== 'HEAD' || !request.url?.includes('/cas/')) return false
    tamper(layout.contentPath(request.url.slice(request.url.lastIndexOf('/') + 1)))
    response.writeHead(404).end()
    return true
  }
  const key = key64(data.length)
  const { digest } = await store.put(key, data)
  await store.flush()
  return { digest, lines, stats: store.remoteStats() }
}

/** Overwrites `length` bytes in the middle of a file, in place (the same inode, the same size). */
function scribble(path: string, length = 64): void {
  const fd = openSync(path, 'r+')
  try {
    writeSync(fd, randomBytes(length), 0, length, Math.floor(statSync(path).size / 2))
  } finally {
    closeSync(fd)
  }
}

tier('damaged compressed content is not uploaded: no cas/ body, no record', async () => {
  const { digest, lines, stats } = await uploadWhileTampering(compressible(300_000), (path) => scribble(path))
  assert.not.ok(server.files.has(`/cas/${digest}`), 'the damaged content reached cas/')
  assert.is([...server.files.keys()].filter((path) => path.startsWith('/ac/')).length, 0)
  assert.is(stats.uploads, 0)
  assert.is(stats.uploadsFailed, 1)
  assert.ok(
    lines.some((line) => /is not uploaded/.test(line)),
    `a warning says the local content is damaged: ${lines.join('\n')}`,
  )
})

tier('compressed content truncated while the upload waits is not uploaded', async () => {
  const { digest, stats } = await uploadWhileTampering(compressible(300_000), (path) =>
    truncateSync(path, Math.floor(statSync(path).size / 2)),
  )
  assert.not.ok(server.files.has(`/cas/${digest}`))
  assert.is(stats.uploads, 0)
})

tier('a compressed content file truncated before its upload starts is not uploaded at all', async () => {
  // Two uploads, one at a time: the server holds the first while the second's content file is
  // cut, so the second upload finds it shorter than its record's `stored` when its turn comes.
  const store = await machine('brotli', { concurrency: 1 })
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  const first = key64(6)
  server.intercept = (request, response) => {
    if (request.method !== 'PUT' || !request.url?.endsWith(`/ac/${first}`)) return false
    request.resume()
    void held.then(() => response.writeHead(201).end())
    return true
  }
  await store.put(first, 'the first entry, whose upload is held')
  const key = key64(5)
  await store.put(key, compressible(80_000))
  const { digest } = onDisk(store.dir, key)
  const path = new Layout(store.dir).contentPath(digest)
  truncateSync(path, statSync(path).size - 1)
  release()
  await store.flush()
  assert.not.ok(server.log.includes(`PUT /cas/${digest}`), server.log.join('\n'))
  assert.not.ok(server.files.has(`/ac/${key}`))
})

tier('round trips through the remote for every codec pair (property)', async () => {
  const codecs: CompressionOption[] = ['none', 'gzip', 'brotli']
  let n = 0
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...codecs),
      fc.constantFrom(...codecs),
      fc.integer({ min: 0, max: 120_000 }),
      fc.boolean(),
      async (from, to, size, random) => {
        const a = await machine(from)
        const b = await machine(to)
        const key = key64(1000 + n++)
        const data = random ? randomBytes(size) : compressible(size)
        await a.put(key, data)
        await a.flush()
        const entry = await b.get(key)
        return entry?.data.equals(data) === true && entry.size === size
      },
    ),
    { numRuns: 25 },
  )
})

tier.run()

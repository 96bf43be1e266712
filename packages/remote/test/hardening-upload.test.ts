// Issue 13, item 3 (uploads): a co-user who can write the store swaps a symlink in for a
// content file, or damages one. An upload must never send a file outside the store, nor bytes
// that are not the record's digest, to the remote's cas/.

import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openRemoteStore } from '@cairn/remote'
import { Layout, openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { key64, type MemoryServer, removeTempDirs, startMemoryServer, tempDir } from './helpers.js'

let server: MemoryServer

/**
 * Puts an entry of `size` random bytes through a remote store, and applies `tamper` to its
 * content file at the moment the upload asks the server whether it has the content (HEAD
 * cas/<digest>, which content of 64 KiB or more gets): after the local put and the upload's
 * checks, before the content is sent. The old upload opened the file by path only then.
 */
async function uploadWhileTampering(
  size: number,
  tamper: (contentPath: string) => void,
): Promise<{ digest: string; data: Buffer; lines: string[]; uploads: number }> {
  const dir = tempDir()
  const data = randomBytes(size)
  const lines: string[] = []
  const remote = await openRemoteStore(dir, {
    algorithm: 'sha256',
    remote: { url: server.url, warn: (line) => lines.push(line) },
  })
  const layout = new Layout(dir)
  server.intercept = (request, response) => {
    if (request.method !== 'HEAD' || !request.url?.includes('/cas/')) return false
    tamper(layout.contentPath(request.url.slice(request.url.lastIndexOf('/') + 1)))
    response.writeHead(404).end()
    return true
  }
  const { digest } = await remote.put(key64(size), data)
  await remote.flush()
  return { digest, data, lines, uploads: remote.remoteStats().uploads }
}

/**
 * Two uploads, one at a time: the first is held by the server while `tamper` changes the
 * second entry's content file, so the second upload finds it changed when its turn comes.
 */
async function uploadAfterTampering(
  size: number,
  tamper: (contentPath: string) => void,
): Promise<{ digest: string; lines: string[]; uploads: number }> {
  const dir = tempDir()
  const lines: string[] = []
  const remote = await openRemoteStore(dir, {
    algorithm: 'sha256',
    remote: { url: server.url, concurrency: 1, warn: (line) => lines.push(line) },
  })
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  const first = key64(1)
  server.intercept = (request, response) => {
    if (request.method !== 'PUT' || !request.url?.endsWith(`/ac/${first}`)) return false
    request.resume()
    void held.then(() => response.writeHead(201).end())
    return true
  }
  await remote.put(first, 'the first entry, whose upload is held')
  const { digest } = await remote.put(key64(size), randomBytes(size))
  tamper(new Layout(dir).contentPath(digest))
  release()
  await remote.flush()
  return { digest, lines, uploads: remote.remoteStats().uploads - 1 }
}

/** Every body the server stored. */
function stored(): Buffer[] {
  return [...server.files.values()]
}

const upload = suite('uploads read only the store file they checked')
upload.before(async () => {
  server = await startMemoryServer()
})
upload.before.each(() => {
  server.files.clear()
  server.log.length = 0
  server.intercept = undefined
})
upload.after(async () => {
  await server.close()
  removeTempDirs()
})

upload(
  "a symlink swapped in while the upload waits: the link's target never reaches the remote",
  async () => {
    const secret = randomBytes(100_000) // the size the record says, as an attacker would choose
    const outside = join(tempDir('cairn-home-'), 'id_ed25519')
    writeFileSync(outside, secret)
    const { digest, uploads } = await uploadAfterTampering(100_000, (contentPath) => {
      rmSync(contentPath)
      symlinkSync(outside, contentPath)
    })
    assert.not.ok(
      stored().some((body) => body.equals(secret)),
      'the outside file was uploaded',
    )
    assert.not.ok(server.files.has(`/cas/${digest}`))
    assert.is(uploads, 0)
  },
)

upload(
  "a symlink swapped in after the upload's checks: the bytes sent are still the entry's own",
  async () => {
    const secret = randomBytes(100_000)
    const outside = join(tempDir('cairn-home-'), 'id_ed25519')
    writeFileSync(outside, secret)
    const { digest, data } = await uploadWhileTampering(100_000, (contentPath) => {
      rmSync(contentPath)
      symlinkSync(outside, contentPath)
    })
    assert.not.ok(
      stored().some((body) => body.equals(secret)),
      'the outside file was uploaded',
    )
    // The upload had the content open already: what it sent is the entry's.
    const sent = server.files.get(`/cas/${digest}`)
    assert.ok(sent === undefined || sent.equals(data))
  },
)

upload("content damaged after the upload's checks is not stored as the remote's cas/<digest>", async () => {
  const { digest, lines, uploads } = await uploadWhileTampering(300_000, (contentPath) => {
    // Same size, different bytes, written into the same file: a co-user's write.
    writeFileSync(contentPath, randomBytes(300_000))
  })
  assert.not.ok(server.files.has(`/cas/${digest}`), 'damaged bytes were stored under the digest')
  assert.is(uploads, 0)
  assert.is(lines.length, 1)
  assert.match(lines[0] as string, 'not uploaded')
})

upload('damaged inline content is not uploaded either', async () => {
  const dir = tempDir()
  const key = key64(7)
  const plain = await openStore(dir, { algorithm: 'sha256' })
  await plain.put(key, 'small and inline')
  const layout = new Layout(dir)
  const record = readFileSync(layout.entryPath(key))
  // Flip one byte of the inline content (the record's last bytes).
  record.writeUInt8((record.at(-1) as number) ^ 0xff, record.length - 1)
  writeFileSync(layout.entryPath(key), record)
  const remote = await openRemoteStore(dir, {
    algorithm: 'sha256',
    remote: { url: server.url, warn: () => {} },
  })
  await remote.put(key, 'small and inline')
  await remote.flush()
  assert.equal(
    server.log.filter((line) => line.startsWith('PUT')),
    [],
  )
})

upload('an intact entry is still uploaded, content then record', async () => {
  const { digest, uploads } = await uploadWhileTampering(300_000, () => {})
  assert.ok(server.files.has(`/cas/${digest}`))
  assert.is(uploads, 1)
})

upload.run()

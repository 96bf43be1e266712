// Issue 13, item 3 against a real nginx: a content file a co-user damages or replaces with a
// symlink right after the put, before the background upload reads it. nginx must end up
// without the outside file's bytes and without damaged bytes under cas/<digest>: the upload
// reads only a descriptor it checked, and withholds the body's last chunk when the digest is
// wrong, so nginx sees a PUT shorter than its Content-Length and discards it.

import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHasher, type Hasher } from '@cairn/hash'
import { openRemoteStore } from '@cairn/remote'
import { Layout } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type Nginx, startNginx } from './helpers/nginx.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

let nginx: Nginx
let hasher: Hasher

/** Every file nginx stored under cas/. */
function casFiles(): Buffer[] {
  const dir = join(nginx.root, 'cache', 'cas')
  if (!existsSync(dir)) return []
  return readdirSync(dir).map((name) => readFileSync(join(dir, name)))
}

/** Puts `size` random bytes through a remote store, tampers with the content file, then flushes. */
async function putThenTamper(size: number, tamper: (contentPath: string) => void) {
  const dir = tempDir()
  const lines: string[] = []
  const store = await openRemoteStore(dir, {
    algorithm: 'sha256',
    remote: { url: nginx.url, warn: (line) => lines.push(line) },
  })
  const key = hasher.key(['hardening-upload-nginx', size, Math.random()])
  const { digest } = await store.put(key, randomBytes(size))
  // The upload is queued; it has not opened the file yet (that takes an asynchronous open).
  tamper(new Layout(dir).contentPath(digest))
  await store.flush()
  return { digest, lines, uploads: store.remoteStats().uploads }
}

const upload = suite('uploads to nginx from a store a co-user tampers with')
upload.before(async () => {
  nginx = await startNginx()
  hasher = await createHasher({ algorithm: 'sha256' })
})
upload.after(async () => {
  await nginx?.stop()
  removeTempDirs()
})

upload(
  "content damaged in place before the upload reads it: nginx's cas/<digest> is never created",
  async () => {
    let damaged: Buffer | undefined
    const { digest, lines, uploads } = await putThenTamper(3_000_000, (contentPath) => {
      damaged = randomBytes(3_000_000)
      writeFileSync(contentPath, damaged)
    })
    await nginx.settle()
    assert.not.ok(
      existsSync(join(nginx.root, 'cache', 'cas', digest)),
      'damaged bytes stored under the digest',
    )
    assert.not.ok(
      casFiles().some((body) => body.equals(damaged as Buffer)),
      'the damaged bytes reached nginx',
    )
    assert.is(uploads, 0)
    assert.match(lines.join('\n'), 'not uploaded')
  },
)

upload(
  'a symlink swapped in before the upload reads the content: its target never reaches nginx',
  async () => {
    const secret = randomBytes(200_000)
    const outside = join(tempDir(), 'id_ed25519')
    writeFileSync(outside, secret)
    const { digest, uploads } = await putThenTamper(200_000, (contentPath) => {
      rmSync(contentPath)
      symlinkSync(outside, contentPath)
    })
    await nginx.settle()
    assert.not.ok(
      casFiles().some((body) => body.equals(secret)),
      'the outside file was uploaded',
    )
    assert.not.ok(existsSync(join(nginx.root, 'cache', 'cas', digest)))
    assert.is(uploads, 0)
  },
)

upload.run()

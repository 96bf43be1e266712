// https:// works: two machines, each its own process, share an nginx serving HTTPS with a
// self-signed certificate their Node trusts (NODE_EXTRA_CA_CERTS). A machine that does not
// trust it gets a miss and one warning, never an error and never an unchecked connection.

import { randomBytes } from 'node:crypto'
import { createHasher } from '@cairn/hash'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type Nginx, startNginx } from './helpers/nginx.js'
import { fixture, removeTempDirs, runNode, tempDir } from './helpers/processes.js'

let nginx: Nginx

/** Runs the remote client fixture as another machine; returns its JSON answer and stderr. */
async function client(args: string[], trust: boolean) {
  const env = { ...process.env }
  if (trust) env.NODE_EXTRA_CA_CERTS = nginx.certificate
  else delete env.NODE_EXTRA_CA_CERTS
  const result = await runNode(fixture('remote-client'), args, { env })
  assert.is(result.code, 0, result.stderr)
  return { answer: JSON.parse(result.stdout), stderr: result.stderr }
}

const https = suite('https')
https.before(async () => {
  nginx = await startNginx({ tls: true })
})
https.after(async () => {
  await nginx?.stop()
  removeTempDirs()
})

https('a put on one machine is a hit on another, over https', async () => {
  assert.match(nginx.url, /^https:\/\//)
  const key = (await createHasher({ algorithm: 'sha256' })).key('over https')
  const data = randomBytes(60_000) // passed as an argument: at most 128 KiB on Linux
  const put = await client(['put', tempDir(), nginx.url, key, data.toString('base64')], true)
  assert.is(put.stderr, '')
  assert.is(put.answer.stats.uploads, 1)
  const got = await client(['get', tempDir(), nginx.url, key], true)
  assert.is(got.stderr, '')
  assert.ok(Buffer.from(got.answer.data, 'base64').equals(data))
  assert.is(got.answer.stats.hits, 1)
})

https('an untrusted certificate is a miss with one warning', async () => {
  const key = (await createHasher({ algorithm: 'sha256' })).key('untrusted')
  const got = await client(['get', tempDir(), nginx.url, key], false)
  assert.is(got.answer.data, null)
  assert.equal(got.answer.stats.errors, 1)
  assert.match(
    got.stderr,
    /^cairn: remote: GET https:\/\/127\.0\.0\.1:\d+\/cache\/ac\/[0-9a-f]{64} failed: .*cert/i,
  )
  assert.is(got.stderr.trim().split('\n').length, 1)
})

https.run()

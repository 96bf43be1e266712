// Apache's mod_dav, unlike nginx, does not create missing collections: every PUT under a
// missing `ac/` or `cas/` is answered 409 Conflict. The remote store creates them once with
// MKCOL and retries, as other WebDAV clients do.

import { randomBytes } from 'node:crypto'
import { openRemoteStore } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { key64, type MemoryServer, removeTempDirs, startMemoryServer, tempDir } from './helpers.js'

let server: MemoryServer

/** Acts as mod_dav does for a DAV directory at the base URL that holds no collections yet. */
function actAsApache(): void {
  const collections = new Set(['/cache/'])
  server.intercept = (request, response) => {
    const path = request.url ?? '/'
    if (request.method === 'MKCOL') {
      if (collections.has(path)) response.writeHead(405).end()
      else if (!collections.has(path.replace(/[^/]+\/$/, ''))) response.writeHead(409).end()
      else {
        collections.add(path)
        response.writeHead(201).end()
      }
      return true
    }
    if (request.method === 'PUT' && !collections.has(path.replace(/[^/]+$/, ''))) {
      request.resume()
      response.writeHead(409).end()
      return true
    }
    return false // stored or served as usual
  }
}

const dav = suite('a WebDAV server that does not create collections')
dav.before(async () => {
  server = await startMemoryServer()
})
dav.after(async () => {
  await server.close()
  removeTempDirs()
})

dav('uploads create ac/ and cas/ with MKCOL once, then succeed; another machine gets the entry', async () => {
  actAsApache()
  const lines: string[] = []
  const a = await openRemoteStore(tempDir(), {
    algorithm: 'sha256',
    remote: { url: server.url, warn: (line) => lines.push(line) },
  })
  const entries = Array.from({ length: 6 }, (_, index) => ({
    key: key64(index + 1),
    data: randomBytes(5000),
  }))
  await Promise.all(entries.map(({ key, data }) => a.put(key, data)))
  await a.flush()
  assert.equal(lines, [])
  assert.is(a.remoteStats().uploads, entries.length)
  const mkcols = server.log.filter((line) => line.startsWith('MKCOL'))
  assert.equal(mkcols.sort(), ['MKCOL /', 'MKCOL /', 'MKCOL /ac/', 'MKCOL /cas/'])
  const b = await openRemoteStore(tempDir(), {
    algorithm: 'sha256',
    remote: { url: server.url, warn: () => {} },
  })
  for (const { key, data } of entries) assert.ok((await b.get(key))?.data.equals(data))
})

dav.run()

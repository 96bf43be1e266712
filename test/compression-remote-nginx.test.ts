// Issue 17 over a real server: stores that compress and stores that do not share one nginx
// WebDAV cache. cas/ holds the raw bytes (the wire format is unchanged), and what a store
// downloads is stored with its own codec (CAIRN_COMPRESSION applies to `cairn get --remote`).

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  BUILD_OUTPUTS,
  buildStepArgs,
  cairn,
  copyProject,
  expectOutcome,
  makeProject,
  runCount,
  snapshot,
} from './fixtures/cli-harness.js'
import { type Nginx, startNginx } from './helpers/nginx.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

let nginx: Nginx

const KEY = '0123456789abcdef0123456789abcdef'

/** `size` bytes that compress well but not to nothing. */
function compressible(size: number): Buffer {
  const seed = randomBytes(8).toString('hex')
  const words = ['export', 'const', 'function', 'return', seed, '{', '}', ';\n']
  const out = Buffer.alloc(size)
  let at = 0
  let state = 12345
  while (at < size) {
    state = (state * 1103515245 + 12345) >>> 0
    at += out.write(`${words[state % words.length]} `, at)
  }
  return out
}

/** The record of `key` in `store`: byte 4 (format version), its codec and digest. */
function recordOf(store: string, key: string): { version: number; codec: string; digest: string } {
  const bytes = readFileSync(join(store, 'entries', key.slice(0, 2), key))
  const header = JSON.parse(bytes.toString('utf8', 12, 12 + bytes.readUInt32BE(8)))
  return { version: bytes[4] as number, codec: header.codec ?? 'none', digest: header.digest }
}

const shared = suite('compressed and raw stores share one nginx cache')
shared.before(async () => {
  nginx = await startNginx()
})
shared.after(async () => {
  await nginx.stop()
  removeTempDirs()
})

shared('a gzip store uploads raw bytes; brotli and raw stores download them byte-identically', async () => {
  const base = tempDir('cairn-compression-nginx-')
  const data = compressible(300_000)
  const put = await cairn(
    ['put', '--store', join(base, 'a'), '--compression', 'gzip', '--remote', nginx.url, KEY, '-'],
    {
      stdin: data,
    },
  )
  assert.is(put.code, 0, put.stderr)
  assert.not.match(put.stderr, /cairn: remote:/, 'no remote warnings')
  const local = recordOf(join(base, 'a'), KEY)
  assert.equal([local.version, local.codec], [2, 'gzip'])
  await nginx.settle()
  const onServer = readFileSync(join(nginx.root, 'cas', local.digest))
  assert.ok(onServer.equals(data), 'cas/ holds the raw bytes, not the gzip frame')

  const brotli = await cairn(['get', '--store', join(base, 'b'), '--remote', nginx.url, KEY], {
    env: { CAIRN_COMPRESSION: 'brotli' },
  })
  assert.is(brotli.code, 0, brotli.stderr)
  assert.ok(brotli.stdoutBytes.equals(data))
  const kept = recordOf(join(base, 'b'), KEY)
  assert.equal([kept.version, kept.codec], [2, 'brotli'], 'the download is stored with CAIRN_COMPRESSION')

  const raw = await cairn(['get', '--store', join(base, 'c'), '--remote', nginx.url, KEY])
  assert.is(raw.code, 0, raw.stderr)
  assert.ok(raw.stdoutBytes.equals(data))
  assert.equal(recordOf(join(base, 'c'), KEY).codec, 'none')
})

shared('cairn run --compression gzip on one machine is a hit on a raw machine, byte-identical', async () => {
  const base = tempDir('cairn-compression-nginx-')
  const a = makeProject(join(base, 'a'))
  const b = copyProject(a, join(base, 'b'))
  const first = await cairn(
    buildStepArgs(join(base, 'store-a'), ['--compression', 'gzip', '--remote', nginx.url]),
    {
      cwd: a,
    },
  )
  expectOutcome(first, 'miss')
  assert.not.match(first.stderr, /cairn: remote:/, 'no remote warnings')
  const second = await cairn(buildStepArgs(join(base, 'store-b')), {
    cwd: b,
    env: { CAIRN_REMOTE: nginx.url },
  })
  expectOutcome(second, 'hit')
  assert.is(runCount(join(b, 'runs.log')), 0, 'the command did not run on the second machine')
  assert.equal(snapshot(b, BUILD_OUTPUTS), snapshot(a, BUILD_OUTPUTS), 'paths, types, modes, bytes and links')
})

shared.run()

// `cairn run` on one machine is a hit on another: two checkouts and two stores ("machines")
// share one nginx WebDAV cache through `--remote` / CAIRN_REMOTE, and `cairn stats` counts it.
// `cairn put` uploads to it, and `cairn get` and `cairn has` read from it.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  BUILD_OUTPUTS,
  buildStepArgs,
  type CliResult,
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

/** `cairn run` of the fake build step in `project` with `store`; `remote` as flags or env. */
function run(
  project: string,
  store: string,
  remote: { flags?: string[]; env?: Record<string, string> },
): Promise<CliResult> {
  return cairn(buildStepArgs(store, remote.flags), { cwd: project, env: remote.env ?? {} })
}

const machines = suite('cairn run with a remote cache')
machines.before(async () => {
  nginx = await startNginx()
})
machines.after(async () => {
  await nginx.stop()
  removeTempDirs()
})

machines('a cairn run on one machine is a hit on the other, byte-identical', async () => {
  const base = tempDir('cairn-remote-cli-')
  const a = makeProject(join(base, 'a'))
  const b = copyProject(a, join(base, 'b'))
  const first = await run(a, join(base, 'store-a'), { flags: ['--remote', nginx.url] })
  expectOutcome(first, 'miss')
  // nginx logs a request just after answering it: the client may have exited before that.
  await nginx.settle()
  assert.ok(
    nginx.requests().some((line) => line.startsWith('PUT /cache/ac/')),
    'uploaded before exit',
  )

  const second = await run(b, join(base, 'store-b'), { env: { CAIRN_REMOTE: nginx.url } })
  expectOutcome(second, 'hit')
  assert.is(runCount(join(b, 'runs.log')), 0, 'the command did not run on the second machine')
  assert.is(second.stdout, first.stdout, 'stdout is replayed')
  assert.equal(snapshot(b, BUILD_OUTPUTS), snapshot(a, BUILD_OUTPUTS), 'paths, types, modes, bytes and links')
  assert.not.match(second.stderr, /cairn: remote:/, 'no remote warnings')

  const stats = await cairn(['stats', '--store', join(base, 'store-b'), '--json'])
  const remote = JSON.parse(stats.stdout).remote
  assert.ok(remote.hits >= 1 && remote.bytesDown > 64 * 1024, stats.stdout)
  assert.is(remote.errors, 0)
})

machines('an unreachable remote costs one warning line, and one more when the breaker opens', async () => {
  const base = tempDir('cairn-remote-cli-')
  const project = makeProject(join(base, 'p'))
  const result = await run(project, join(base, 'store'), { flags: ['--remote', 'http://127.0.0.1:9/cache'] })
  expectOutcome(result, 'miss')
  assert.is(runCount(join(project, 'runs.log')), 1)
  const warnings = result.stderr.split('\n').filter((line) => line.startsWith('cairn: remote:'))
  // The failed lookup says so once; the failed uploads that follow (one per stored file) are the
  // same kind of failure, so they only open the circuit breaker, which says so once.
  assert.is(warnings.filter((line) => line.includes('failed:')).length, 1, result.stderr)
  assert.ok(warnings.length <= 2, result.stderr)
})

machines('credentials from --remote-header are sent and never printed', async () => {
  const base = tempDir('cairn-remote-cli-')
  const project = makeProject(join(base, 'p'))
  const result = await run(project, join(base, 'store'), {
    flags: ['--remote', 'http://127.0.0.1:9/cache', '--remote-header', 'Authorization: Bearer s3cret-t0ken'],
  })
  assert.is(result.code, 0)
  assert.not.match(result.stderr + result.stdout, 's3cret-t0ken')
})

/** An entry's bytes, large enough to be a content file rather than inline in its record. */
function entryBytes(): Buffer {
  const data = Buffer.alloc(200_000)
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 17) & 0xff
  return data
}

/** `cairn put` of `data` under `key` into `store` with CAIRN_REMOTE set. */
function putRemote(store: string, key: string, data: Buffer): Promise<CliResult> {
  return cairn(['put', '--store', store, key, '-'], { env: { CAIRN_REMOTE: nginx.url }, stdin: data })
}

machines('cairn put with CAIRN_REMOTE uploads before it exits, and cairn stats counts it', async () => {
  const base = tempDir('cairn-remote-cli-')
  const key = '0123456789abcdef0123456789abcdef'
  const put = await putRemote(join(base, 'a'), key, entryBytes())
  assert.is(put.code, 0, put.stderr)
  assert.not.match(put.stderr, /cairn: remote:/, 'no remote warnings')
  await nginx.settle()
  assert.ok(nginx.requests().includes(`PUT /cache/ac/${key} 201`), nginx.requests().join('\n'))
  const stats = await cairn(['stats', '--store', join(base, 'a'), '--json'])
  const remote = JSON.parse(stats.stdout).remote
  assert.is(remote.uploads, 1, `the upload is counted for cairn stats: ${stats.stdout}`)
  assert.ok(remote.bytesUp >= 200_000, stats.stdout)
})

machines('cairn get and has with --remote or CAIRN_REMOTE read what another machine put', async () => {
  const base = tempDir('cairn-remote-cli-')
  const key = '00112233445566778899aabbccddeeff'
  const data = entryBytes()
  assert.is((await putRemote(join(base, 'a'), key, data)).code, 0)

  // Machines with no store yet: without the remote a miss, with it a hit.
  assert.is((await cairn(['has', '--store', join(base, 'b'), key])).code, 1)
  assert.is((await cairn(['has', '--store', join(base, 'b'), '--remote', nginx.url, key])).code, 0)
  assert.is((await cairn(['has', '--store', join(base, 'b'), key])).code, 0, 'has kept the entry locally')
  const other = 'ffffeeeeddddccccbbbbaaaa99998888'
  assert.is((await cairn(['has', '--store', join(base, 'b'), '--remote', nginx.url, other])).code, 1)

  assert.is((await cairn(['get', '--store', join(base, 'c'), key])).code, 1)
  const got = await cairn(['get', '--store', join(base, 'c'), key], { env: { CAIRN_REMOTE: nginx.url } })
  assert.is(got.code, 0, got.stderr)
  assert.ok(got.stdoutBytes.equals(data), 'get writes the remote entry, byte-identical')
  const copy = join(base, 'copy.bin')
  const toFile = await cairn(['get', '--store', join(base, 'd'), '--remote', nginx.url, key, '-o', copy])
  assert.is(toFile.code, 0, toFile.stderr)
  assert.ok(readFileSync(copy).equals(data))
  const stats = await cairn(['stats', '--store', join(base, 'c'), '--json'])
  assert.is(JSON.parse(stats.stdout).remote.hits, 1, `the remote hit is counted: ${stats.stdout}`)
  assert.not.match(got.stderr + toFile.stderr, /cairn: remote:/, 'no remote warnings')
})

machines.run()

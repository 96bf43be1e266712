// Issue 13, item 2 end to end: `cairn put` with a remote, in a store where a co-user made
// remote-stats.jsonl a FIFO or a symlink to the victim's shell rc file. The command must
// finish (the old one hung forever on the FIFO), leave the target alone, and say so once.

import { execFileSync, spawn } from 'node:child_process'
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CAIRN_BIN } from './fixtures/cli-harness.js'
import { type Nginx, startNginx } from './helpers/nginx.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

let nginx: Nginx

interface Outcome {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/** `cairn put --store <store> <key> -` with the remote on; killed if not done within 60 s. */
function putWithRemote(store: string, key: string, remote = true): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('CAIRN_')) env[name] = value
  if (remote) env.CAIRN_REMOTE = nginx.url
  const child = spawn(process.execPath, [CAIRN_BIN, 'put', '--store', store, key, '-'], {
    env,
    stdio: ['pipe', 'ignore', 'pipe'],
  })
  child.stdin.end(`data of ${key}`)
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, stderr })
    }),
  )
}

/** A store that exists (created by a put without remote), so its stats file can be prepared. */
async function existingStore(): Promise<string> {
  const store = join(tempDir('cairn-stats-cli-'), 'store')
  const made = await putWithRemote(store, 'a0'.repeat(16), false)
  assert.is(made.code, 0, made.stderr)
  return store
}

const cli = suite('cairn put --remote with a hostile remote-stats.jsonl')
cli.before(async () => {
  nginx = await startNginx()
})
cli.after(async () => {
  await nginx.stop()
  removeTempDirs()
})

cli('a FIFO there: the command finishes, uploads, and warns once', async () => {
  const store = await existingStore()
  execFileSync('mkfifo', [join(store, 'remote-stats.jsonl')])
  const outcome = await putWithRemote(store, 'b1'.repeat(16))
  assert.is(outcome.signal, null, 'cairn put hung on the FIFO and was killed')
  assert.is(outcome.code, 0, outcome.stderr)
  assert.is(outcome.stderr.match(/not a regular file/g)?.length, 1, outcome.stderr)
  assert.ok(nginx.requests().some((line) => line.startsWith(`PUT /cache/ac/${'b1'.repeat(16)}`)))
})

cli('a symlink there: the target (a shell rc file) is left as it was', async () => {
  const store = await existingStore()
  const bashrc = join(tempDir('cairn-home-'), '.bashrc')
  writeFileSync(bashrc, 'alias ls="ls -F"\n')
  symlinkSync(bashrc, join(store, 'remote-stats.jsonl'))
  const outcome = await putWithRemote(store, 'c2'.repeat(16))
  assert.is(outcome.code, 0, outcome.stderr)
  assert.is(readFileSync(bashrc, 'utf8'), 'alias ls="ls -F"\n')
  assert.match(outcome.stderr, 'not a regular file')
})

cli.run()

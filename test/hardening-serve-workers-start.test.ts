// `cairn serve --workers N` when a worker cannot start (review of issue #15, finding 2): the port
// is taken, or a TLS file is missing. The primary must exit 1 with the error, not wait forever
// for workers that print it and stay alive on their IPC channel.

import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, tempDir } from './helpers/processes.js'
import { CAIRN_BIN } from './helpers/serve.js'

/** Runs `cairn serve …`; a process still running after 60 s is killed (a hang: the bug). */
function serveExit(args: string[]): Promise<{ code: number | null; stderr: string; hung: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, 'serve', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    let hung = false
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const bound = setTimeout(() => {
      hung = true
      // Its workers exit with it: a cluster worker exits when its channel to the primary closes.
      child.kill('SIGKILL')
    }, 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(bound)
      resolve({ code, stderr, hung })
    })
  })
}

const start = suite('cairn serve --workers: a worker that cannot start')

start.after(removeTempDirs)

start('a port in use: the primary exits 1 with the error', async () => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  const port = (blocker.address() as { port: number }).port
  try {
    const store = join(tempDir('cairn-serve-start-'), 'store')
    const result = await serveExit(['--store', store, '--port', String(port), '--workers', '2', '--quiet'])
    assert.not.ok(result.hung, 'cairn serve hung')
    assert.is(result.code, 1)
    assert.match(result.stderr, 'EADDRINUSE')
  } finally {
    blocker.close()
  }
})

start('a missing TLS file: one error before any worker starts', async () => {
  const dir = tempDir('cairn-serve-start-')
  const result = await serveExit([
    '--store',
    join(dir, 'store'),
    '--port',
    '0',
    '--workers',
    '2',
    '--tls-cert',
    join(dir, 'missing-cert.pem'),
    '--tls-key',
    join(dir, 'missing-key.pem'),
  ])
  assert.not.ok(result.hung, 'cairn serve hung')
  assert.is(result.code, 1)
  assert.match(result.stderr, 'missing-cert.pem')
  assert.not.match(result.stderr, 'worker')
})

start.run()

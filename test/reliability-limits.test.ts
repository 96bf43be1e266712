// Reliability scenarios 3 and 4 (docs/RELIABILITY.md): out of file descriptors, and a store the
// user may read but not write.

import { spawn } from 'node:child_process'
import { chmodSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { fixture, removeTempDirs, tempDir } from './helpers/processes.js'

function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const limits = suite('hostile limits')
limits.after(removeTempDirs)

limits(
  '1,000 concurrent puts and gets under ulimit -n 64 all succeed (graceful-fs queues on EMFILE)',
  async () => {
    const dir = tempDir()
    const count = 1000
    const result = await run('bash', [
      '-c',
      `ulimit -n 64 && exec "${process.execPath}" "${fixture('many-at-once')}" "${dir}" ${count}`,
    ])
    assert.is(result.code, 0, result.stderr)
    const counts = JSON.parse(result.stdout)
    console.log(`    ulimit -n 64: ${JSON.stringify(counts)}`)
    assert.is(counts.putErrors, 0, counts.firstError)
    assert.is(counts.getErrors, 0, counts.firstError)
    assert.is(counts.puts, count)
    assert.is(counts.hits, count)
    assert.is(counts.wrong, 0)
    assert.equal(readdirSync(join(dir, 'tmp')), [])
  },
)

limits(
  'a read-only store: an unprivileged user still hits, and puts fail with a clear CairnError',
  async () => {
    const isRoot = process.getuid?.() === 0
    const dir = tempDir()
    const store = await openStore(dir)
    const key = 'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb'
    await store.put(key, Buffer.alloc(20_000, 7))
    // Readable and searchable by everyone, writable by nobody but the owner.
    chmodSync(dir, 0o755)
    let command = process.execPath
    let args = [fixture('read-only-user'), dir, key, '20000']
    if (isRoot) {
      // Root ignores file modes, so the child runs as `nobody`.
      command = 'setpriv'
      args = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, ...args]
    } else {
      for (const sub of ['entries', 'content', 'tmp']) chmodSync(join(dir, sub), 0o555)
    }
    const result = await run(command, args)
    assert.is(result.code, 0, result.stderr)
    const seen = JSON.parse(result.stdout)
    console.log(
      `    read-only store as uid ${seen.uid}: hit ${seen.hitSize} bytes; put: ${seen.put?.code} (${seen.put?.causeCode})`,
    )
    assert.is(seen.openError, undefined)
    assert.is(seen.hitSize, 20_000)
    assert.is(seen.hitSyncSize, 20_000)
    assert.is(seen.put.name, 'CairnError')
    assert.is(seen.put.code, 'ERR_CAIRN_IO')
    assert.ok(['EACCES', 'EPERM', 'EROFS'].includes(seen.put.causeCode), seen.put.causeCode)
    assert.match(seen.put.message, 'permission denied')
    assert.is(seen.putSync.code, 'ERR_CAIRN_IO')
    assert.equal(readdirSync(join(dir, 'tmp')), [], 'nothing half-written')
    if (!isRoot) for (const sub of ['entries', 'content', 'tmp']) chmodSync(join(dir, sub), 0o755)
  },
)

limits.run()

// Every count cairn prints agrees with its noun: "1 file", "2 files" (issue #13, the project
// brief's gap "stored 1 files"). The bundled CLI on a temp project and store.

import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cairn, expectOutcome, makeProject } from './fixtures/cli-harness.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'

const counts = suite('cairn output: singular for one')
counts.after(removeTempDirs)

counts('cairn run stores and restores "1 file"', async () => {
  const base = tempDir('cairn-cli-counts-')
  const project = makeProject(join(base, 'checkout'))
  const store = join(base, 'store')
  const step = [
    'run',
    '--store',
    store,
    '--allow-empty',
    '--outputs',
    'out.txt',
    '--',
    process.execPath,
    '-e',
    "require('fs').writeFileSync('out.txt', 'one')",
  ]
  const miss = await cairn(step, { cwd: project })
  expectOutcome(miss, 'miss')
  assert.match(miss.stderr, /^cairn: miss [0-9a-f]{8} \(stored 1 file, /m)
  const hit = await cairn(step, { cwd: project })
  expectOutcome(hit, 'hit')
  assert.match(hit.stderr, /^cairn: hit [0-9a-f]{8} \(restored 1 file, /m)
  const verified = await cairn([...step.slice(0, 3), '--verify', ...step.slice(3)], { cwd: project })
  assert.match(verified.stderr, /the outputs match the cached ones \(1 file\)$/m)
})

counts('cairn put says "1 byte", cairn verify "1 entry"', async () => {
  const base = tempDir('cairn-cli-counts-')
  const store = join(base, 'store')
  const put = await cairn(['put', '--store', store, KEY, '-'], { cwd: base, stdin: 'x' })
  assert.is(put.stderr, `cairn: stored ${KEY} (1 byte)\n`)
  const verify = await cairn(['verify', '--store', store], { cwd: base })
  assert.is(verify.code, 0, verify.stderr)
  assert.match(verify.stdout, /^checked 1 entry and 0 content files \(/m)
})

counts.run()

// Issue 13, item 3, as a real race: another process (the hostile co-user) swaps the content file
// for a symlink to a secret and back, as fast as it can, while materialize runs in a loop. Every
// hit must have written the entry's own bytes as a regular file; the secret must never leak.
// hardening-data-swap.test.ts makes the same swap deterministically, right after the check.

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { lstatSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const contentPath = (dir: string, digest: string) => join(dir, 'content', digest.slice(0, 2), digest)

// Swaps `content` for a symlink to `secret`, then back to the real file (kept as a hard link at
// `real`), each by an atomic rename; prints a dot per round.
const SWAP = `
const { linkSync, renameSync, symlinkSync, unlinkSync, writeSync } = require('node:fs')
const [content, secret, real] = process.argv.slice(1)
const planted = content + '.planted'
for (;;) {
  try { unlinkSync(planted) } catch {}
  try { symlinkSync(secret, planted); renameSync(planted, content) } catch {}
  try { unlinkSync(planted) } catch {}
  try { linkSync(real, planted); renameSync(planted, content) } catch {}
  writeSync(1, '.')
}
`

const race = suite('materialize beside a process swapping the content for a symlink')
race.after(removeTempDirs)

for (const mode of ['copy', 'link'] as const) {
  race(`${mode} mode: every hit wrote the entry's bytes as a regular file`, async () => {
    const dir = tempDir()
    const outside = tempDir('cairn-outside-')
    const store = await openStore(dir)
    const data = randomBytes(200_000)
    const key = randomKey()
    const { digest } = await store.put(key, data)
    const secret = join(outside, 'secret')
    writeFileSync(secret, randomBytes(data.length))
    const real = join(outside, 'real')
    writeFileSync(real, data)
    const child = spawn(process.execPath, ['-e', SWAP, contentPath(dir, digest), secret, real], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let swaps = 0
    child.stdout.on('data', (chunk: Buffer) => {
      swaps += chunk.length
    })
    let exited = false
    child.on('exit', () => {
      exited = true
    })
    const dest = join(outside, 'out')
    let hits = 0
    let misses = 0
    try {
      while (hits < 300 || swaps < 300) {
        if (exited) assert.unreachable('the swapping process exited')
        if (hits + misses > 50_000) assert.unreachable(`only ${hits} hits in ${hits + misses} attempts`)
        if (await store.materialize(key, dest, { mode })) {
          hits += 1
          assert.ok(lstatSync(dest).isFile(), `hit ${hits}: dest is a regular file`)
          assert.ok(readFileSync(dest).equals(data), `hit ${hits}: dest holds the entry's bytes`)
        } else {
          misses += 1
          // A reader that meets the symlink removes the entry as corrupt: put it back.
          if (!(await store.has(key))) await store.put(key, data)
        }
      }
    } finally {
      child.kill()
    }
    console.log(`    ${hits} hits and ${misses} misses during ${swaps} swaps`)
  })
}

race.run()

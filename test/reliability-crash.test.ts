// Reliability scenario 1 (docs/RELIABILITY.md): a writer killed with SIGKILL at random moments,
// 100 times. After every kill, each entry the store returns holds exactly the bytes written for
// its key, and the store stays usable. The kill timings come from a seed, printed so that a
// failure can be replayed: CAIRN_CRASH_SEED=<seed> node scripts/test.mjs reliability-crash

import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { prune } from '@cairn/gc'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { crashBytes, crashKey } from './fixtures/crash-workload.js'
import { xorshift } from './fixtures/workload.js'
import { clockPast } from './helpers/clock.js'
import { fixture, removeTempDirs, tempDir } from './helpers/processes.js'

const KILLS = 100
const seed = Number(process.env.CAIRN_CRASH_SEED ?? Date.now() % 1_000_000)

/** Starts the writer, waits until it is writing, lets it run `ms`, then SIGKILLs it. */
function killWriterAfter(dir: string, first: number, ms: number, childSeed: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture('crash-writer'), dir, String(first), String(childSeed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), ms))
    child.on('error', reject)
    child.on('close', (_code, signal) => {
      if (signal === 'SIGKILL') resolve()
      else reject(new Error(`the writer exited on its own (${signal ?? _code}): ${stderr}`))
    })
  })
}

const crash = suite('a writer killed at random moments')
crash.after(removeTempDirs)

crash(
  `${KILLS} SIGKILLs mid-write: every hit holds exactly its bytes; only debris remains (seed ${seed})`,
  async () => {
    console.log(`    crash seed ${seed} (replay with CAIRN_CRASH_SEED=${seed})`)
    const random = xorshift(seed)
    const dir = tempDir()
    await openStore(dir)
    const written = 200
    let checkedHits = 0
    let debris = 0
    for (let kill = 0; kill < KILLS; kill++) {
      const first = Math.floor(random() * written)
      await killWriterAfter(dir, first, Math.floor(random() * 40), Math.floor(random() * 1e9))
      const store = await openStore(dir)
      for (let index = 0; index < written + 100; index++) {
        const entry = store.getSync(crashKey(index))
        if (entry) {
          assert.ok(entry.data.equals(crashBytes(index)), `entry ${index} after kill ${kill}`)
          checkedHits += 1
        }
      }
      assert.is(store.stats().corrupt, 0, `no torn entry became visible after kill ${kill}`)
      debris = readdirSync(join(dir, 'tmp')).length
    }
    // Debris is all a crash leaves, and a prune with no grace clears it without touching an entry.
    const before = await openStore(dir)
    let entriesBefore = 0
    for await (const _ of before.entries()) entriesBefore += 1
    // A zero grace still keeps files modified at or after the scan's start (the writers' side of the
    // content handshake), so let the clock move past the last write first.
    await clockPast(dir)
    const report = await prune(dir, { maxAge: 365 * 24 * 3600_000, tempGrace: 0 })
    assert.is(report.temp.removed, debris, 'the prune removed every temp file the kills left')
    assert.equal(readdirSync(join(dir, 'tmp')), [], 'no debris remains after the prune')
    assert.is(report.removed.entries, 0, 'no entry was removed')
    assert.is(report.kept.entries, entriesBefore)
    // The store is still usable after all that.
    const store = await openStore(dir)
    for (let index = 0; index < written + 100; index++) {
      const entry = store.getSync(crashKey(index))
      if (entry) assert.ok(entry.data.equals(crashBytes(index)), `entry ${index} after the prune`)
    }
    const key = crashKey(1_000_000)
    assert.ok((await store.put(key, crashBytes(7))).published)
    assert.ok((await store.get(key))?.data.equals(crashBytes(7)))
    console.log(
      `    ${KILLS} kills, ${checkedHits} hits checked, 0 wrong, ${debris} temp files of debris, all removed by prune({ tempGrace: 0 })`,
    )
  },
)

crash.run()

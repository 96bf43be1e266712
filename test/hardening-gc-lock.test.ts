// Issue 13, item 9: two collectors must never hold gc.lock at once. Taking over a stale lock
// used to check the inode of the file it moved aside, and ext4 gives a fresh lock the inode just
// freed, so a second collector took the first one's fresh lock for the stale one (20 of 20
// trials). And a holder in another pid namespace on the same hostname must not be judged dead.

import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { prune } from '@cairn/gc'
import { currentPidSpace } from '@cairn/gc/protocol'
import { Layout, openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { fixture, removeTempDirs, runNode, tempDir } from './helpers/processes.js'

const TRIALS = 20
const RACERS = 6
/** A pid no process has here (above the default pid_max of 2^22). */
const DEAD_PID = 2 ** 22 + 12_345

const lock = suite('gc.lock: one holder at a time')
lock.after(removeTempDirs)

/** Polls `ready` (without blocking the event loop, so the children's output is collected). */
async function waitUntil(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 2))
}

lock(
  `${RACERS} collectors race to take over a stale lock: never two holders (${TRIALS} trials)`,
  async () => {
    const base = tempDir('cairn-lock-race-')
    const stale = {
      pid: DEAD_PID,
      hostname: hostname(),
      pidSpace: currentPidSpace(),
      startedAt: Date.now(),
      token: 'dead',
    }
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = join(base, String(trial))
      await openStore(dir)
      writeFileSync(new Layout(dir).gcLock, JSON.stringify(stale))
    }
    // The same racers run every trial (starting Node once each), in step: each trial starts when
    // all of them wait for its `go` file.
    const racers = Array.from({ length: RACERS }, (_, i) =>
      runNode(fixture('lock-racer'), [base, String(TRIALS), String(i), String(RACERS)]),
    )
    let exited = false
    void Promise.all(racers).then(() => {
      exited = true
    })
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = join(base, String(trial))
      await waitUntil(
        () => exited || readdirSync(dir).filter((name) => name.startsWith('ready-')).length === RACERS,
      )
      writeFileSync(join(dir, 'go'), '')
    }
    const results = await Promise.all(racers)
    const byTrial = results.map((r) => r.stdout.trim().split(' '))
    for (const [i, r] of results.entries()) assert.is(r.code, 0, `racer ${i}: ${r.stderr.slice(0, 500)}`)
    for (let trial = 0; trial < TRIALS; trial++) {
      const outcomes = byTrial.map((racer) => racer[trial])
      assert.not.ok(
        outcomes.includes('double'),
        `trial ${trial}: two collectors held the lock at once: ${outcomes}`,
      )
      assert.ok(outcomes.includes('held'), `trial ${trial}: the stale lock was taken over: ${outcomes}`)
      assert.not.ok(
        existsSync(new Layout(join(base, String(trial))).gcLock),
        'every holder released the lock',
      )
    }
  },
)

lock('a lock whose pid is dead here but was taken in another pid namespace is not stale', async () => {
  const dir = tempDir('cairn-lock-ns-')
  const store = await openStore(dir)
  store.putSync('ab'.repeat(16), Buffer.alloc(100, 1))
  const layout = new Layout(dir)
  // A GC in a container on this hostname: its pid means nothing in this pid space.
  const container = {
    pid: DEAD_PID,
    hostname: hostname(),
    pidSpace: 'another-boot:4026532000',
    startedAt: Date.now(),
    token: 'c',
  }
  writeFileSync(layout.gcLock, JSON.stringify(container))
  const report = await prune(dir, { maxEntries: 0 })
  assert.is(report.reason, 'busy', 'judged by pid alone it looked dead')
  assert.ok(store.hasSync('ab'.repeat(16)))
  // A lock from an older version, without a pid space: only its age can make it stale.
  const { pidSpace: _, ...older } = container
  writeFileSync(layout.gcLock, JSON.stringify(older))
  assert.is((await prune(dir, { maxEntries: 0 })).reason, 'busy')
  // The same dead pid in this very pid space is a crashed GC: taken over.
  writeFileSync(layout.gcLock, JSON.stringify({ ...container, pidSpace: currentPidSpace() }))
  const taken = await prune(dir, { maxEntries: 0 })
  assert.is(taken.skipped, false)
  assert.not.ok(store.hasSync('ab'.repeat(16)))
})

lock.run()

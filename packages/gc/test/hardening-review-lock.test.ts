// Issue 13, review of the hardening, finding F: two GCs could both hold gc.lock. GC A judged a
// lock stale and stalled (over 10 s) before unlinking it; GC B took A's takeover guard for a
// crashed one, took the lock over and made a fresh lock, which A then unlinked by name.

import { readFileSync, writeFileSync } from 'node:fs'
import { acquireLock, type LockOwner, lockContext } from '@cairn/gc/protocol'
import { Layout, openStore } from '@cairn/store'
import { type Protocol, performSync, type Step } from '@cairn/store/protocol'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, tempDir } from './helpers.js'

/** Runs `protocol` until the step it is about to take matches `stop`; returns the rest as a function. */
function runUntil<T>(protocol: Protocol<T>, stop: (step: Step) => boolean): () => T {
  let next = protocol.next()
  const advance = (untilStop: boolean) => {
    while (!next.done && !(untilStop && stop(next.value))) {
      let result: unknown
      try {
        result = performSync(next.value)
      } catch (error) {
        next = protocol.throw(error)
        continue
      }
      next = protocol.next(result)
    }
  }
  advance(true)
  return () => {
    advance(false)
    if (!next.done) throw new Error('unreachable')
    return next.value
  }
}

const stall = suite('review F: a GC that stalls in a takeover never removes a fresh lock')
stall.after(removeTempDirs)

stall('A stalls before removing the stale lock; B takes it over; A then reports busy', async () => {
  const dir = tempDir()
  await openStore(dir)
  const layout = new Layout(dir)
  // A stale lock: a dead pid in this very pid space.
  const probe = lockContext(layout, Date.now(), Date.now())
  const dead: LockOwner = {
    pid: 999_999_999,
    hostname: probe.hostname,
    ...(probe.pidSpace === undefined ? {} : { pidSpace: probe.pidSpace }),
    startedAt: Date.now(),
    token: 'dead',
  }
  writeFileSync(layout.gcLock, `${JSON.stringify(dead)}\n`)
  const a = lockContext(layout, Date.now(), Date.now())
  // A stops right before it acts on the lock's name (unlink before the fix, rename after).
  const finishA = runUntil(
    acquireLock(a),
    (step) =>
      (step.op === 'unlink' && step.path === layout.gcLock) ||
      (step.op === 'rename' && step.from === layout.gcLock),
  )
  // 11 s later on the filesystem's clock: A's takeover guard looks crashed; B takes the lock.
  const later = Date.now() + 11_000
  const b = lockContext(layout, later, later)
  const gotB = runUntil(acquireLock(b), () => false)()
  assert.ok(gotB !== 'busy', 'B takes the lock over')
  const gotA = finishA()
  assert.is(gotA, 'busy', 'A does not take the lock from B')
  const held = JSON.parse(readFileSync(layout.gcLock, 'utf8')) as LockOwner
  assert.is(held.token, b.token, 'the lock is still B’s')
})

stall.run()

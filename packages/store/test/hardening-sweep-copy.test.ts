// Issue 13, item 7: in a copy-mode store (no hard links) the GC's sweep put content a writer
// had just confirmed back with `link`, which such a filesystem refuses: the GC threw, unlinked
// the moved file, and the just-published entry lost its content.

import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { createHasher } from '@cairn/hash'
import { Layout, openStore } from '@cairn/store'
import {
  type Protocol,
  performSync,
  putEntry,
  readEntry,
  removeUnusedContent,
  type Step,
  type StoreContext,
} from '@cairn/store/protocol'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const HOUR = 3_600_000

/** Performs a step as a filesystem without hard links does: every link fails with EPERM. */
function performWithoutLinks(step: Step): unknown {
  if (step.op === 'link') throw Object.assign(new Error(`EPERM: link '${step.to}'`), { code: 'EPERM' })
  return performSync(step)
}

function run<T>(protocol: Protocol<T>): T {
  return runUntil(protocol, () => false)()
}

/** Runs `protocol` until the step it is about to take matches `stop`; returns the rest as a function. */
function runUntil<T>(protocol: Protocol<T>, stop: (step: Step) => boolean): () => T {
  let next = protocol.next()
  const advance = (untilStop: boolean) => {
    while (!next.done && !(untilStop && stop(next.value))) {
      let result: unknown
      try {
        result = performWithoutLinks(next.value)
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

const copyMode = suite('the content handshake in a copy-mode store')
copyMode.after(removeTempDirs)

copyMode('a writer confirms before the GC moves the content: the GC puts it back by copying', async () => {
  const dir = tempDir()
  await openStore(dir)
  const layout = new Layout(dir)
  const ctx: StoreContext = {
    layout,
    hasher: await createHasher(),
    digestLength: 32,
    verify: 'size',
    touchInterval: HOUR,
    durable: false,
    publishMode: 'copy',
    platform: process.platform,
    stats: { hits: 0, misses: 0, puts: 0, published: 0, corrupt: 0 },
  }
  // An orphan the GC's scan saw, old.
  const data = randomBytes(20_000)
  const { digest } = run(putEntry(ctx, randomKey(), { kind: 'buffer', data }, undefined))
  const path = layout.contentPath(digest)
  const old = (Date.now() - 2 * HOUR) / 1000
  utimesSync(path, old, old)
  const seen = statSync(path).mtimeMs
  const cutoff = Date.now() + 1
  const finishGc = runUntil(removeUnusedContent(ctx, digest, seen, cutoff), (step) => step.op === 'rename')
  // A writer reuses the content: its record is published and its touch lands before the move.
  const key = randomKey()
  assert.ok(run(putEntry(ctx, key, { kind: 'buffer', data }, undefined)).published)
  assert.is(finishGc(), 'kept')
  assert.ok(existsSync(path), 'the content is back at its name')
  const read = run(readEntry(ctx, key, 'data'))
  assert.ok(read.found && read.data?.equals(data), 'the new entry reads its bytes')
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

copyMode.run()

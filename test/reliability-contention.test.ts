// Scenario 5 of docs/RELIABILITY.md: 16 processes mix put, get and delete on a small hot key
// space while a GC process prunes the store to a tiny budget every 100 ms. Nothing may fail and
// nothing may read wrong bytes; the worst the GC may cause is a miss.
//
// CI runs it for a few seconds; `pnpm stress` sets CAIRN_STRESS_MS=30000 for the full run.

import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { prune } from '@cairn/gc'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  expectedBytes,
  type GcLoopCounts,
  keyOf,
  MTIME_LAG_MS,
  type WorkerCounts,
} from './fixtures/workload.js'
import { clockPast } from './helpers/clock.js'
import { fixture, removeTempDirs, runNode, tempDir } from './helpers/processes.js'

const WORKERS = 16
const KEYS = 24
const DURATION_MS = Number(process.env.CAIRN_STRESS_MS ?? 4000)

const contention = suite('contention: 16 processes and a GC every 100 ms')
contention.after(removeTempDirs)

contention(
  `${WORKERS} workers and a pruning GC for ${DURATION_MS} ms: no errors, no wrong reads`,
  async () => {
    const dir = tempDir()
    await openStore(dir)
    const started = Date.now()
    // The workers go on until the GC is done, and the GC until it has done what is asserted
    // below: on a busy machine that takes longer than DURATION_MS.
    const stopFile = join(tempDir(), 'stop')
    const workers = Array.from({ length: WORKERS }, (_, i) =>
      runNode(fixture('store-worker'), [
        dir,
        String(DURATION_MS),
        String(5000 + i),
        'mixed',
        String(KEYS),
        stopFile,
      ]),
    )
    // A budget far below the workload's working set, so nearly every prune removes entries and
    // content that some worker is about to read or has just rewritten; a 1.5 s grace sweeps
    // content under the writers too, yet is far longer than any put keeps a temp file on an idle
    // machine (a busy one may stall a put longer: see lostTempFile in fixtures/workload.ts).
    const policy = { maxEntries: 4, maxBytes: 64 * 1024, tempGrace: 1500 }
    const gcResult = await runNode(fixture('gc-loop'), [
      dir,
      String(DURATION_MS),
      JSON.stringify(policy),
      '100',
      JSON.stringify({ prunes: 5, removed: 1 }),
    ])
    writeFileSync(stopFile, '')
    const workerResults = await Promise.all(workers)
    const seconds = (Date.now() - started) / 1000

    assert.ok(gcResult, 'the GC process ran')
    assert.is(gcResult.code, 0, gcResult.stderr)
    const gcCounts = JSON.parse(gcResult.stdout) as GcLoopCounts
    assert.is(gcCounts.errors, 0, gcCounts.firstError)

    const total = { ops: 0, hits: 0, misses: 0, wrong: 0, errors: 0, published: 0, corrupt: 0 }
    const overGraceMs: number[] = []
    for (const result of workerResults) {
      assert.is(result.code, 0, result.stderr)
      const counts = JSON.parse(result.stdout) as WorkerCounts
      assert.is(counts.errors, 0, counts.firstError)
      for (const name of Object.keys(total) as (keyof typeof total)[]) total[name] += counts[name]
      overGraceMs.push(...counts.overGraceMs)
    }
    // A write the machine stalled for longer than the grace may lose its temp file, as tempGrace
    // says; only such writes, and only as many as the GC removed temp files.
    for (const ms of overGraceMs)
      assert.ok(ms >= policy.tempGrace - MTIME_LAG_MS, `a write of ${ms} ms lost its temp file`)
    assert.ok(overGraceMs.length <= gcCounts.tempRemoved, `${overGraceMs.length} writes lost their temp file`)
    console.log(
      `    ${total.ops} ops in ${seconds.toFixed(1)} s (${Math.round(total.ops / seconds)} ops/s), ` +
        `${total.hits} hits, ${total.misses} misses, ${total.wrong} wrong, ${total.errors} errors ` +
        `(${overGraceMs.length} writes outlasted the grace); ` +
        `GC: ${gcCounts.prunes} prunes (${gcCounts.busy} busy), ${gcCounts.removed} entries removed`,
    )
    assert.is(total.wrong, 0)
    assert.is(total.corrupt, 0, 'no entry was ever judged corrupt')
    assert.ok(gcCounts.prunes - gcCounts.busy >= 5, 'the GC completed several prunes')
    assert.ok(gcCounts.removed > 0, 'the GC removed entries while the workers ran')
    assert.ok(total.hits > 100, 'the workload produced hits')

    // Whatever survived is whole and correct, and a final prune leaves nothing behind in tmp/.
    const store = await openStore(dir)
    for (let index = 0; index < KEYS; index++) {
      const entry = await store.get(keyOf(index))
      if (entry) assert.ok(entry.data.equals(expectedBytes(index)), `key ${index}`)
    }
    // A zero grace still keeps files modified at or after the scan's start (the writers' side of the
    // content handshake), so let the clock move past the last write first.
    await clockPast(dir)
    const final = await prune(dir, { maxEntries: 0, tempGrace: 0 })
    assert.is(final.skipped, false)
    assert.is(final.kept.entries, 0)
    assert.equal(readdirSync(join(dir, 'tmp')), [], 'no temp files remain')
    const contentLeft = readdirSync(join(dir, 'content')).flatMap((shard) =>
      readdirSync(join(dir, 'content', shard)),
    )
    assert.equal(contentLeft, [], 'no content file outlives the last entry')
  },
)

contention.run()

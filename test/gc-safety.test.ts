import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PruneReport } from '@cairn/gc'
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
import { fixture, removeTempDirs, runNode, tempDir } from './helpers/processes.js'

const CAIRN_GC = fileURLToPath(new URL('../../packages/gc/dist/bin.js', import.meta.url))

const safety = suite('GC beside running builds')
safety.after(removeTempDirs)

const WORKERS = 4
const DURATION_MS = 3000
/**
 * Far above the few ms a write of the workload takes on an idle machine (a busy one may stall a
 * write longer: see lostTempFile in fixtures/workload.ts); see also fixtures/gc-loop.ts.
 */
const TEMP_GRACE_MS = 200

safety(
  `a GC pruning to zero while ${WORKERS} processes read and write: every read is a miss or exact, no errors`,
  async () => {
    const dir = tempDir()
    await openStore(dir)
    // Half run the store's own concurrency workload (inline and shared content, deletes), half
    // put content of their own per key, so the GC keeps sweeping content they publish again.
    // The workers go on until the GC is done, and the GC until it has done what is asserted
    // below: on a busy machine that takes longer than DURATION_MS.
    const stopFile = join(tempDir(), 'stop')
    const workers = Array.from({ length: WORKERS }, (_, i) =>
      runNode(fixture(i % 2 === 0 ? 'gc-worker' : 'store-worker'), [
        dir,
        String(DURATION_MS),
        String(500 + i),
        ...(i % 2 === 0 ? ['200'] : ['mixed', '48']),
        stopFile,
      ]),
    )
    const gcResult = await runNode(fixture('gc-loop'), [
      dir,
      String(DURATION_MS),
      JSON.stringify({ maxEntries: 0, tempGrace: TEMP_GRACE_MS }),
      '0',
      JSON.stringify({ prunes: 3, removed: 51, contentRemoved: 1 }),
    ])
    writeFileSync(stopFile, '')
    const results = await Promise.all(workers)
    assert.ok(gcResult)
    assert.is(gcResult.code, 0, gcResult.stderr)
    const gc = JSON.parse(gcResult.stdout) as GcLoopCounts
    assert.is(gc.errors, 0, gc.firstError)
    const total = { ops: 0, hits: 0, misses: 0, published: 0, wrong: 0, errors: 0 }
    const overGraceMs: number[] = []
    for (const result of results) {
      assert.is(result.code, 0, result.stderr)
      const counts = JSON.parse(result.stdout) as WorkerCounts
      assert.is(counts.errors, 0, counts.firstError)
      for (const name of Object.keys(total) as (keyof typeof total)[]) total[name] += counts[name]
      overGraceMs.push(...counts.overGraceMs)
    }
    // A write the machine stalled for longer than the grace may lose its temp file, as tempGrace
    // says; only such writes, and only as many as the GC removed temp files.
    for (const ms of overGraceMs)
      assert.ok(ms >= TEMP_GRACE_MS - MTIME_LAG_MS, `a write of ${ms} ms lost its temp file`)
    assert.ok(overGraceMs.length <= gc.tempRemoved, `${overGraceMs.length} writes lost their temp file`)
    console.log(
      `    workers: ${JSON.stringify({ ...total, overGrace: overGraceMs.length })}\n    gc: ${JSON.stringify(gc)}`,
    )
    assert.is(total.wrong, 0, 'no read returned wrong bytes')
    assert.ok(total.hits > 100, 'the workers hit entries between prunes')
    assert.ok(gc.prunes >= 3, 'the GC ran several times')
    assert.ok(gc.removed > 50, 'the GC removed entries the workers had written')
    assert.ok(gc.contentRemoved > 0, 'the GC swept content while workers re-published it (the handshake)')
    // Whatever survived is whole and correct, and a final prune empties the store.
    const store = await openStore(dir)
    for (let index = 0; index < 48; index++) {
      const entry = await store.get(keyOf(index))
      if (entry) assert.ok(entry.data.equals(expectedBytes(index)), `key ${index}`)
    }
    const last = await runNode(CAIRN_GC, [dir, '--max-entries', '0', '--temp-grace', '0', '--json'])
    assert.is(last.code, 0, last.stderr)
    assert.is((JSON.parse(last.stdout) as PruneReport).kept.entries, 0)
    const left = readdirSync(join(dir, 'entries')).flatMap((shard) =>
      readdirSync(join(dir, 'entries', shard)),
    )
    assert.equal(left, [])
  },
)

safety('two cairn-gc processes on one store at once both exit 0, and one does the work', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const COUNT = 3000
  for (let i = 0; i < COUNT; i++) store.putSync(keyOf(10_000 + i), expectedBytes(i))
  const args = [dir, '--max-entries', '0', '--temp-grace', '0', '--json']
  const both = await Promise.all([runNode(CAIRN_GC, args), runNode(CAIRN_GC, args)])
  const reports = both.map((result) => {
    assert.is(result.code, 0, result.stderr)
    return JSON.parse(result.stdout) as PruneReport
  })
  console.log(`    reasons: ${reports.map((r) => r.reason ?? 'pruned').join(', ')}`)
  const removed = reports.reduce((sum, report) => sum + report.removed.entries, 0)
  assert.is(removed, COUNT, 'every entry was removed exactly once')
  assert.ok(reports.some((report) => !report.skipped))
  for (let i = 0; i < COUNT; i += 97) assert.is(store.hasSync(keyOf(10_000 + i)), false)
  assert.equal(readdirSync(dir).sort(), [
    'CACHEDIR.TAG',
    'cairn-store.json',
    'content',
    'entries',
    'gc.stamp',
    'tmp',
  ])
})

safety.run()

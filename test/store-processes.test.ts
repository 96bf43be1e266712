import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { expectedBytes, keyOf, type WorkerCounts } from './fixtures/workload.js'
import { fixture, removeTempDirs, runNode, tempDir } from './helpers/processes.js'

const concurrency = suite('many processes on one store')
concurrency.after(removeTempDirs)

const PROCESSES = 8
const DURATION_MS = 3000

for (const api of ['async', 'sync', 'mixed']) {
  concurrency(
    `${PROCESSES} processes (${api} API) put, get and delete one key space: every read is a miss or exact`,
    async () => {
      const dir = tempDir()
      await openStore(dir)
      const seeds = Array.from({ length: PROCESSES }, (_, i) => 1000 + i)
      const results = await Promise.all(
        seeds.map((seed) => runNode(fixture('store-worker'), [dir, String(DURATION_MS), String(seed), api])),
      )
      const total = { ops: 0, hits: 0, misses: 0, wrong: 0, errors: 0, published: 0, corrupt: 0 }
      for (const result of results) {
        assert.is(result.code, 0, result.stderr)
        const counts = JSON.parse(result.stdout) as WorkerCounts
        assert.is(counts.errors, 0, counts.firstError)
        assert.equal(counts.overGraceMs, [], 'no GC runs here, so no write loses its temp file')
        for (const name of Object.keys(total) as (keyof typeof total)[]) total[name] += counts[name]
      }
      console.log(`    ${api}: ${JSON.stringify(total)}`)
      assert.is(total.wrong, 0)
      assert.is(total.errors, 0)
      assert.is(total.corrupt, 0, 'no whole entry was ever judged corrupt')
      assert.ok(total.hits > 100, 'the workload produced hits')
      assert.ok(total.published > 10, 'the workload published entries')
      assert.equal(readdirSync(join(dir, 'tmp')), [], 'no temp files remain')
      // Whatever survived is whole and correct.
      const store = await openStore(dir)
      for (let index = 0; index < 48; index++) {
        const entry = await store.get(keyOf(index))
        if (entry) assert.ok(entry.data.equals(expectedBytes(index)), `key ${index}`)
      }
      assert.is(store.stats().corrupt, 0)
    },
  )
}

concurrency.run()

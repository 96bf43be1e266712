import { appendFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { type RemoteStats, readRemoteStats, recordRemoteStats, remoteStatsPath } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, tempDir } from './helpers.js'

const zero: RemoteStats = {
  hits: 0,
  misses: 0,
  errors: 0,
  bytesDown: 0,
  bytesUp: 0,
  uploads: 0,
  uploadsFailed: 0,
}
const some = (n: number): RemoteStats => ({
  ...zero,
  hits: n,
  misses: 2 * n,
  bytesDown: 1000 * n,
  uploads: 1,
})

const file = suite('remote counters across processes')
file.after(removeTempDirs)

file('counters recorded by several processes add up; a missing file is all zeros', async () => {
  const path = remoteStatsPath(tempDir())
  assert.equal(await readRemoteStats(path), zero)
  await recordRemoteStats(path, some(1))
  await recordRemoteStats(path, some(2))
  assert.equal(await readRemoteStats(path), { ...zero, hits: 3, misses: 6, bytesDown: 3000, uploads: 2 })
})

file('a process that did nothing remote writes nothing', async () => {
  const path = join(tempDir(), 'stats.jsonl')
  await recordRemoteStats(path, zero)
  assert.not.ok(existsSync(path))
})

file('torn and foreign lines are skipped, and concurrent records are all counted', async () => {
  const path = join(tempDir(), 'stats.jsonl')
  appendFileSync(path, '{"hits":5,"mis\nnot json\n{"hits":-3,"uploads":"x"}\n')
  await Promise.all(Array.from({ length: 50 }, () => recordRemoteStats(path, some(1))))
  assert.equal(await readRemoteStats(path), {
    ...zero,
    hits: 50,
    misses: 100,
    bytesDown: 50_000,
    uploads: 50,
  })
})

file.run()

// Issue 18, item 6: a GC keeps runs whole. Eight real `cairn run` runs, aged on disk, a hit on
// the oldest, then a real `cairn gc --max-size 300KB`: every manifest left can be restored,
// `cairn stats` counts exactly those runs, the run just hit is among them, and the empty stderr
// every run shares is still there for them.

import { chmodSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cairn } from './fixtures/cli-harness.js'
import { outcomeOf, runStep, writeFiles } from './fixtures/run-project.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const RUNS = 8
const STEP = 'mkdir -p out && yes "$(cat src/n.txt)" | head -c 60000 > out/data'
const FLAGS = ['--inputs', 'src', '--outputs', 'out']

interface Listed {
  key: string
  metadata: { cairnRun?: number } | null
}

/**
 * Makes an entry look created and last used at `time`: its mtime, and the creation time in its
 * record's header, which a hit reads to skip the last-use check on an entry younger than the
 * touch interval (an entry cannot have been used before it was made). Both times have 13 digits,
 * so the record keeps its length.
 */
function backdate(path: string, time: Date): void {
  const record = readFileSync(path, 'latin1')
  const aged = record.replace(/"time":\d{13}/, `"time":${time.getTime()}`)
  assert.is.not(aged, record, `no creation time found in ${path}`)
  chmodSync(path, 0o644)
  writeFileSync(path, aged, 'latin1')
  chmodSync(path, 0o444)
  utimesSync(path, time, time)
}

const gc = suite('cairn gc: runs live and die whole')
gc.after(removeTempDirs)

gc(
  'after gc --max-size 300KB every remaining run restores, stats counts them, the run hit last stays',
  async () => {
    const base = tempDir('cairn-run-gc-')
    const project = join(base, 'p')
    const store = join(base, 'store')
    writeFiles(project, { 'package.json': '{}' })
    const manifests: string[] = []
    for (let run = 0; run < RUNS; run++) {
      writeFiles(project, { 'src/n.txt': `run ${run}` })
      const miss = await runStep(project, store, FLAGS, STEP)
      assert.is(outcomeOf(miss), 'miss', miss.stderr)
      const listed = JSON.parse((await cairn(['ls', '--store', store, '--json'])).stdout) as Listed[]
      const fresh = listed.filter((entry) => entry.metadata?.cairnRun === 1 && !manifests.includes(entry.key))
      assert.is(fresh.length, 1)
      manifests.push((fresh[0] as Listed).key)
    }
    // Age the store: run i was made and last used i minutes after a day ago (its manifest and
    // every file it names, the shared empty stderr included, as its own hit would have left them).
    const day = Date.now() - 24 * 3600_000
    const entryPath = (key: string) => join(store, 'entries', key.slice(0, 2), key)
    for (let run = 0; run < RUNS; run++) {
      const key = manifests[run] as string
      const manifest = JSON.parse((await cairn(['get', '--store', store, key])).stdout) as {
        entries: { digest?: string }[]
        stdout: { digest: string }
        stderr: { digest: string }
      }
      const time = new Date(day + run * 60_000)
      for (const member of new Set([
        key,
        manifest.stdout.digest,
        manifest.stderr.digest,
        ...manifest.entries.flatMap((entry) => (entry.digest ? [entry.digest] : [])),
      ])) {
        backdate(entryPath(member), time)
      }
    }
    // A hit on the oldest run makes it the newest (it touches the manifest and all its files).
    writeFiles(project, { 'src/n.txt': 'run 0' })
    const hit = await runStep(project, store, FLAGS, STEP)
    assert.is(outcomeOf(hit), 'hit', hit.stderr)

    const pruned = await cairn(['gc', '--store', store, '--max-size', '300KB'])
    assert.is(pruned.code, 0, pruned.stderr)
    const stats = JSON.parse((await cairn(['stats', '--store', store, '--json'])).stdout) as { runs: number }
    const left = (JSON.parse((await cairn(['ls', '--store', store, '--json'])).stdout) as Listed[]).filter(
      (entry) => entry.metadata?.cairnRun === 1,
    )
    assert.ok(stats.runs >= 2 && stats.runs < RUNS, `runs left: ${stats.runs}`)
    assert.is(left.length, stats.runs, 'no manifest is left whose files are gone')
    assert.ok(
      left.some((entry) => entry.key === manifests[0]),
      'the run hit last stays',
    )
    // Each run left is a hit with its bytes; each other one is a plain miss.
    let hits = 0
    for (let run = 0; run < RUNS; run++) {
      writeFiles(project, { 'src/n.txt': `run ${run}` })
      const again = await runStep(project, store, FLAGS, STEP)
      assert.is(again.code, 0, again.stderr)
      const wasKept = left.some((entry) => entry.key === manifests[run])
      assert.is(outcomeOf(again), wasKept ? 'hit' : 'miss', `run ${run}: ${again.stderr}`)
      if (wasKept) hits += 1
      assert.is(readFileSync(join(project, 'out/data'), 'utf8').slice(0, 6), `run ${run}\n`)
    }
    assert.is(hits, stats.runs)
  },
)

gc.run()

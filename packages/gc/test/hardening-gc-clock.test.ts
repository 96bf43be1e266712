// Issue 13, item 10 (cutoffs from the filesystem's clock) and item 16 (crashed remote-stats temp
// files at the store root are the GC's debris, not foreign names).

import {
  existsSync,
  lutimesSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { prune } from '@cairn/gc'
import { Layout, openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { bytesOf, keyOf, removeTempDirs, tempDir } from './helpers.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

const clock = suite('cutoffs come from the filesystem, not from the process clock')
clock.after(removeTempDirs)

clock('with the GC’s clock 60 s ahead, content a writer reuses during the scan survives', async () => {
  const dir = tempDir()
  const realNow = Date.now.bind(Date)
  // The writer's clock is the filesystem's; the GC's process clock runs a minute ahead.
  const store = await openStore(dir, { touchInterval: 0, now: realNow })
  const data = bytesOf(1, 20_000)
  const oldKey = `ab${keyOf(1).slice(2)}`
  const { digest } = store.putSync(oldKey, data)
  const layout = new Layout(dir)
  const hoursAgo = (Date.now() - 2 * HOUR) / 1000
  utimesSync(layout.entryPath(oldKey), hoursAgo, hoursAgo)
  utimesSync(layout.contentPath(digest), hoursAgo, hoursAgo)
  // After the scan has read entries/00 (the first shard) and before it reads content/, a build
  // puts a new key there with the same bytes: the content is reused and confirmed.
  const newKey = `00${keyOf(2).slice(2)}`
  let reused = false
  Date.now = () => realNow() + MINUTE
  let report: Awaited<ReturnType<typeof prune>>
  try {
    report = await prune(dir, {
      maxEntries: 0,
      onProgress: ({ phase }) => {
        if (phase !== 'scan' || reused) return
        reused = true
        assert.ok(store.putSync(newKey, data).published)
      },
    })
  } finally {
    Date.now = realNow
  }
  assert.ok(reused)
  assert.is(report.removed.entries, 1, 'the old entry went')
  assert.ok(existsSync(layout.contentPath(digest)), 'the reused content is still there')
  assert.ok(store.getSync(newKey)?.data.equals(data), 'the new entry reads its bytes')
})

clock.run()

// ---

const stats = suite('remote-stats temp files at the store root')
stats.after(removeTempDirs)

stats('old ones are removed as debris, young ones kept, anything else named alike is foreign', async () => {
  const dir = tempDir()
  await openStore(dir)
  const old = (Date.now() - 2 * HOUR) / 1000
  const file = (name: string, age = old) => {
    writeFileSync(join(dir, name), '{"remote":1}\n')
    utimesSync(join(dir, name), age, age)
  }
  file('remote-stats.jsonl.12345.tmp') // an older version's pid name
  file('remote-stats.jsonl.0f3a9c1d2b.tmp') // today's random name
  file('remote-stats.jsonl.777.tmp', Date.now() / 1000) // being written right now
  file('remote-stats.jsonl.tmp.orig') // not a temp name
  mkdirSync(join(dir, 'remote-stats.jsonl.abc.tmp')) // a directory is never debris
  const outside = join(tempDir('cairn-gc-outside-'), 'precious')
  writeFileSync(outside, 'keep me')
  symlinkSync(outside, join(dir, 'remote-stats.jsonl.beef.tmp')) // removed as a link, never followed
  lutimesSync(join(dir, 'remote-stats.jsonl.beef.tmp'), old, old)
  const report = await prune(dir, { maxEntries: 100 })
  assert.is(report.temp.removed, 3)
  assert.not.ok(existsSync(join(dir, 'remote-stats.jsonl.12345.tmp')))
  assert.not.ok(existsSync(join(dir, 'remote-stats.jsonl.0f3a9c1d2b.tmp')))
  assert.not.ok(existsSync(join(dir, 'remote-stats.jsonl.beef.tmp')))
  assert.is(readFileSync(outside, 'utf8'), 'keep me')
  assert.ok(existsSync(join(dir, 'remote-stats.jsonl.777.tmp')))
  assert.equal(report.foreign.paths.sort(), ['remote-stats.jsonl.abc.tmp', 'remote-stats.jsonl.tmp.orig'])
})

stats.run()

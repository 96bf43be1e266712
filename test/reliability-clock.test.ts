// Scenario 8 of docs/RELIABILITY.md: clock trouble. Entries whose last use (their record's mtime)
// lies in the future, at the epoch or before it must not crash the GC, and are ordered as
// documented: a time in the future counts as "used now", the epoch and anything earlier as the
// oldest possible use.

import { execFileSync } from 'node:child_process'
import { lutimesSync } from 'node:fs'
import { join } from 'node:path'
import { prune } from '@cairn/gc'
import { openStore, type Store } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const DAY = 24 * 3600_000
const clock = suite('clock trouble')
clock.after(removeTempDirs)

const key = (name: string) => Buffer.from(name.padEnd(16, '.')).toString('hex')
const entryPath = (dir: string, k: string) => join(dir, 'entries', k.slice(0, 2), k)

/** Puts `names` (1 KiB and 10 KiB entries, so both inline and content files) and sets their mtimes. */
async function storeWithTimes(times: Record<string, number>): Promise<{ dir: string; store: Store }> {
  const dir = tempDir()
  const store = await openStore(dir, { touchInterval: 0 })
  for (const [index, [name, ms]] of Object.entries(times).entries()) {
    await store.put(key(name), Buffer.alloc(index % 2 === 0 ? 1024 : 10_240, index + 1))
    setMtime(entryPath(dir, key(name)), ms)
  }
  return { dir, store }
}

/**
 * Sets a file's mtime (and atime) without following a symlink. Node turns a negative time into
 * "now", so times before the epoch go through touch(1).
 */
function setMtime(path: string, ms: number): void {
  if (ms >= 0) lutimesSync(path, ms / 1000, ms / 1000)
  else execFileSync('touch', ['-h', '-d', `@${Math.floor(ms / 1000)}`, path])
}

async function survivors(store: Store, names: string[]): Promise<string[]> {
  const alive: string[] = []
  for (const name of names) if (await store.has(key(name))) alive.push(name)
  return alive
}

const now = Date.now()
const times = {
  future: now + 3650 * DAY, // a machine whose clock ran ten years ahead
  recent: now - 1000,
  older: now - 2 * DAY,
  epoch: 0,
  beforeEpoch: -DAY, // ext4 and tmpfs store times before 1970
}
const names = Object.keys(times)

clock('a budget removes the epoch entries first and keeps the future one as just used', async () => {
  const { dir, store } = await storeWithTimes(times)
  const report = await prune(dir, { maxEntries: 3 })
  assert.is(report.skipped, false)
  assert.is(report.removed.entries, 2)
  assert.equal(await survivors(store, names), ['future', 'recent', 'older'])
})

clock('maxAge removes what is older than the age, never an entry from the future', async () => {
  const { dir, store } = await storeWithTimes(times)
  const report = await prune(dir, { maxAge: DAY })
  assert.is(report.removed.entries, 3)
  assert.equal(await survivors(store, names), ['future', 'recent'])
  // The survivors still read correctly: the future mtime did not make their record look corrupt.
  assert.ok((await store.get(key('future')))?.data.equals(Buffer.alloc(1024, 1)))
})

clock('a dry run and a real run agree with times at both ends of the range', async () => {
  const { dir, store } = await storeWithTimes(times)
  const dry = await prune(dir, { maxEntries: 1, dryRun: true })
  assert.equal(await survivors(store, names), names, 'a dry run removes nothing')
  const real = await prune(dir, { maxEntries: 1 })
  assert.equal(real.removed, dry.removed)
  assert.equal(real.kept, dry.kept)
  assert.equal(await survivors(store, names), ['future'])
})

clock.run()

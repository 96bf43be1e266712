// Issue 13, review of the hardening, finding E: remote-stats.jsonl was written outside the
// store's root rule and directory checks. Root created it in another user's store (whose owner
// can swap the store directory for a symlink while root's `cairn get --remote` runs), and in a
// store others can write it was created wherever a swapped store path pointed.

import { chmodSync, chownSync, readdirSync, renameSync, statSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { type RemoteStats, recordRemoteStats, remoteStatsPath } from '@cairn/remote'
import { openStore, Store } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, tempDir } from './helpers.js'

const counters: RemoteStats = {
  hits: 1,
  misses: 2,
  errors: 0,
  bytesDown: 100,
  bytesUp: 0,
  uploads: 1,
  uploadsFailed: 0,
}
const NOBODY = 65534

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid)
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid)
}

const review = suite("review E: remote-stats.jsonl follows the store's root rule and directory checks")
review.after.each(removeTempDirs)

if (process.getuid?.() === 0) {
  review('root in a store another user owns (no opt-in) records no counters there', async () => {
    const dir = join(tempDir(), 'store')
    await openStore(dir)
    chownTree(dir, NOBODY)
    const store = await openStore(dir)
    const lines: string[] = []
    await recordRemoteStats(
      remoteStatsPath(dir),
      counters,
      (line) => lines.push(line),
      Store.fileGuard(store),
    )
    assert.not.ok(readdirSync(dir).includes('remote-stats.jsonl'), 'no file was created')
  })
} else {
  review.skip('(needs root to chown a store to nobody)', () => {})
}

review(
  'a store others can write, its directory swapped for a symlink after opening: nothing written there',
  async () => {
    const parent = tempDir()
    const dir = join(parent, 'store')
    await openStore(dir)
    for (const path of [dir, join(dir, 'entries'), join(dir, 'content'), join(dir, 'tmp')])
      chmodSync(path, 0o777)
    const store = await openStore(dir)
    const outside = tempDir('cairn-outside-')
    renameSync(dir, join(parent, 'store.old'))
    symlinkSync(outside, dir)
    await recordRemoteStats(remoteStatsPath(dir), counters, () => {}, Store.fileGuard(store))
    assert.equal(readdirSync(outside), [], 'nothing was created in the symlink target')
  },
)

review.run()

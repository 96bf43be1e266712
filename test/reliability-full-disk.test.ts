// Reliability scenario 2 (docs/RELIABILITY.md): a full disk. A 4 MiB tmpfs is filled by puts
// until ENOSPC. Needs root to mount; otherwise the test says it did not run, and why.

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { prune } from '@cairn/gc'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { clockPast } from './helpers/clock.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const fullDisk = suite('a full disk')

let mountPoint: string | undefined
let skipReason: string | undefined

fullDisk.before(() => {
  if (process.getuid?.() !== 0) {
    skipReason = 'not root, so no tmpfs could be mounted'
    return
  }
  mountPoint = join(tempDir('cairn-full-'), 'disk')
  mkdirSync(mountPoint)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint])
  } catch (error) {
    skipReason = `mount failed: ${(error as Error).message.split('\n')[0]}`
    mountPoint = undefined
  }
})

fullDisk.after(() => {
  if (mountPoint) execFileSync('umount', [mountPoint])
  removeTempDirs()
})

fullDisk(
  'puts fail with ERR_CAIRN_IO (cause ENOSPC), publish nothing partial, leave no temp file',
  async () => {
    if (!mountPoint) {
      console.log(`    DID NOT RUN: ${skipReason}`)
      return
    }
    const store = await openStore(join(mountPoint, 'store'))
    const written = new Map<string, Buffer>()
    let failure: (Error & { code?: string }) | undefined
    for (let i = 0; i < 200 && !failure; i++) {
      const key = randomBytes(16).toString('hex')
      // Mostly content files, some inline records, so both kinds of write meet the full disk.
      const data = randomBytes(i % 4 === 0 ? 1000 : 150_000)
      try {
        await store.put(key, data)
        written.set(key, data)
      } catch (error) {
        failure = error as Error & { code?: string }
        assert.is(await store.get(key), undefined, 'the failed put published nothing')
      }
    }
    assert.ok(failure, 'the disk filled up')
    assert.is(failure.name, 'CairnError')
    assert.is(failure.code, 'ERR_CAIRN_IO')
    assert.is((failure.cause as { code?: string }).code, 'ENOSPC')
    assert.match(failure.message, 'full')
    assert.equal(readdirSync(join(mountPoint, 'store', 'tmp')), [], 'no temp file remains')
    // A small put may still fit or may fail; either way nothing partial appears.
    for (const [key, data] of written)
      assert.ok((await store.get(key))?.data.equals(data), 'existing entries still read')
    console.log(
      `    ${written.size} puts fit in 4 MiB, then: ${failure.code} (cause ENOSPC); every earlier entry still reads`,
    )
    // A prune frees space (content is young, so only a zero grace lets it go) and puts succeed again.
    const storeDir = join(mountPoint, 'store')
    // A zero grace still keeps files modified at or after the scan's start (the writers' side of the
    // content handshake), so let the clock move past the last write first.
    await clockPast(storeDir)
    const report = await prune(storeDir, { maxBytes: 1_000_000, tempGrace: 0 })
    assert.ok(report.removed.bytes > 1_000_000, `the prune freed ${report.removed.bytes} bytes`)
    const again = randomBytes(150_000)
    const againKey = randomBytes(16).toString('hex')
    assert.ok((await store.put(againKey, again)).published, 'a put succeeds after the prune')
    assert.ok((await store.get(againKey))?.data.equals(again))
    console.log(`    prune freed ${report.removed.bytes} bytes; puts succeed again`)
  },
)

fullDisk.run()

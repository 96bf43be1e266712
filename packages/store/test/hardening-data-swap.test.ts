// Issue 13, item 3: a co-user who can write the store swaps `content/<cd>/<digest>` for a symlink
// (or a hard link) to a file the victim can read, right after materialize checked the content's
// size. materialize must then write the entry's own bytes or miss, never the other file.
//
// The swap is made by a hook on graceful-fs (the store's only door to the disk): it fires right
// after the store's first lstat or fstat that reports the content file, which is the size check
// whichever way the store makes it. The hook must be installed before the store loads, because
// the store wraps graceful-fs's functions when it loads: hence the dynamic import below.

import { randomBytes } from 'node:crypto'
import {
  linkSync,
  lstatSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import gfs from 'graceful-fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

type StatCallback = (error: NodeJS.ErrnoException | null, stats: Stats) => void

/** Runs once, right after a stat call reports the inode `ino`. */
let afterStatOf: { ino: number; action: () => void } | undefined

function observed(callback: StatCallback): StatCallback {
  return (error, stats) => {
    const hook = afterStatOf
    if (!error && hook && stats.ino === hook.ino) {
      afterStatOf = undefined
      hook.action()
    }
    callback(error, stats)
  }
}

const realLstat = gfs.lstat
const realFstat = gfs.fstat
gfs.lstat = ((path: string, callback: StatCallback) =>
  realLstat(path, observed(callback))) as typeof gfs.lstat
gfs.fstat = ((fd: number, callback: StatCallback) => realFstat(fd, observed(callback))) as typeof gfs.fstat

const { openStore } = await import('@cairn/store')

const contentPath = (dir: string, digest: string) => join(dir, 'content', digest.slice(0, 2), digest)

const swaps = suite('materialize with the content file swapped right after its check')
swaps.after(removeTempDirs)

const replacements = {
  'a symlink to a file outside the store': (secret: string, at: string) => symlinkSync(secret, at),
  'a hard link to a file outside the store': (secret: string, at: string) => linkSync(secret, at),
}

for (const mode of ['copy', 'link'] as const) {
  for (const [name, make] of Object.entries(replacements)) {
    swaps(
      `${mode} mode, content swapped for ${name}: the entry's bytes or a miss, never the other file`,
      async () => {
        const dir = tempDir()
        const outside = tempDir('cairn-outside-')
        const store = await openStore(dir)
        const data = randomBytes(100_000)
        const key = randomKey()
        const { digest } = await store.put(key, data)
        // The victim's secret, as large as the content so that no size check by path can tell.
        const secret = join(outside, 'secret')
        const secretBytes = randomBytes(data.length)
        writeFileSync(secret, secretBytes)
        const content = contentPath(dir, digest)
        let swapped = false
        afterStatOf = {
          ino: statSync(content).ino,
          action: () => {
            const planted = `${content}.planted`
            make(secret, planted)
            renameSync(planted, content)
            swapped = true
          },
        }
        const dest = join(outside, 'out')
        const hit = await store.materialize(key, dest, { mode })
        assert.ok(swapped, 'the hook swapped the content file during materialize')
        if (hit) {
          assert.ok(lstatSync(dest).isFile(), 'dest is a regular file, not a symlink')
          assert.ok(readFileSync(dest).equals(data), "dest holds the entry's bytes")
          if (mode === 'link')
            assert.is.not(lstatSync(dest).ino, statSync(secret).ino, 'dest is not the secret')
        }
        assert.ok(readFileSync(secret).equals(secretBytes), 'the secret is untouched')
      },
    )
  }
}

swaps.run()

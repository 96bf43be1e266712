// Issue 13, item 1: in a store other users can write, a co-user who swaps `tmp/` for a symlink
// while the GC runs makes it unlink nothing and write no stamp where the symlink points; the
// swap is reported as foreign. A root GC refuses to prune a store another user owns unless told.

import {
  chmodSync,
  chownSync,
  existsSync,
  readdirSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { gcMain, type Policy, prune } from '@cairn/gc'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { bytesOf, keyOf, rejectsWith, removeTempDirs, tempDir } from './helpers.js'

const OLD_S = Math.floor(Date.now() / 1000) - 86_400
const HOUR = 3_600_000

/** A group-writable store holding one entry, and debris in tmp/ with the given names. */
async function sharedStore(debris: string[]): Promise<string> {
  const dir = tempDir()
  const store = await openStore(dir)
  await store.put(keyOf(1), bytesOf(1, 100))
  for (const path of [dir, join(dir, 'entries'), join(dir, 'content'), join(dir, 'tmp')])
    chmodSync(path, 0o2775)
  for (const name of debris) oldFile(join(dir, 'tmp', name))
  return dir
}

function oldFile(path: string): void {
  writeFileSync(path, 'x')
  utimesSync(path, OLD_S, OLD_S)
}

/** A directory outside the store holding `names`, stamped old so that any change to it shows. */
function outsideDir(names: string[]): string {
  const dir = tempDir('cairn-outside-')
  for (const name of names) oldFile(join(dir, name))
  utimesSync(dir, OLD_S, OLD_S)
  return dir
}

function assertUntouched(dir: string, names: string[]): void {
  assert.equal(readdirSync(dir).sort(), [...names].sort(), 'every file behind the symlink is still there')
  assert.is(statSync(dir).mtimeMs, OLD_S * 1000, 'no name was ever made or removed there')
}

/** What a co-user does: moves the real tmp/ aside and puts a symlink to `target` in its place. */
function swapTmp(dir: string, target: string): void {
  renameSync(join(dir, 'tmp'), join(dir, 'tmp.moved'))
  symlinkSync(target, join(dir, 'tmp'))
}

/** A policy that removes the one entry, and calls `swap` once when the phase `at` reports. */
function swapDuring(at: 'remove' | 'temp', swap: () => void): Policy {
  let done = false
  return {
    maxEntries: 0,
    tempGrace: HOUR,
    onProgress: (progress) => {
      if (done || progress.phase !== at) return
      done = true
      swap()
    },
  }
}

// ---

const swaps = suite('GC in a shared store with tmp/ swapped mid-run')
swaps.after.each(removeTempDirs)

swaps('unlinks no debris name in the symlink target, and reports tmp as foreign', async () => {
  const names = ['victim.conf', '4242-0badcafe-1']
  const dir = await sharedStore(names)
  const outside = outsideDir(names)
  // Between the scan (which listed the real tmp/) and the debris phase.
  const report = await prune(
    dir,
    swapDuring('remove', () => swapTmp(dir, outside)),
  )
  assertUntouched(outside, names)
  assert.is(report.temp.removed, 0)
  assert.is(report.removed.entries, 1, 'the rest of the prune went on')
  assert.ok(report.foreign.paths.includes('tmp'), `tmp is reported foreign: ${report.foreign.paths}`)
})

swaps('writes no stamp through the symlink', async () => {
  const dir = await sharedStore(['4242-0badcafe-1'])
  const outside = outsideDir([])
  // After the debris phase, before the stamp is written.
  const report = await prune(
    dir,
    swapDuring('temp', () => swapTmp(dir, outside)),
  )
  assertUntouched(outside, [])
  assert.not.ok(existsSync(join(dir, 'gc.stamp')), 'no stamp: one more prune next time, nothing worse')
  assert.ok(report.foreign.paths.includes('tmp'))
})

swaps('a shared store is pruned as usual when nothing is swapped', async () => {
  const dir = await sharedStore(['4242-0badcafe-1'])
  const report = await prune(dir, { maxEntries: 0, tempGrace: HOUR })
  assert.is(report.removed.entries, 1)
  assert.is(report.temp.removed, 1)
  assert.is(report.foreign.count, 0)
  assert.ok(existsSync(join(dir, 'gc.stamp')))
})

swaps.run()

// ---

const root = suite('a root GC in a store another user owns')
root.after.each(removeTempDirs)

const NOBODY = 65534

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid)
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid)
}

function sink(): Writable & { text: () => string } {
  let text = ''
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk)
      callback()
    },
  })
  return Object.assign(stream, { text: () => text })
}

if (process.getuid?.() === 0) {
  root('prune refuses with ERR_CAIRN_FOREIGN_OWNER, and prunes with allowForeignOwner', async () => {
    const dir = await sharedStore([])
    chownTree(dir, NOBODY)
    const error = await rejectsWith(() => prune(dir, { maxEntries: 0 }), 'ERR_CAIRN_FOREIGN_OWNER')
    assert.match(error.message, `uid ${NOBODY}`)
    assert.ok(existsSync(join(dir, 'entries', keyOf(1).slice(0, 2), keyOf(1))), 'nothing removed')
    assert.not.ok(existsSync(join(dir, 'gc.lock')))
    const dry = await prune(dir, { maxEntries: 0, dryRun: true })
    assert.is(dry.removed.entries, 1, 'a dry run, which writes nothing, is allowed')
    const report = await prune(dir, { maxEntries: 0 }, { allowForeignOwner: true })
    assert.is(report.removed.entries, 1)
  })

  root('cairn-gc refuses too, and --allow-foreign-owner or CAIRN_ALLOW_FOREIGN_OWNER=1 opt in', async () => {
    const dir = await sharedStore([])
    chownTree(dir, NOBODY)
    const refused = sink()
    assert.is(await gcMain([dir, '--max-entries', '0'], { stdout: sink(), stderr: refused, env: {} }), 1)
    assert.match(refused.text(), 'ERR_CAIRN_FOREIGN_OWNER')
    const env = { CAIRN_ALLOW_FOREIGN_OWNER: '1' }
    assert.is(await gcMain([dir, '--max-entries', '0'], { stdout: sink(), stderr: sink(), env }), 0)
    const flag = ['--max-entries', '0', '--allow-foreign-owner', '--json']
    const out = sink()
    assert.is(await gcMain([dir, ...flag], { stdout: out, stderr: sink(), env: {} }), 0)
    assert.is(JSON.parse(out.text()).skipped, false)
  })
} else {
  root.skip('(needs root to chown a store to nobody)', () => {})
}

root.run()

import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { createHasher } from '@cairn/hash'
import { Layout, openStore } from '@cairn/store'
import {
  type Protocol,
  performSync,
  putEntry,
  removeUnusedContent,
  runSync,
  type Step,
  type StoreContext,
} from '@cairn/store/protocol'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const contentPath = (dir: string, digest: string) => join(dir, 'content', digest.slice(0, 2), digest)
const HOUR = 3_600_000

/**
 * Drives one actor of an interleaving by hand: runs `protocol` until the step it is about to
 * take matches `stop`, and returns a function that runs it to the end.
 */
function runUntil<T>(protocol: Protocol<T>, stop: (step: Step) => boolean): () => T {
  let next = protocol.next()
  const advance = (untilStop: boolean) => {
    while (!next.done && !(untilStop && stop(next.value))) {
      let result: unknown
      try {
        result = performSync(next.value)
      } catch (error) {
        next = protocol.throw(error)
        continue
      }
      next = protocol.next(result)
    }
  }
  advance(true)
  return () => {
    advance(false)
    if (!next.done) throw new Error('unreachable')
    return next.value
  }
}

/** A store with one old content file no entry references, as a GC scan would have seen it. */
async function storeWithOrphan() {
  const dir = tempDir()
  const store = await openStore(dir)
  const data = randomBytes(20_000)
  const key = randomKey()
  const { digest } = await store.put(key, data)
  await store.delete(key)
  const old = (Date.now() - 2 * HOUR) / 1000
  utimesSync(contentPath(dir, digest), old, old)
  const seen = statSync(contentPath(dir, digest)).mtimeMs
  const layout = new Layout(dir)
  const ctx: StoreContext = {
    layout,
    hasher: await createHasher(),
    digestLength: 32,
    verify: 'size',
    touchInterval: HOUR,
    durable: false,
    publishMode: 'link',
    platform: process.platform,
    stats: { hits: 0, misses: 0, puts: 0, published: 0, corrupt: 0 },
  }
  // The GC's cutoff: its scan began after the orphan last changed. (Backdating the mtime above
  // set the ctime to now, and no call can backdate a ctime, so the cutoff is just after it.)
  const cutoff = Date.now() + 1
  const gc = () => removeUnusedContent({ layout }, digest, seen, cutoff)
  const writer = () => putEntry(ctx, randomKey(), { kind: 'buffer', data }, undefined)
  return { dir, store, data, digest, gc, writer }
}

const isContentStep = (digest: string, op: Step['op']) => (step: Step) =>
  step.op === op && 'path' in step && step.path.endsWith(digest)

const sweep = suite('the GC/writer content handshake')
sweep.after(removeTempDirs)

sweep('unused content that did not change since the scan is removed, leaving nothing in tmp/', async () => {
  const { dir, digest, gc } = await storeWithOrphan()
  assert.is(runSync(gc()), 'removed')
  assert.not.ok(existsSync(contentPath(dir, digest)))
  assert.equal(readdirSync(join(dir, 'tmp')), [])
  assert.is(runSync(gc()), 'gone')
})

sweep('content younger than the cutoff, or touched since the scan, is kept', async () => {
  const { dir, digest } = await storeWithOrphan()
  const layout = new Layout(dir)
  const seen = statSync(contentPath(dir, digest)).mtimeMs
  assert.is(runSync(removeUnusedContent({ layout }, digest, seen - 1, Date.now() - HOUR)), 'kept')
  assert.is(runSync(removeUnusedContent({ layout }, digest, seen, seen)), 'kept')
  assert.ok(existsSync(contentPath(dir, digest)))
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

sweep('a confirmation whose mtime went backwards is still seen: its ctime is after the cutoff', async () => {
  // Two writers confirm at once; the slower one writes an older time over the newer one's, and
  // the mtime ends where the GC saw it. The ctime cannot go back, so the GC keeps the content.
  const { dir, digest } = await storeWithOrphan()
  const layout = new Layout(dir)
  const path = contentPath(dir, digest)
  const old = Math.floor(Date.now() / 1000) - 7200 // whole seconds, so writing it back is exact
  utimesSync(path, old, old)
  const seen = statSync(path).mtimeMs
  await new Promise((resolve) => setTimeout(resolve, 5))
  const cutoff = Date.now()
  // The stale confirmation, once the filesystem's clock (coarse: a few ms behind Date.now(), which
  // a fixed 5 ms wait did not always cover) stamps its ctime after the cutoff.
  do {
    await new Promise((resolve) => setTimeout(resolve, 5))
    utimesSync(path, old, old)
  } while (statSync(path).ctimeMs <= cutoff)
  assert.is(statSync(path).mtimeMs, seen)
  assert.is(runSync(removeUnusedContent({ layout }, digest, seen, cutoff)), 'kept')
  assert.ok(existsSync(contentPath(dir, digest)))
})

sweep('writer confirms before the GC moves the content: the GC sees the touch and keeps it', async () => {
  const { dir, store, data, digest, gc, writer } = await storeWithOrphan()
  const finishGc = runUntil(gc(), (step) => step.op === 'rename')
  const put = runSync(writer())
  assert.ok(put.published)
  assert.is(finishGc(), 'kept')
  assert.ok((await store.get(put.key))?.data.equals(data))
  assert.ok(existsSync(contentPath(dir, digest)))
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

sweep('the GC sweeps between the writer’s entry and its confirmation: the writer republishes', async () => {
  const { dir, store, data, digest, gc, writer } = await storeWithOrphan()
  const finishWriter = runUntil(writer(), isContentStep(digest, 'utimes'))
  assert.is(runSync(gc()), 'removed', 'the GC deleted what it saw')
  const put = finishWriter()
  assert.ok(put.published)
  assert.ok((await store.get(put.key))?.data.equals(data), 'the new entry still has its content')
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

sweep('the writer confirms while the content sits in tmp/: both sides agree', async () => {
  const { dir, store, data, digest, gc, writer } = await storeWithOrphan()
  // Stop at the lstat of the moved file, after the rename (the first lstat is the pre-check).
  const finishGc = runUntil(gc(), (step) => step.op === 'lstat' && step.path.includes('/tmp/gc-'))
  const put = runSync(writer())
  assert.ok(put.published)
  assert.is(finishGc(), 'removed', 'the moved copy was stale; the writer published its own')
  assert.ok((await store.get(put.key))?.data.equals(data))
  assert.ok(existsSync(contentPath(dir, digest)))
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

sweep.run()

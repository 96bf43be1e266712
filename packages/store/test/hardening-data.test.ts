// Issue 13, items 5, 6 and 15: wrong data from a reused put buffer, a truncated copy-mode
// materialize, and getStream's descriptor leak. Items 3 (symlink swaps) are in
// hardening-data-swap.test.ts, which must hook graceful-fs before the store loads.

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  closeSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { createHasher } from '@cairn/hash'
import { openStore, type Store, type StoreOptions } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const contentPath = (dir: string, digest: string) => join(dir, 'content', digest.slice(0, 2), digest)

/** A store whose marker says copy mode, as one created where hard links fail would be. */
async function openCopyModeStore(dir: string, options: StoreOptions = {}): Promise<Store> {
  await openStore(dir)
  const marker = join(dir, 'cairn-store.json')
  const fields = JSON.parse(readFileSync(marker, 'utf8'))
  chmodSync(marker, 0o644)
  writeFileSync(marker, `${JSON.stringify({ ...fields, publish: 'copy' })}\n`)
  return openStore(dir, options)
}

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length
}

/** Resolves once `condition` holds, checking after each turn of the event loop; fails after `limitMs`. */
async function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!condition()) {
    if (Date.now() > deadline) assert.unreachable(`still waiting for ${what} after ${limitMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

// ---

const reuse = suite('put of a buffer the caller reuses before the put settles')
reuse.after(removeTempDirs)

for (const [label, size] of [
  ['1 KiB (inline)', 1024],
  ['1 MiB (copied whole)', 1 << 20],
  ['3 MiB (copied a slab at a time)', 3 << 20],
] as const) {
  reuse(
    `${label}: the entry's bytes match its digest, and a later put of the same bytes is served them`,
    async () => {
      const dir = tempDir()
      const store = await openStore(dir)
      const hasher = await createHasher({ algorithm: store.algorithm })
      const original = randomBytes(size)
      const buffer = Buffer.from(original)
      const key = randomKey()
      const pending = store.put(key, buffer)
      buffer.fill(0) // the caller reuses its buffer at once
      const put = await pending
      const stored = await store.get(key)
      assert.ok(stored)
      assert.is(stored.digest, put.digest)
      assert.is(hasher.bytes(stored.data), stored.digest, 'the stored bytes are the ones hashed')
      if (size <= 1 << 20)
        assert.ok(stored.data.equals(original), 'a buffer up to 1 MiB is stored as it was at the call')

      // A correct put of the original bytes deduplicates against the content of its digest.
      const again = randomKey()
      await store.put(again, original)
      assert.ok((await store.get(again))?.data.equals(original), 'a later put is served its own bytes')
    },
  )
}

reuse('a repeated large put writes nothing and reports published: false', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const data = randomBytes(3 << 20)
  const key = randomKey()
  assert.ok((await store.put(key, data)).published)
  const again = await store.put(key, data)
  assert.is(again.published, false)
  assert.is(again.size, data.length)
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

reuse.run()

// ---

const streams = suite('getStream with verify: hash')
streams.after(removeTempDirs)

streams('200 streams destroyed after one chunk leave no descriptor open', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { verify: 'hash' })
  const key = randomKey()
  await store.put(key, randomBytes(4 << 20))
  const before = openDescriptors()
  for (let i = 0; i < 200; i++) {
    const found = await store.getStream(key)
    assert.ok(found)
    await new Promise<void>((resolve) => {
      found.stream.once('data', () => {
        found.stream.once('close', resolve)
        found.stream.destroy()
      })
    })
  }
  // The file streams close their descriptors asynchronously after the destroy.
  await until(() => openDescriptors() <= before + 2, `200 destroyed streams' descriptors to close`)
})

streams('a read error of the content file fails the stream', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { verify: 'hash' })
  const key = randomKey()
  const { digest } = await store.put(key, randomBytes(8 << 20))
  const found = await store.getStream(key)
  assert.ok(found)
  // Close the stream's descriptor under it: its next read fails with EBADF.
  const path = realpathSync(contentPath(dir, digest))
  const fd = readdirSync('/proc/self/fd').find((name) => {
    try {
      return readlinkSync(`/proc/self/fd/${name}`) === path
    } catch {
      return false
    }
  })
  assert.ok(fd, 'the content file is open')
  closeSync(Number(fd))
  let failure: (Error & { code?: string }) | undefined
  let ended = false
  found.stream.on('data', () => {})
  found.stream.on('end', () => {
    ended = true
  })
  found.stream.on('error', (error) => {
    failure = error
  })
  await until(() => failure !== undefined || ended, 'the stream to fail or end')
  assert.not.ok(ended, 'the stream must not end as if the content were whole')
  assert.is(failure?.code, 'EBADF')
})

streams.run()

// ---

const copyMode = suite('copy-mode materialize beside a writer re-creating the content')
copyMode.after(removeTempDirs)

// What a copy-mode writer does when the content file is gone (swept by the GC, or removed as
// corrupt): create it again under its final name, exclusively, and write it there, which readers
// can see half-done. This one writes in chunks (as a slow disk or network filesystem would), and
// leaves the file whole for a moment between rounds, so that reads both hit and race.
const RECREATE = `
const { closeSync, openSync, readFileSync, unlinkSync, writeSync } = require('node:fs')
const [content, source] = process.argv.slice(1)
const data = readFileSync(source)
const pause = new Int32Array(new SharedArrayBuffer(4))
for (;;) {
  try { unlinkSync(content) } catch {}
  let fd
  try { fd = openSync(content, 'wx', 0o444) } catch { continue } // the test's own put got there first
  for (let at = 0; at < data.length; at += 65536) writeSync(fd, data, at, Math.min(65536, data.length - at))
  closeSync(fd)
  writeSync(1, '.')
  Atomics.wait(pause, 0, 0, 2)
}
`

copyMode('every materialize that returns true wrote the whole content', async () => {
  const dir = tempDir()
  const outside = tempDir('cairn-outside-')
  const store = await openCopyModeStore(dir)
  const data = randomBytes(4 << 20)
  const key = randomKey()
  const { digest } = await store.put(key, data)
  const source = join(outside, 'source')
  writeFileSync(source, data)
  const child = spawn(process.execPath, ['-e', RECREATE, contentPath(dir, digest), source], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let recreated = 0
  child.stdout.on('data', (chunk: Buffer) => {
    recreated += chunk.length
  })
  let exited = false
  child.on('exit', () => {
    exited = true
  })
  const dest = join(outside, 'out')
  let hits = 0
  let misses = 0
  try {
    // Enough rounds on both sides for the writer to recreate the file under many reads.
    while (hits < 200 || recreated < 300) {
      if (exited) assert.unreachable('the writer process exited')
      if (hits + misses > 20_000) assert.unreachable(`only ${hits} hits in ${hits + misses} attempts`)
      if (await store.materialize(key, dest)) {
        hits += 1
        const written = readFileSync(dest)
        assert.is(written.length, data.length, `hit ${hits} wrote a truncated file`)
        assert.ok(written.equals(data), `hit ${hits} wrote other bytes`)
      } else {
        misses += 1
        // A miss while the file is half-written may remove the record (a reader's cleanup):
        // put it back so the race goes on.
        if (!(await store.has(key))) await store.put(key, data)
      }
    }
  } finally {
    child.kill()
  }
  console.log(
    `    ${hits} hits and ${misses} misses while the writer re-created the content ${recreated} times`,
  )
})

copyMode.run()

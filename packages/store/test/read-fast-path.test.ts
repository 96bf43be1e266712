// Issue 14, section 1: a hit reads each file in one readWhole step (open, one read of the
// largest possible length plus one byte, close: three system calls, no fstat), and nothing that
// made a hit safe is lost. The protocol is driven step by step against the real disk, so the
// steps a hit takes are counted, and a short read can be injected.

import { appendFileSync, existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createHasher, DIGEST_LENGTH } from '@cairn/hash'
import { Layout, openStore } from '@cairn/store'
import { performSync, readEntry, type Step, type StoreContext } from '@cairn/store/protocol'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const fastRead = suite('read fast path (issue 14)')
fastRead.after(removeTempDirs)

async function contextFor(dir: string): Promise<StoreContext> {
  return {
    layout: new Layout(dir),
    hasher: await createHasher(),
    digestLength: DIGEST_LENGTH.xxh128,
    verify: 'size',
    touchInterval: 3_600_000,
    durable: false,
    publishMode: 'link',
    platform: process.platform,
    stats: { hits: 0, misses: 0, puts: 0, published: 0, corrupt: 0 },
  }
}

/** Runs readEntry against the disk, recording each step; `alter` may change a step's result. */
function drive(ctx: StoreContext, key: string, alter?: (step: Step, result: unknown) => unknown) {
  const ops: string[] = []
  const protocol = readEntry(ctx, key, 'data')
  let next = protocol.next()
  while (!next.done) {
    const step = next.value
    ops.push(step.op)
    let result: unknown
    try {
      result = performSync(step)
      if (alter) result = alter(step, result)
    } catch (error) {
      next = protocol.throw(error)
      continue
    }
    next = protocol.next(result)
  }
  return { ops, outcome: next.value }
}

const entryFile = (dir: string, key: string) => join(dir, 'entries', key.slice(0, 2), key)

fastRead('a small hit is one readWhole step (three system calls) and the clock; no fstat', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const key = randomKey()
  store.putSync(key, Buffer.alloc(1024, 7))
  const { ops, outcome } = drive(await contextFor(dir), key)
  assert.ok(outcome.found)
  assert.equal(ops, ['readWhole', 'now'])
})

fastRead('a hit over 4 KiB reads the record and the content one readWhole each', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const key = randomKey()
  const data = Buffer.alloc(64 * 1024, 9)
  store.putSync(key, data)
  const { ops, outcome } = drive(await contextFor(dir), key)
  assert.ok(outcome.found && outcome.data?.equals(data))
  assert.equal(ops, ['readWhole', 'readWhole', 'now'])
})

fastRead('a miss is one failed readWhole', async () => {
  const dir = tempDir()
  await openStore(dir)
  const { ops, outcome } = drive(await contextFor(dir), randomKey())
  assert.equal(outcome, { found: false, reason: 'absent' })
  assert.equal(ops, ['readWhole'])
})

fastRead('a short read is never judged corrupt: the careful path reads again and hits', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  for (const size of [100, 100_000]) {
    const key = randomKey()
    store.putSync(key, Buffer.alloc(size, 3))
    let cut = 0
    const { ops, outcome } = drive(await contextFor(dir), key, (step, result) =>
      step.op === 'readWhole' && cut++ === 0 ? (result as Buffer).subarray(0, 10) : result,
    )
    assert.ok(outcome.found, `a ${size}-byte entry still hits`)
    assert.is(outcome.data?.length, size)
    assert.ok(ops.includes('fstat'), 'the careful path looked with fstat')
    assert.ok(existsSync(entryFile(dir, key)), 'and removed nothing')
  }
})

fastRead('a record or content one byte too long is a miss, and is removed', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const small = randomKey()
  store.putSync(small, 'small')
  appendFileSync(entryFile(dir, small), 'x')
  assert.is(store.getSync(small), undefined)
  assert.not.ok(existsSync(entryFile(dir, small)), 'the padded record is gone')

  const large = randomKey()
  const put = store.putSync(large, Buffer.alloc(10_000, 1))
  const contentDir = join(dir, 'content', put.digest.slice(0, 2))
  appendFileSync(join(contentDir, put.digest), 'x')
  assert.is(await store.get(large), undefined)
  assert.not.ok(existsSync(entryFile(dir, large)), 'the entry of the padded content is gone')
  assert.not.ok(readdirSync(contentDir).includes(put.digest), 'and so is the padded content')
  assert.is(store.stats().corrupt, 2)
})

fastRead.run()

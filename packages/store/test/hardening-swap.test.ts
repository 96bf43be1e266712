// Issue 13, items 1 and 16: in a store other users can write, a directory swapped for a symlink
// never makes a writer create, link or unlink anything where it points; a root process refuses
// by default to write into a store another user owns; a copy-mode store gets CACHEDIR.TAG.

import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createHasher } from '@cairn/hash'
import { Layout, openStore } from '@cairn/store'
import { assessStore, openOrCreate, type Protocol, performSync, type Step } from '@cairn/store/protocol'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, rejectsWith, removeTempDirs, tempDir } from './helpers.js'

const OLD_S = Math.floor(Date.now() / 1000) - 86_400

/** A store whose directories are group-writable, as a CI cache shared by several users is. */
async function sharedStore(): Promise<string> {
  const dir = tempDir()
  await openStore(dir)
  for (const path of [dir, join(dir, 'entries'), join(dir, 'content'), join(dir, 'tmp')])
    chmodSync(path, 0o2775)
  return dir
}

/** A directory outside the store, stamped old, so that any name made or removed in it shows. */
function outsideDir(): string {
  const dir = tempDir('cairn-outside-')
  utimesSync(dir, OLD_S, OLD_S)
  return dir
}

/** Nothing was ever created, linked or unlinked in `dir` (its mtime changes with any of them). */
function assertUntouched(dir: string, what: string): void {
  assert.equal(readdirSync(dir), [], `${what}: nothing was left in the symlink's target`)
  assert.is(statSync(dir).mtimeMs, OLD_S * 1000, `${what}: no name was ever made or removed there`)
}

/** Replaces the empty directory `path` with a symlink to `target`. */
function swapForSymlink(path: string, target: string): void {
  rmdirSync(path)
  symlinkSync(target, path)
}

const bigData = () => randomBytes(20_000)

// ---

const assess = suite('which stores are guarded')
assess.after.each(removeTempDirs)

assess('a store only its owner can write keeps the fast path; a group-writable one is guarded', async () => {
  const dir = tempDir()
  await openStore(dir)
  assert.is(assessStore(new Layout(dir))?.shared, false, 'private: no extra system call per operation')
  chmodSync(join(dir, 'tmp'), 0o1777)
  assert.is(assessStore(new Layout(dir))?.shared, true, 'a world-writable tmp/, sticky or not, is shared')
  chmodSync(join(dir, 'tmp'), 0o755)
  const parent = tempDir('cairn-parent-')
  chmodSync(parent, 0o777)
  const nested = join(parent, 'store')
  await openStore(nested)
  assert.is(assessStore(new Layout(nested))?.shared, true, 'others can swap the store itself')
  chmodSync(parent, 0o1777)
  assert.is(assessStore(new Layout(nested))?.shared, false, 'the sticky bit stops them, as in /tmp')
})

assess.run()

// ---

const writers = suite('a writer in a shared store')
writers.after.each(removeTempDirs)

for (const sync of [false, true]) {
  const name = sync ? 'putSync' : 'put'
  const put = async (dir: string, key: string, data: Buffer) => {
    const store = await openStore(dir)
    return sync ? store.putSync(key, data) : store.put(key, data)
  }

  writers(`${name} creates nothing through entries/<ab> swapped for a symlink`, async () => {
    const dir = await sharedStore()
    const outside = outsideDir()
    const key = randomKey()
    swapForSymlink(join(dir, 'entries', key.slice(0, 2)), outside)
    const result = await put(dir, key, Buffer.from('small, inline'))
    assertUntouched(outside, name)
    assert.is(result.published, false, 'nothing is stored: a miss later, not an error now')
  })

  writers(`${name} creates nothing through content/<cd> swapped for a symlink`, async () => {
    const dir = await sharedStore()
    const outside = outsideDir()
    const data = bigData()
    const digest = (await createHasher({ algorithm: 'xxh128' })).bytes(data)
    swapForSymlink(join(dir, 'content', digest.slice(0, 2)), outside)
    const key = randomKey()
    const result = await put(dir, key, data)
    assertUntouched(outside, name)
    assert.is(result.published, false)
    assert.is(result.digest, digest)
    assert.not.ok(existsSync(new Layout(dir).entryPath(key)), 'no entry without its content')
  })

  writers(`${name} creates nothing through tmp/ swapped for a symlink`, async () => {
    const dir = await sharedStore()
    const outside = outsideDir()
    swapForSymlink(join(dir, 'tmp'), outside)
    const result = await put(dir, randomKey(), bigData())
    assertUntouched(outside, name)
    assert.is(result.published, false)
  })
}

writers('a stream put rejects with ERR_CAIRN_UNSAFE_PATH when tmp/ is swapped, writing nothing', async () => {
  const dir = await sharedStore()
  const outside = outsideDir()
  swapForSymlink(join(dir, 'tmp'), outside)
  const store = await openStore(dir)
  await rejectsWith(() => store.put(randomKey(), Readable.from([bigData()])), 'ERR_CAIRN_UNSAFE_PATH')
  assertUntouched(outside, 'stream put')
})

writers('delete unlinks nothing through a swapped shard', async () => {
  const dir = await sharedStore()
  const outside = outsideDir()
  const key = randomKey()
  swapForSymlink(join(dir, 'entries', key.slice(0, 2)), outside)
  writeFileSync(join(outside, key), 'a victim file that happens to bear the name')
  utimesSync(outside, OLD_S, OLD_S)
  const store = await openStore(dir)
  assert.is(await store.delete(key), false)
  assert.is(store.deleteSync(key), false)
  assert.ok(existsSync(join(outside, key)), 'the file behind the symlink stays')
})

writers('a reader removes no "corrupt" file through a swapped shard', async () => {
  const dir = await sharedStore()
  const outside = outsideDir()
  const key = randomKey()
  swapForSymlink(join(dir, 'entries', key.slice(0, 2)), outside)
  // A victim's file whose name happens to be a valid key (a Git object's is: 38 hex digits).
  writeFileSync(join(outside, key), 'not a Cairn record')
  const store = await openStore(dir)
  assert.is(store.getSync(key), undefined, 'a miss')
  assert.is(await store.get(key), undefined, 'a miss')
  assert.ok(existsSync(join(outside, key)), 'the file behind the symlink stays')
})

writers('a shared store works as usual: put, get, delete', async () => {
  const dir = await sharedStore()
  const store = await openStore(dir)
  for (const data of [Buffer.from('inline'), bigData()]) {
    const key = randomKey()
    assert.is((await store.put(key, data)).published, true)
    assert.ok(store.getSync(key)?.data.equals(data))
    assert.is(store.putSync(randomKey(), data).published, true)
    assert.is(await store.delete(key), true)
  }
  assert.equal(readdirSync(join(dir, 'tmp')), [], 'no temp file left')
})

writers.run()

// ---

const root = suite('root in a store another user owns')
root.after.each(removeTempDirs)

const NOBODY = 65534
const isRoot = process.getuid?.() === 0

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid)
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid)
}

async function nobodysStore(): Promise<{ dir: string; key: string; data: Buffer }> {
  const dir = tempDir()
  const store = await openStore(dir)
  const key = randomKey()
  const data = bigData()
  await store.put(key, data)
  chownTree(dir, NOBODY)
  return { dir, key, data }
}

if (isRoot) {
  root('put, putSync and delete refuse with ERR_CAIRN_FOREIGN_OWNER; reads still hit', async () => {
    const { dir, key, data } = await nobodysStore()
    const store = await openStore(dir)
    await rejectsWith(() => store.put(randomKey(), 'x'), 'ERR_CAIRN_FOREIGN_OWNER')
    await rejectsWith(() => store.put(randomKey(), Readable.from([bigData()])), 'ERR_CAIRN_FOREIGN_OWNER')
    await rejectsWith(() => store.putSync(randomKey(), 'x'), 'ERR_CAIRN_FOREIGN_OWNER')
    const error = await rejectsWith(() => store.delete(key), 'ERR_CAIRN_FOREIGN_OWNER')
    assert.match(error.message, `uid ${NOBODY}`)
    assert.match(error.message, 'allowForeignOwner')
    assert.ok((await store.get(key))?.data.equals(data), 'reading is allowed')
    assert.equal(readdirSync(join(dir, 'tmp')), [], 'nothing was written')
  })

  root('a root reader removes no corrupt file there', async () => {
    const { dir, key } = await nobodysStore()
    const record = new Layout(dir).entryPath(key)
    writeFileSync(record, 'torn')
    const store = await openStore(dir)
    assert.is(store.getSync(key), undefined)
    assert.is(readFileSync(record, 'utf8'), 'torn', 'the corrupt record stays for its owner to clean')
  })

  root('creating a store in a directory another user owns is refused too', async () => {
    const dir = tempDir()
    chownSync(dir, NOBODY, NOBODY)
    await rejectsWith(() => openStore(dir), 'ERR_CAIRN_FOREIGN_OWNER')
    assert.equal(readdirSync(dir), [])
  })

  root('allowForeignOwner: true lets root write there (guarded)', async () => {
    const { dir, key } = await nobodysStore()
    const store = await openStore(dir, { allowForeignOwner: true })
    const other = randomKey()
    assert.is((await store.put(other, bigData())).published, true)
    assert.is(store.putSync(randomKey(), 'x').published, true)
    assert.is(await store.delete(key), true)
    const empty = tempDir()
    chownSync(empty, NOBODY, NOBODY)
    await openStore(empty, { allowForeignOwner: true })
    assert.ok(existsSync(join(empty, 'cairn-store.json')))
  })
} else {
  root.skip('(needs root to chown a store to nobody)', () => {})
}

root('allowForeignOwner must be a boolean', async () => {
  await rejectsWith(
    () => openStore(tempDir(), { allowForeignOwner: 'yes' as unknown as boolean }),
    'ERR_CAIRN_INVALID_OPTION',
  )
})

root.run()

// ---

const copyMode = suite('a store created where hard links fail')
copyMode.after.each(removeTempDirs)

/** Runs `protocol` against the real disk, except that every link fails as on a FAT or SMB mount. */
function runWithoutLinks<T>(protocol: Protocol<T>): T {
  let next = protocol.next()
  while (!next.done) {
    let result: unknown
    try {
      const step: Step = next.value
      if (step.op === 'link')
        throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' })
      result = performSync(step)
    } catch (error) {
      next = protocol.throw(error)
      continue
    }
    next = protocol.next(result)
  }
  return next.value
}

copyMode('gets CACHEDIR.TAG like any other store', () => {
  const dir = tempDir()
  const marker = runWithoutLinks(openOrCreate(new Layout(dir), undefined, false))
  assert.is(marker.publish, 'copy')
  const tag = join(dir, 'CACHEDIR.TAG')
  assert.ok(existsSync(tag), 'CACHEDIR.TAG exists in a copy-mode store')
  assert.match(readFileSync(tag, 'utf8'), /^Signature: 8a477f597d28d172789f06886806bc55/)
  assert.equal(readdirSync(join(dir, 'tmp')), [], 'no temp file left')
})

copyMode('a symlink where tmp/ belongs stops a store from being created through it', () => {
  const dir = tempDir()
  const outside = outsideDir()
  mkdirSync(join(dir, 'entries'))
  symlinkSync(outside, join(dir, 'tmp'))
  try {
    runWithoutLinks(openOrCreate(new Layout(dir), undefined, false))
    assert.unreachable('expected ERR_CAIRN_NOT_A_STORE')
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_CAIRN_NOT_A_STORE')
  }
  assertUntouched(outside, 'creation')
})

copyMode.run()

// Issue 13, review of the hardening: defects an adversarial review found in the fixes.
// C: a copy-mode publish, and the GC's copy-mode put-back, copied by path and followed a symlink
// a co-user swapped in for the temp file (or tmp/gc-<digest>-…): another file's bytes (a token
// in root's home) landed in content/, readable by the co-user.

import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  lchownSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { createHasher } from '@cairn/hash'
import { Layout, openStore } from '@cairn/store'
import {
  assessStore,
  type Protocol,
  performSync,
  putEntry,
  removeUnusedContent,
  type Step,
  type StoreContext,
} from '@cairn/store/protocol'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const HOUR = 3_600_000
const NOBODY = 65534
const SECRET = 'SECRET-TOKEN-123'

/** Runs `protocol`, calling `before` with each step before performing it. */
function drive<T>(protocol: Protocol<T>, before: (step: Step) => void): T {
  let next = protocol.next()
  while (!next.done) {
    let result: unknown
    try {
      before(next.value)
      result = performSync(next.value)
    } catch (error) {
      next = protocol.throw(error)
      continue
    }
    next = protocol.next(result)
  }
  return next.value
}

/** A file outside the store that the co-user may not read (its directory is 0700). */
function secretFile(): string {
  const home = tempDir('cairn-home-')
  mkdirSync(join(home, 'private'), { mode: 0o700 })
  const path = join(home, 'private', 'npmrc')
  writeFileSync(path, `//registry.npmjs.org/:_authToken=${SECRET}\n`.repeat(2000), { mode: 0o644 })
  return path
}

function swapForSymlink(path: string, target: string): void {
  unlinkSync(path)
  symlinkSync(target, path)
}

/** Every file under content/ whose bytes hold the secret. */
function leaked(dir: string): string[] {
  const found: string[] = []
  const content = join(dir, 'content')
  for (const shard of readdirSync(content))
    for (const name of readdirSync(join(content, shard))) {
      const path = join(content, shard, name)
      if (readFileSync(path, 'latin1').includes(SECRET)) found.push(path)
    }
  return found
}

async function copyModeContext(dir: string): Promise<StoreContext> {
  await openStore(dir)
  return {
    layout: new Layout(dir),
    hasher: await createHasher(),
    digestLength: 32,
    verify: 'size',
    touchInterval: HOUR,
    durable: false,
    publishMode: 'copy',
    platform: process.platform,
    stats: { hits: 0, misses: 0, puts: 0, published: 0, corrupt: 0 },
    guard: { rootIno: statSync(dir).ino, swapped: new Set() },
  }
}

const copySwap = suite('review C: a copy never follows a symlink swapped in for its source')
copySwap.after(removeTempDirs)

copySwap('copy-mode publish: a temp file swapped for a symlink copies nothing into content/', async () => {
  const dir = tempDir()
  const ctx = await copyModeContext(dir)
  const secret = secretFile()
  let swapped = 0
  const result = drive(
    putEntry(ctx, randomKey(), { kind: 'buffer', data: randomBytes(20_000) }, undefined),
    (step) => {
      if (step.op === 'copyExclusive' && step.from.startsWith(ctx.layout.tmp)) {
        swapForSymlink(step.from, secret)
        swapped++
      }
    },
  )
  assert.ok(swapped > 0, 'the copy step was reached')
  assert.equal(leaked(dir), [], 'no content file holds the secret')
  assert.is(result.published, false, 'the put stored nothing: a miss')
})

copySwap("the GC's copy-mode put-back: tmp/gc-… swapped for a symlink copies nothing", async () => {
  const dir = tempDir()
  const ctx = await copyModeContext(dir)
  const secret = secretFile()
  const { digest } = drive(
    putEntry(ctx, randomKey(), { kind: 'buffer', data: randomBytes(20_000) }, undefined),
    () => {},
  )
  const path = ctx.layout.contentPath(digest)
  const old = (Date.now() - 2 * HOUR) / 1000
  utimesSync(path, old, old)
  const seen = statSync(path).mtimeMs
  let swapped = 0
  // A writer confirms the content right after the move (so the GC puts it back), and the
  // co-user swaps the moved file for a symlink right before the copy back.
  const outcome = drive(removeUnusedContent(ctx, digest, seen, Date.now() + 1), (step) => {
    if (step.op === 'lstat' && step.path.startsWith(`${ctx.layout.tmp}/`) && swapped === 0) {
      const now = Date.now() / 1000
      utimesSync(step.path, now, now)
    }
    if (step.op === 'copyExclusive') {
      swapForSymlink(step.from, secret)
      swapped++
    }
  })
  assert.is(swapped, 1, 'the put-back copy was reached')
  assert.equal(leaked(dir), [], 'no content file holds the secret')
  assert.is(outcome, 'gone', 'the content is gone: a miss')
  assert.equal(readdirSync(ctx.layout.tmp), [], "the co-user's symlink was removed, not followed")
  assert.ok(readFileSync(secret, 'latin1').includes(SECRET), 'the target is untouched')
})

copySwap("the GC's put-back: a moved file replaced before the GC's look is not published", async () => {
  const dir = tempDir()
  const ctx = await copyModeContext(dir)
  const { digest } = drive(
    putEntry(ctx, randomKey(), { kind: 'buffer', data: randomBytes(20_000) }, undefined),
    () => {},
  )
  const path = ctx.layout.contentPath(digest)
  const old = (Date.now() - 2 * HOUR) / 1000
  utimesSync(path, old, old)
  const seen = statSync(path).mtimeMs
  let swapped = 0
  const outcome = drive(removeUnusedContent(ctx, digest, seen, Date.now() + 1), (step) => {
    if (step.op === 'lstat' && step.path.startsWith(`${ctx.layout.tmp}/`) && swapped++ === 0) {
      // Another regular file (a hard link or a copy the co-user made), new, so the GC would put it back.
      unlinkSync(step.path)
      writeFileSync(step.path, `${SECRET}\n`)
    }
  })
  assert.ok(swapped > 0)
  assert.equal(leaked(dir), [], 'no content file holds the co-user’s bytes')
  assert.is(outcome, 'gone')
})

copySwap.run()

// B: openStore judged the store before creating entries/, content/ and tmp/; under umask 000
// they were created world-writable and the process kept the fast path (no directory checks).
const umask = suite('review B: a store created under a permissive umask is judged as created')
umask.after(removeTempDirs)

umask('umask 000: the new directories are writable by all, so a swapped shard is refused', async () => {
  // An empty directory made for the store beforehand (as by `mkdir`), so openStore judged it
  // before anything inside it existed.
  const dir = join(tempDir(), 'store')
  mkdirSync(dir, { mode: 0o755 })
  const outside = tempDir('cairn-outside-')
  const previous = process.umask(0)
  let store: Awaited<ReturnType<typeof openStore>>
  try {
    store = await openStore(dir)
  } finally {
    process.umask(previous)
  }
  assert.is(statSync(join(dir, 'entries')).mode & 0o777, 0o777, 'the umask applied')
  // A co-user swaps every shard for a symlink to a directory of their choice.
  for (const top of ['entries', 'content']) {
    for (const shard of readdirSync(join(dir, top))) {
      rmSync(join(dir, top, shard), { recursive: true })
      symlinkSync(outside, join(dir, top, shard))
    }
  }
  try {
    store.putSync(randomKey(), randomBytes(20_000))
  } catch {
    // Refused: fine; what matters is where nothing was written.
  }
  assert.equal(readdirSync(outside), [], 'nothing was created through the symlinks')
})

umask.run()

// A: a symlink on the store's path that another user owns (in sticky /tmp, say) made root's
// store look private, since the checks followed it; its owner then retargeted it at a look-alike
// store whose shards are symlinks to a directory of their choice.
const links = suite("review A: a symlink another user owns on the store's path makes the store shared")
links.after(removeTempDirs)

if (process.getuid?.() === 0) {
  links('root opens a store through a co-user’s symlink; its retarget is refused', async () => {
    const sticky = tempDir()
    chmodSync(sticky, 0o1777)
    const priv = join(sticky, 'priv')
    const target = join(sticky, 'target')
    mkdirSync(priv, { mode: 0o755 })
    mkdirSync(target, { mode: 0o755 })
    const link = join(sticky, 'lnk')
    symlinkSync(priv, link)
    lchownSync(link, NOBODY, NOBODY)
    assert.ok(
      assessStore(new Layout(join(link, 'store')))?.shared !== false,
      'judged shared (or not yet a store)',
    )
    const store = await openStore(join(link, 'store'))
    assert.is(assessStore(new Layout(join(link, 'store')))?.shared, true, 'the store is judged shared')
    store.putSync(randomKey(), Buffer.from('x'))
    // The co-user retargets their link at a look-alike store whose shards point at `target`.
    const evil = join(sticky, 'evil', 'store')
    for (const top of ['entries', 'content', 'tmp']) mkdirSync(join(evil, top), { recursive: true })
    for (let shard = 0; shard < 256; shard++) {
      const name = shard.toString(16).padStart(2, '0')
      symlinkSync(target, join(evil, 'entries', name))
      symlinkSync(target, join(evil, 'content', name))
    }
    unlinkSync(link)
    symlinkSync(join(sticky, 'evil'), link)
    for (let i = 0; i < 3; i++) {
      try {
        store.putSync(randomKey(), Buffer.from('* * * * * root id > /tmp/pwned\n'))
      } catch {
        // Refused: fine; what matters is where nothing was written.
      }
    }
    assert.equal(readdirSync(target), [], 'nothing was written through the retargeted link')
  })

  links('a symlink owned by this user in a private directory keeps the fast path', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'real'))
    symlinkSync(join(dir, 'real'), join(dir, 'lnk'))
    await openStore(join(dir, 'lnk', 'store'))
    assert.is(assessStore(new Layout(join(dir, 'lnk', 'store')))?.shared, false)
  })
} else {
  links.skip('(needs root to give a symlink to another user)', () => {})
}

links.run()

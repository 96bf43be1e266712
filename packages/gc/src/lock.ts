/**
 * The GC lock, `gc.lock` at the store root: one GC prunes a store at a time, so that two cron
 * jobs, or two builds finishing together, do not both scan a million files. It is an economy,
 * not what makes pruning safe: every deletion re-checks its file and takes ENOENT as success,
 * and content goes through the store's handshake, so two GCs that do run together (after a
 * stale lock was taken over) are still correct. Builds never take or wait for this lock.
 *
 * The lock is a file created exclusively (O_CREAT|O_EXCL, which also refuses a symlink), holding
 * JSON: `{"pid", "hostname", "startedAt", "token"}`. It is stale, and taken over, when its owner
 * is a process on this host that no longer runs, or when it is older than {@link LOCK_STALE_MS}
 * (its owner crashed on another host sharing the store, or a CI cache restored it). A takeover
 * moves the stale lock into tmp/ first, so of two GCs taking over at once exactly one wins; the
 * other finds a fresh lock and reports busy.
 */

import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Layout } from '@cairn/store'
import {
  checkDirectories,
  close,
  errnoOf,
  type FileStat,
  fstat,
  ioError,
  link,
  lstat,
  mkdir,
  open,
  openForReading,
  type Protocol,
  read,
  rename,
  type StoreGuard,
  unlink,
  unlinkInStore,
  write,
} from '@cairn/store/protocol'

/**
 * A lock older than this is stale whoever holds it: 1 hour. A prune of a million entries takes
 * well under a minute here, so an hour-old lock is a crashed GC (or one on another host, whose
 * pid cannot be checked). A GC that does run longer may be joined by a second one, which is safe.
 */
export const LOCK_STALE_MS = 3_600_000

/**
 * A lock file that is not valid JSON is being written (the create and the write are two steps)
 * or was left by a GC that crashed between them: stale once its mtime is this old.
 */
export const LOCK_UNREADABLE_STALE_MS = 10_000

const LOCK_MAX_BYTES = 4096

/** Who holds a lock, as written in the lock file. */
export interface LockOwner {
  pid: number
  hostname: string
  /** ms since the epoch. */
  startedAt: number
  /** Random: tells this GC's lock from a later one at the same name. */
  token: string
}

/** What the lock protocols need from the world besides the filesystem; injectable for the model. */
export interface LockContext {
  layout: Layout
  now: number
  hostname: string
  pid: number
  /** Whether a process with this pid runs on this host. */
  isAlive: (pid: number) => boolean
  /** A fresh token for this GC's lock. */
  token: string
  /** The store's guard when others can write it: each step re-checks its directories (safety.ts). */
  guard?: StoreGuard | undefined
}

/** The running process's identity and a fresh token. */
export function lockContext(layout: Layout, now: number, guard?: StoreGuard): LockContext {
  return {
    guard,
    layout,
    now,
    hostname: hostname(),
    pid: process.pid,
    isAlive: isProcessAlive,
    token: randomBytes(8).toString('hex'),
  }
}

/**
 * Takes the GC lock, taking over a stale one; the owner record if taken, 'busy' if another GC
 * holds it. Release it with {@link releaseLock} in a `finally`.
 */
export function* acquireLock(ctx: LockContext): Protocol<LockOwner | 'busy'> {
  const owner: LockOwner = { pid: ctx.pid, hostname: ctx.hostname, startedAt: ctx.now, token: ctx.token }
  if (yield* createLock(ctx, owner)) return owner
  const held = yield* readLock(ctx.layout.gcLock)
  if (held === 'gone') return (yield* createLock(ctx, owner)) ? owner : 'busy'
  if (!isStale(ctx, held)) return 'busy'
  if (!(yield* moveAside(ctx, held.stat))) return 'busy'
  return (yield* createLock(ctx, owner)) ? owner : 'busy'
}

/**
 * Whether another GC holds the lock now (a lock that {@link acquireLock} would not take over):
 * what a dry run checks, taking nothing, so it reports `busy` exactly when a real run would.
 */
export function* isLockHeld(ctx: LockContext): Protocol<boolean> {
  const held = yield* readLock(ctx.layout.gcLock)
  return held !== 'gone' && !isStale(ctx, held)
}

/** Removes the lock if it is still this GC's (a GC that ran past the timeout may have lost it). */
export function* releaseLock(layout: Layout, owner: LockOwner, guard?: StoreGuard): Protocol<void> {
  const held = yield* readLock(layout.gcLock)
  if (held === 'gone' || held.owner?.token !== owner.token) return
  try {
    yield* checkDirectories({ layout, guard }, layout.gcLock)
    yield* unlink(layout.gcLock)
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw ioError(error, 'releasing the GC lock', layout.gcLock)
  }
}

/** Creates the lock file exclusively; false if it exists. */
function* createLock(ctx: LockContext, owner: LockOwner): Protocol<boolean> {
  const path = ctx.layout.gcLock
  yield* checkDirectories(ctx, path)
  let fd: number
  try {
    fd = yield* open(path, 'create', 0o644)
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false
    throw ioError(error, 'creating the GC lock', path)
  }
  try {
    yield* write(fd, Buffer.from(`${JSON.stringify(owner)}\n`))
  } catch (error) {
    yield* closeQuietly(fd)
    yield* unlinkInStore(ctx, path)
    throw ioError(error, 'writing the GC lock', path)
  }
  yield* closeQuietly(fd)
  return true
}

interface HeldLock {
  /** Undefined when the file is not a readable lock (being written, torn, or not a file). */
  owner: LockOwner | undefined
  stat: FileStat
}

function* readLock(path: string): Protocol<HeldLock | 'gone'> {
  const fd = yield* openForReading({ platform: process.platform }, path)
  if (fd === 'absent') return 'gone'
  if (typeof fd === 'string') {
    // A symlink or other non-file at the lock's name: not a lock, so stale (moved aside as is).
    try {
      return { owner: undefined, stat: yield* lstat(path) }
    } catch {
      return 'gone'
    }
  }
  try {
    const stat = yield* fstat(fd)
    if (stat.kind === 'directory') {
      throw ioError(
        Object.assign(new Error('a directory is where the GC lock belongs'), { code: 'EISDIR' }),
        'taking the GC lock',
        path,
      )
    }
    if (stat.kind !== 'file' || stat.size > LOCK_MAX_BYTES) return { owner: undefined, stat }
    return { owner: parseOwner((yield* read(fd, stat.size)).toString('utf8')), stat }
  } finally {
    yield* closeQuietly(fd)
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>
    if (
      typeof value.pid === 'number' &&
      typeof value.hostname === 'string' &&
      typeof value.startedAt === 'number' &&
      typeof value.token === 'string'
    ) {
      return value as LockOwner
    }
  } catch {
    // Not JSON: being written, or torn.
  }
  return undefined
}

function isStale(ctx: LockContext, held: HeldLock): boolean {
  const { owner } = held
  if (owner === undefined) return Math.abs(ctx.now - held.stat.mtimeMs) > LOCK_UNREADABLE_STALE_MS
  // Either way round: a lock stamped far in the future came from a skewed clock.
  if (Math.abs(ctx.now - owner.startedAt) > LOCK_STALE_MS) return true
  return owner.hostname === ctx.hostname && !ctx.isAlive(owner.pid)
}

/**
 * Moves the stale lock judged from `judged` into tmp/, from where it is removed; false if
 * another GC got there first (the lock vanished, or the file moved is a fresh lock another GC
 * made after taking over: that one is put back).
 */
function* moveAside(ctx: LockContext, judged: FileStat): Protocol<boolean> {
  const { layout } = ctx
  const aside = layout.tempPath()
  yield* checkDirectories(ctx, layout.tmp)
  yield* mkdir(layout.tmp)
  try {
    yield* checkDirectories(ctx, aside)
    yield* rename(layout.gcLock, aside)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return true // someone removed it: try to create ours
    throw ioError(error, 'taking over the stale GC lock', layout.gcLock)
  }
  try {
    const moved = yield* lstat(aside)
    if (moved.ino === judged.ino) return true
    // Another GC replaced the stale lock between our read and our move: give it back.
    try {
      yield* checkDirectories(ctx, aside)
      yield* link(aside, layout.gcLock)
    } catch {
      // EEXIST: yet another lock is there; either way ours is not to take.
    }
    return false
  } finally {
    yield* unlinkInStore(ctx, aside)
  }
}

function* closeQuietly(fd: number): Protocol<void> {
  try {
    yield* close(fd)
  } catch {
    // The descriptor is gone either way.
  }
}

/** Whether `pid` is a running process on this host: signal 0 checks without sending anything. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, as another user.
    return errnoOf(error) === 'EPERM'
  }
}

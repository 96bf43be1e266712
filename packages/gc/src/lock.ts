/**
 * The GC lock, `gc.lock` at the store root: one GC prunes a store at a time, so that two cron
 * jobs, or two builds finishing together, do not both scan a million files. It is an economy,
 * not what makes pruning safe: every deletion re-checks its file and takes ENOENT as success,
 * and content goes through the store's handshake, so two GCs that do run together (after a
 * stale lock was taken over) are still correct. Builds never take or wait for this lock.
 *
 * The lock is a file created exclusively (O_CREAT|O_EXCL, which also refuses a symlink), holding
 * JSON: `{"pid", "hostname", "pidSpace", "startedAt", "token"}`. It is stale, and taken over, when
 * its owner is a process that no longer runs in this very pid space (same hostname, same boot,
 * same pid namespace: a container sharing the hostname numbers its processes apart), or when it
 * is older than {@link LOCK_STALE_MS} (its owner crashed on another host sharing the store, or a
 * CI cache restored it). Ages are measured on the store's filesystem clock (clock.ts).
 *
 * A takeover must not remove a fresh lock another GC made after taking the same stale lock over.
 * Inode numbers cannot tell the two apart (ext4 gives the fresh lock the inode just freed), so
 * the lock is identified by its token: of the GCs that judged one lock stale, only the one that
 * creates the guard file `tmp/gc.lock-takeover-<id>-<n>` for that lock's identity acts; it reads
 * the lock again, moves it aside (rename to `tmp/gc.lock-aside-<token>-<random>`) and reads what
 * it moved: the judged token, and it is removed; another, and it is put back with `link`
 * ({@link moveAside}), so a GC that stalled after its read never removes a fresh lock. The others
 * report busy. A guard left by a GC that crashed mid-takeover blocks only for
 * {@link LOCK_UNREADABLE_STALE_MS}: then the next generation `<n + 1>` is tried.
 */

import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, readlinkSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
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
  NO_LINKS,
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
  /**
   * Which numbering `pid` belongs to: on Linux the boot id and the pid namespace
   * (`<boot_id>:<pid namespace inode>`), elsewhere the platform (no pid namespaces there).
   * Absent in a lock of an older version: then the pid is not checked, only the age.
   */
  pidSpace?: string
  /** ms since the epoch, by the owner's clock (informative; ages use the lock file's mtime). */
  startedAt: number
  /** Random: tells this GC's lock from a later one at the same name. */
  token: string
}

/** What the lock protocols need from the world besides the filesystem; injectable for the model. */
export interface LockContext {
  layout: Layout
  /** The process clock, ms since the epoch: the owner record's `startedAt`. */
  now: number
  /** The store filesystem's clock (clock.ts): what lock file mtimes are compared with. */
  fsNow: number
  hostname: string
  pid: number
  /** This process's {@link LockOwner.pidSpace}. */
  pidSpace: string | undefined
  /** Whether a process with this pid runs on this host. */
  isAlive: (pid: number) => boolean
  /** A fresh token for this GC's lock. */
  token: string
  /** The store's guard when others can write it: each step re-checks its directories (safety.ts). */
  guard?: StoreGuard | undefined
}

/** The running process's identity and a fresh token. */
export function lockContext(layout: Layout, now: number, fsNow: number, guard?: StoreGuard): LockContext {
  return {
    guard,
    layout,
    now,
    fsNow,
    hostname: hostname(),
    pid: process.pid,
    pidSpace: currentPidSpace(),
    isAlive: isProcessAlive,
    token: randomBytes(8).toString('hex'),
  }
}

/**
 * Takes the GC lock, taking over a stale one; the owner record if taken, 'busy' if another GC
 * holds it. Release it with {@link releaseLock} in a `finally`.
 */
export function* acquireLock(ctx: LockContext): Protocol<LockOwner | 'busy'> {
  const owner: LockOwner = {
    pid: ctx.pid,
    hostname: ctx.hostname,
    ...(ctx.pidSpace === undefined ? {} : { pidSpace: ctx.pidSpace }),
    startedAt: ctx.now,
    token: ctx.token,
  }
  if (yield* createLock(ctx, owner)) return owner
  const held = yield* readLock(ctx.layout.gcLock)
  if (held === 'gone') return (yield* createLock(ctx, owner)) ? owner : 'busy'
  if (!isStale(ctx, held)) return 'busy'
  return yield* takeOver(ctx, held, owner)
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

/** A lock as read from the disk. */
export interface HeldLock {
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
      (value.pidSpace === undefined || typeof value.pidSpace === 'string') &&
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

/** Whether `held` may be taken over; exported for tests. */
export function isStale(ctx: LockContext, held: HeldLock): boolean {
  const { owner } = held
  // Ages compare the lock file's mtime with the filesystem's clock, either way round: a clock
  // skewed between hosts must neither make a fresh lock look old nor an old one young forever.
  const age = Math.abs(ctx.fsNow - held.stat.mtimeMs)
  if (owner === undefined) return age > LOCK_UNREADABLE_STALE_MS
  // startedAt too: a CI cache restore may give an old lock a fresh mtime.
  if (age > LOCK_STALE_MS || Math.abs(ctx.now - owner.startedAt) > LOCK_STALE_MS) return true
  // A pid means something only in the pid space it was taken in: a container on this hostname
  // numbers its processes apart, so its live GC's pid may be free here.
  const samePidSpace =
    owner.hostname === ctx.hostname && owner.pidSpace !== undefined && owner.pidSpace === ctx.pidSpace
  return samePidSpace && !ctx.isAlive(owner.pid)
}

/**
 * Takes the stale lock `judged` over: removes it (if it is still that lock) and creates ours;
 * 'busy' if another GC is taking it over, or got there first.
 */
function* takeOver(ctx: LockContext, judged: HeldLock, owner: LockOwner): Protocol<LockOwner | 'busy'> {
  const { layout } = ctx
  const id = createHash('sha256').update(identityOf(judged)).digest('hex').slice(0, 16)
  yield* checkDirectories(ctx, layout.tmp)
  yield* mkdir(layout.tmp)
  let guard: string | undefined
  for (let generation = 0; generation < MAX_GUARD_GENERATIONS && guard === undefined; generation++) {
    const path = join(layout.tmp, `gc.lock-takeover-${id}-${generation}`)
    yield* checkDirectories(ctx, path)
    if (yield* createEmpty(path)) guard = path
    else if (!(yield* isOldGuard(ctx, path))) return 'busy'
  }
  if (guard === undefined) return 'busy'
  try {
    // Only this GC acts on the judged lock now; a GC that took it over before us made a new one.
    const current = yield* readLock(layout.gcLock)
    if (current !== 'gone') {
      if (identityOf(current) !== identityOf(judged)) return 'busy'
      if (!(yield* moveAside(ctx, judged))) return 'busy'
    }
    return (yield* createLock(ctx, owner)) ? owner : 'busy'
  } finally {
    yield* unlinkInStore(ctx, guard)
  }
}

/**
 * Removes the lock `judged` stale, and only that one: renames whatever lock is there now to a
 * name of this GC's own in tmp/, then reads what it moved. This GC may have stalled since it
 * read the lock (longer than {@link LOCK_UNREADABLE_STALE_MS}, so that another GC took its
 * takeover guard for crashed, took the lock over and made a fresh one): deciding by what was
 * moved, not by what was read before, never removes that fresh lock. Not the judged lock: it is
 * put back with `link`, which never replaces a lock made meanwhile (EEXIST: another GC holds
 * one), and this GC reports busy. True if the judged lock is gone.
 */
function* moveAside(ctx: LockContext, judged: HeldLock): Protocol<boolean> {
  const { layout } = ctx
  const aside = join(layout.tmp, `gc.lock-aside-${ctx.token}-${randomBytes(4).toString('hex')}`)
  try {
    yield* checkDirectories(ctx, layout.gcLock)
    yield* checkDirectories(ctx, aside)
    yield* rename(layout.gcLock, aside)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return true
    throw ioError(error, 'taking over the stale GC lock', layout.gcLock)
  }
  try {
    const moved = yield* readLock(aside)
    if (moved === 'gone' || identityOf(moved) === identityOf(judged)) return true
    // Another GC's fresh lock: back at its name, unless yet another lock is there by now.
    yield* checkDirectories(ctx, layout.gcLock)
    try {
      yield* link(aside, layout.gcLock)
    } catch (error) {
      const code = errnoOf(error)
      if (code !== 'EEXIST' && code !== undefined && NO_LINKS.has(code))
        yield* putBackByRename(aside, layout.gcLock)
      else if (code !== 'EEXIST') throw ioError(error, 'putting back the GC lock', layout.gcLock)
    }
    return false
  } finally {
    yield* unlinkInStore(ctx, aside)
  }
}

/** Without hard links: rename back if the name is still free (a small window, once in a blue moon). */
function* putBackByRename(aside: string, path: string): Protocol<void> {
  try {
    yield* lstat(path)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') yield* rename(aside, path)
  }
}

/** Guards of crashed takeovers skipped before giving up (reporting busy). */
const MAX_GUARD_GENERATIONS = 8

/** What tells one lock from a later one at the same name: its token, or for an unreadable lock its inode and mtime. */
function identityOf(held: HeldLock): string {
  return held.owner === undefined
    ? `unreadable ${held.stat.ino} ${held.stat.mtimeMs} ${held.stat.size}`
    : `token ${held.owner.token}`
}

/** Creates an empty file exclusively; false if the name exists. */
function* createEmpty(path: string): Protocol<boolean> {
  let fd: number
  try {
    fd = yield* open(path, 'create', 0o644)
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false
    throw ioError(error, 'taking over the stale GC lock with', path)
  }
  yield* closeQuietly(fd)
  return true
}

/** Whether a takeover guard was left by a GC that died in the middle (gone counts as old). */
function* isOldGuard(ctx: LockContext, path: string): Protocol<boolean> {
  try {
    return Math.abs(ctx.fsNow - (yield* lstat(path)).mtimeMs) > LOCK_UNREADABLE_STALE_MS
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return true
    throw ioError(error, 'taking over the stale GC lock with', path)
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

let pidSpace: string | undefined | null = null

/**
 * This process's pid space (see {@link LockOwner.pidSpace}): on Linux the boot id (pids restart
 * at each boot) and the inode of its pid namespace (each container numbers its own processes);
 * undefined if either cannot be read, so that no pid is then judged dead.
 */
export function currentPidSpace(): string | undefined {
  if (pidSpace !== null) return pidSpace
  if (process.platform !== 'linux') {
    pidSpace = process.platform
    return pidSpace
  }
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    const namespace = readlinkSync('/proc/self/ns/pid') // "pid:[4026531836]"
    pidSpace = boot && namespace ? `${boot}:${namespace.replace(/\D/g, '')}` : undefined
  } catch {
    pidSpace = undefined
  }
  return pidSpace
}

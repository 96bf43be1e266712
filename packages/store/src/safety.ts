/**
 * Stores that other users can write: what Cairn checks so that a co-user who can write inside the
 * store can never make this process write, link, rename or delete anything outside it.
 *
 * The attack: between two steps of a writer or a GC, a co-user replaces one of the store's
 * directories (`tmp/`, `entries/<ab>`, `content/<cd>`, or the store directory itself, through a
 * writable parent) with a symlink to a directory of their choice, say /etc/cron.d. A path-based
 * create, link or unlink then acts in the symlink's target. Node has no openat/linkat/unlinkat,
 * so Cairn cannot act relative to a directory it holds open; instead, in such a store, each step
 * that creates, links, renames or unlinks a name is preceded by {@link checkDirectories}: a stat
 * of the store directory (still the same inode as when the store was opened) and an lstat of
 * every directory between it and the name, refusing (ERR_CAIRN_UNSAFE_PATH) if any is not a real
 * directory. A window of a few microseconds between the check and the step remains; so, as Git
 * does since CVE-2022-24765, a root process also refuses by default to write into or prune a
 * store whose directory another user owns (ERR_CAIRN_FOREIGN_OWNER; opt in with
 * `allowForeignOwner`).
 *
 * Which stores need the checks ({@link assessStore}, when openStore has created the store's
 * directories, so that a permissive umask counts, and once per prune): those where the store
 * directory, `entries/`, `content/` or `tmp/` is group- or world-writable (the sticky bit does
 * not help: it stops others from renaming our names, not from creating a shard we have not made
 * yet as a symlink) or owned by a user other than this process's and root; those reached through
 * a directory that such a user owns or others can write (without the sticky bit); and those
 * reached through a symlink that such a user owns or that sits in a directory others can write
 * (without sticky): its owner can retarget it at a look-alike store (a stat that follows the
 * link sees only where it points today). Those four directories and that path suffice:
 * replacing a name needs write access to the directory holding it, so if they are private,
 * nobody else can swap a shard or `tmp/`. A store only its owner can write keeps the fast path:
 * no extra system call per operation. The judgment is made once: permissions its owner changes
 * later are not seen.
 *
 * Files are never copied by a path that a co-user could swap: the `copyExclusive` step (copy-mode
 * publish, the GC's put-back) opens its source without following a symlink and copies only a
 * regular file, from that descriptor (steps.ts). Other packages writing by path in the store
 * directory (remote-stats.jsonl, `cairn verify --fix`) apply the same root rule and checks
 * (Store.fileGuard, or assessStore and checkDirectories directly).
 */

import { dirname, isAbsolute, join, sep } from 'node:path'
import type { StoreContext } from './context.js'
import { CairnError, errnoOf } from './errors.js'
import { type Ownership, ownershipSync, readLinkSync, realPathSync } from './fs.js'
import type { Layout } from './layout.js'
import { type FileStat, lstat, type Protocol, stat, unlink } from './steps.js'

/** What a shared store's protocols check against; see the module comment. */
export interface StoreGuard {
  /** The store directory's inode when it was opened: another inode means the path was swapped. */
  readonly rootIno: number
  /** Directories found swapped so far (absolute paths), for the GC's report of foreign names. */
  readonly swapped: Set<string>
}

/** What {@link assessStore} found. */
export interface StoreSafety {
  /** Users other than this process's and root can write the store or the path to it. */
  shared: boolean
  rootIno: number
  /** The store directory's owner, when this process is root and that owner is another user. */
  foreignOwner: number | undefined
}

/** The context {@link checkDirectories} needs: a store's layout and guard. */
export interface GuardContext {
  readonly layout: Layout
  readonly guard?: StoreGuard | undefined
}

/**
 * Judges the store at `layout.dir` (see the module comment); undefined if it is not a directory
 * (missing: openStore creates it; a file: openStore refuses it). A few stat calls when a store is
 * opened or pruned; never per operation. On Windows (no uids) every store is private here.
 */
export function assessStore(layout: Layout): StoreSafety | undefined {
  // Anything but a directory we can stat is for openStore (or prune) to report, in its words.
  const root = look(layout.dir, true)
  if (root === undefined || root === 'unknown' || root.kind !== 'directory') return undefined
  const uid = process.getuid?.()
  if (uid === undefined) return { shared: false, rootIno: root.ino, foreignOwner: undefined }
  const trusted = (owner: number) => owner === uid || owner === 0
  let shared = false
  for (const path of [layout.dir, layout.entries, layout.content, layout.tmp]) {
    const info = path === layout.dir ? root : look(path, false)
    if (info === undefined) continue
    if (info === 'unknown' || info.kind !== 'directory' || (info.mode & 0o022) !== 0 || !trusted(info.uid))
      shared = true
  }
  // The directories holding the store directory: one that others can write, without the sticky
  // bit that stops them from renaming names they do not own, lets them swap the whole store.
  let real: string[] = []
  try {
    real = ancestors(realPathSync(layout.dir))
  } catch {
    shared = true
  }
  for (const path of new Set([...ancestors(layout.dir), ...real])) {
    const info = look(path, true)
    if (info === undefined) continue
    if (info === 'unknown' || !trusted(info.uid) || ((info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0))
      shared = true
  }
  if (!linksTrusted(layout.dir, trusted)) shared = true
  return { shared, rootIno: root.ino, foreignOwner: uid === 0 && root.uid !== 0 ? root.uid : undefined }
}

/** The guard a store judged by {@link assessStore} needs: undefined on the fast path. */
export function guardFor(safety: StoreSafety): StoreGuard | undefined {
  return safety.shared ? { rootIno: safety.rootIno, swapped: new Set() } : undefined
}

/** ownershipSync, with anything it cannot tell (EACCES, ...) as 'unknown': judged shared. */
function look(path: string, follow: boolean): Ownership | undefined | 'unknown' {
  try {
    return ownershipSync(path, follow)
  } catch {
    return 'unknown'
  }
}

/** How many symlinks a path may go through, as Linux's MAXSYMLINKS; more is judged shared. */
const MAX_LINKS = 40

/**
 * Whether every symlink met on the way to `path` (its own components, and those of each link's
 * target, as the kernel resolves them) is one that only trusted users can retarget: owned by
 * this user or root, in a directory others cannot write (or sticky). The stat-based checks above
 * follow links, so they judge where a link points today, not who can make it point elsewhere: a
 * co-user's link in sticky /tmp to root's private directory looked private, and its owner could
 * later retarget it at a look-alike store whose shards are symlinks (review of issue 13, A). With
 * such a link, the store is shared: the root-inode check of checkDirectories then catches a
 * retarget. Anything it cannot read is judged untrusted.
 */
function linksTrusted(path: string, trusted: (owner: number) => boolean): boolean {
  let pending = path.split(sep).filter((name) => name !== '')
  let resolved = isAbsolute(path) ? sep : process.cwd()
  let links = 0
  while (pending.length > 0) {
    const name = pending.shift() as string
    if (name === '.') continue
    if (name === '..') {
      resolved = dirname(resolved)
      continue
    }
    const at = join(resolved, name)
    const info = look(at, false)
    if (info === undefined) return true // the rest does not exist yet: openStore creates it
    if (info === 'unknown') return false
    if (info.kind !== 'symlink') {
      resolved = at
      continue
    }
    const parent = look(resolved, false)
    if (++links > MAX_LINKS || parent === undefined || parent === 'unknown') return false
    const parentOpen = (parent.mode & 0o022) !== 0 && (parent.mode & 0o1000) === 0
    if (!trusted(info.uid) || !trusted(parent.uid) || parentOpen) return false
    let target: string
    try {
      target = readLinkSync(at)
    } catch {
      return false
    }
    if (isAbsolute(target)) resolved = sep
    pending = [...target.split(sep).filter((part) => part !== ''), ...pending]
  }
  return true
}

function ancestors(path: string): string[] {
  const found: string[] = []
  for (let at = dirname(path); ; at = dirname(at)) {
    found.push(at)
    if (dirname(at) === at) return found
  }
}

/**
 * In a guarded store, checks that every directory between the store directory and `path` (a
 * name inside the store, built by Layout) is a real directory, and that the store directory is
 * still the one opened; throws ERR_CAIRN_UNSAFE_PATH if not. Call it right before each step that
 * creates, links, renames or unlinks `path`. A directory that does not exist passes: the step
 * then fails with ENOENT, or a mkdir creates it after checking its own parents. Does nothing in
 * a store only its owner can write.
 */
export function* checkDirectories(ctx: GuardContext, path: string): Protocol<void> {
  const { guard, layout } = ctx
  if (guard === undefined) return
  const { dir } = layout
  let root: FileStat
  try {
    root = yield* stat(dir)
  } catch (error) {
    throw unsafePath(guard, dir, undefined, error)
  }
  if (root.kind !== 'directory' || root.ino !== guard.rootIno) throw unsafePath(guard, dir, root.kind)
  if (!path.startsWith(dir + sep)) return
  const names = path.slice(dir.length + 1).split(sep)
  let at = dir
  for (let index = 0; index < names.length - 1; index++) {
    at = `${at}${sep}${names[index]}`
    let info: FileStat
    try {
      info = yield* lstat(at)
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return
      throw unsafePath(guard, at, undefined, error)
    }
    if (info.kind !== 'directory') throw unsafePath(guard, at, info.kind)
  }
}

/** Whether `error` is the refusal of {@link checkDirectories}. */
export function isUnsafePath(error: unknown): boolean {
  return error instanceof CairnError && error.code === 'ERR_CAIRN_UNSAFE_PATH'
}

function unsafePath(guard: StoreGuard, path: string, kind: string | undefined, cause?: unknown): CairnError {
  guard.swapped.add(path)
  const found = kind === undefined ? `unreachable (${errnoOf(cause) ?? 'error'})` : `a ${kind}`
  return new CairnError(
    'ERR_CAIRN_UNSAFE_PATH',
    `${path} should be a directory of the store, as it was when the store was opened, but is now ${found}: another user who can write the store may have replaced it. Cairn wrote and deleted nothing through it. Check who can write the store directory.`,
    { path, cause },
  )
}

/**
 * The refusal for a file of the store (a temp file, say) found replaced by something else than the
 * regular file this process made: a symlink (ELOOP) or another file (ESTALE) from a copy step.
 * ERR_CAIRN_UNSAFE_PATH, so that a put in a shared store resolves unpublished (a miss).
 */
export function swappedFile(path: string, cause: unknown): CairnError {
  return new CairnError(
    'ERR_CAIRN_UNSAFE_PATH',
    `${path} should be a file this process wrote, but was replaced (${errnoOf(cause) ?? 'error'}): another user who can write the store may have swapped it. Cairn copied nothing from it. Check who can write the store directory.`,
    { path, cause },
  )
}

/** Whether `error`, from a copy step, says its source was swapped (see steps.ts copyExclusive). */
export function isSwappedSource(error: unknown): boolean {
  const code = errnoOf(error)
  return code === 'ELOOP' || code === 'ESTALE'
}

/** Unlinks a name in the store after {@link checkDirectories}; quietly, as unlinkQuietly. */
export function* unlinkInStore(ctx: GuardContext, path: string): Protocol<void> {
  try {
    yield* checkDirectories(ctx, path)
    yield* unlink(path)
  } catch {
    // Already gone, not ours to remove, or behind a swapped directory: the GC sweeps tmp/.
  }
}

/**
 * Throws ERR_CAIRN_FOREIGN_OWNER when this process is root and the store belongs to another user
 * who did not get the caller's trust (`allowForeignOwner`); `action` reads as "refusing to <action>".
 */
export function refuseForeignOwner(ctx: Pick<StoreContext, 'layout' | 'foreignOwner'>, action: string): void {
  if (ctx.foreignOwner !== undefined) throw foreignOwnerError(ctx.layout.dir, ctx.foreignOwner, action)
}

export function foreignOwnerError(dir: string, owner: number, action: string): CairnError {
  return new CairnError(
    'ERR_CAIRN_FOREIGN_OWNER',
    `Refusing to ${action} the store at ${dir}: this process runs as root, and the store directory belongs to uid ${owner}, who could redirect root's writes and deletions with a symlink. Run Cairn as that user, or, if you trust every user who can write the store, opt in: openStore/prune option allowForeignOwner: true, CAIRN_ALLOW_FOREIGN_OWNER=1 for the cairn and cairn-gc commands, or cairn-gc --allow-foreign-owner.`,
    { path: dir },
  )
}

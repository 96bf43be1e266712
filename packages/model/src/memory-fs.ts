/**
 * An in-memory filesystem that performs the store's steps (packages/store/src/steps.ts) with
 * either POSIX or Windows semantics, one atomic transition at a time.
 *
 * POSIX: unlink and rename of open files are allowed (open descriptors keep reading the old
 * file); link fails with EEXIST; rename replaces its destination atomically.
 *
 * Windows, as Node's libuv sees NTFS:
 * - rename onto an existing name is ReplaceFile/MoveFileEx: it holds the destination open
 *   without sharing while it works. Modelled as two transitions: the first takes the hold, the
 *   second replaces the file and releases it. Meanwhile open, lstat and unlink of the name fail
 *   with EPERM.
 * - unlink of a file that is open leaves its name in a delete-pending state until the last
 *   handle closes: opening, linking to or creating that name fails with EPERM.
 * - link fails with EEXIST if the name exists (EPERM if it is delete-pending).
 *
 * Copy mode (`links: false`), a filesystem without hard links: link fails with EPERM, and an
 * exclusive copy takes two transitions, as copyFile does: the first creates the empty file (and
 * reads the source), the second writes the bytes, so a reader may open it half-done. A copy's
 * times are set by the filesystem's clock, as copyFile does.
 *
 * The clock is the filesystem's: it sets every time a file gets without a caller naming one, and
 * advances one millisecond per `now` step, so runs are reproducible. An actor's `now` reads its
 * process clock, which may be set apart from the filesystem's ({@link MemoryFs.setClockSkew}),
 * as on a host whose clock differs from an NFS server's.
 */

import { createHash } from 'node:crypto'
import type { FileStat, Step } from '@cairn/store/protocol'

export type Semantics = 'posix' | 'windows'

interface Inode {
  id: number
  data: Buffer
  mtimeMs: number
  /** Set from the clock on every status change, as a real filesystem does; never by a caller. */
  ctimeMs: number
  links: number
  open: number
  /** Which actor created it, for the "no temp files left" invariant. */
  creator: string
  digest: string | undefined
}

interface NameEntry {
  inode: number
  deletePending: boolean
}

interface Descriptor {
  inode: number
  owner: string
  writable: boolean
}

/** What performing a step did: finished with a value, or took the first of two transitions. */
export type Transition = { done: true; value: unknown } | { done: false; note: string }

export class FsError extends Error {
  readonly code: string
  constructor(code: string, syscall: string, path: string) {
    super(`${code}: ${syscall} '${path}'`)
    this.code = code
  }
}

export interface MemoryFsOptions {
  /** False: a filesystem without hard links (link fails with EPERM; copies take two steps). */
  links?: boolean
}

export class MemoryFs {
  readonly semantics: Semantics
  readonly links: boolean
  private dirs = new Set<string>(['/'])
  private names = new Map<string, NameEntry>()
  private inodes = new Map<number, Inode>()
  private fds = new Map<number, Descriptor>()
  /** Windows: names held open without sharing by a rename in progress, and by whom. */
  private held = new Map<string, string>()
  private nextInode = 1
  /** Descriptors are numbered per actor, so one actor's numbers do not depend on the others. */
  private fdCounters = new Map<string, number>()
  private clock = 1_000_000
  /** Per actor: how far its process clock is ahead of the filesystem's (negative: behind). */
  private skew = new Map<string, number>()
  /** Copies in progress (copy mode), by actor: the file created and the bytes it will hold. */
  private copying = new Map<string, { to: string; inode: number; data: Buffer }>()
  /** readWhole steps half done (opened, not yet read and closed), by actor: the descriptor. */
  private reading = new Map<string, number>()

  constructor(semantics: Semantics, options: MemoryFsOptions = {}) {
    this.semantics = semantics
    this.links = options.links ?? true
  }

  /** Sets `actor`'s process clock `ms` ahead of the filesystem's (negative: behind). */
  setClockSkew(actor: string, ms: number): void {
    this.skew.set(actor, ms)
  }

  /** A deep copy, so a prepared store can be the start of many runs. */
  clone(): MemoryFs {
    const copy = new MemoryFs(this.semantics, { links: this.links })
    copy.skew = new Map(this.skew)
    copy.copying = new Map([...this.copying].map(([actor, c]) => [actor, { ...c }]))
    copy.reading = new Map(this.reading)
    copy.dirs = new Set(this.dirs)
    copy.names = new Map([...this.names].map(([path, entry]) => [path, { ...entry }]))
    copy.inodes = new Map([...this.inodes].map(([id, inode]) => [id, { ...inode }]))
    copy.fds = new Map([...this.fds].map(([fd, d]) => [fd, { ...d }]))
    copy.held = new Map(this.held)
    copy.nextInode = this.nextInode
    copy.fdCounters = new Map(this.fdCounters)
    copy.clock = this.clock
    return copy
  }

  /**
   * Performs one transition of `step` for `actor`. A Windows rename onto an existing name takes
   * two: call again with the same step to finish it. Failures throw FsError with an errno code.
   */
  perform(step: Step, actor: string): Transition {
    switch (step.op) {
      case 'open':
        return done(this.open(step.path, step.how, actor))
      case 'fstat':
        return done(this.statOf(this.descriptor(step.fd, 'fstat').inode))
      case 'read': {
        const inode = this.inode(this.descriptor(step.fd, 'read').inode)
        return done(Buffer.from(inode.data.subarray(0, step.length)))
      }
      case 'readWhole':
        return this.readWhole(step.path, step.maxLength, actor)
      case 'write': {
        const descriptor = this.descriptor(step.fd, 'write')
        if (!descriptor.writable) throw new FsError('EBADF', 'write', String(step.fd))
        const inode = this.inode(descriptor.inode)
        inode.data = Buffer.concat([inode.data, step.data])
        inode.digest = undefined
        inode.mtimeMs = this.clock
        inode.ctimeMs = this.clock
        return done(undefined)
      }
      case 'fsync':
      case 'fsyncDir':
      case 'sleep':
      case 'chmod':
        return done(undefined)
      case 'close':
        this.close(step.fd)
        return done(undefined)
      case 'link':
        if (!this.links) throw new FsError('EPERM', 'link', step.to)
        this.link(step.from, step.to)
        return done(undefined)
      case 'copyExclusive':
        // As the real driver: a source that is no longer the inode the caller saw is refused.
        if (step.ino !== undefined && !this.copying.has(actor)) {
          const source = this.names.get(step.from)
          if (source !== undefined && source.inode !== step.ino)
            throw new FsError('ESTALE', 'copyfile', step.from)
        }
        if (!this.links) return this.copyInTwoSteps(step.from, step.to, actor)
        this.copy(step.from, step.to, true, actor)
        return done(undefined)
      case 'copy':
        this.copy(step.from, step.to, false, actor)
        return done(undefined)
      case 'rename':
        return this.rename(step.from, step.to, actor)
      case 'unlink':
        this.unlink(step.path)
        return done(undefined)
      case 'mkdir':
        this.mkdir(step.path)
        return done(undefined)
      case 'lstat':
      case 'stat':
        return done(this.lstat(step.path, actor))
      case 'utimes': {
        this.name(step.path, 'utime', actor)
        const inode = this.inode(this.names.get(step.path)?.inode ?? 0)
        inode.mtimeMs = step.timeMs
        inode.ctimeMs = this.clock
        return done(undefined)
      }
      case 'readdir':
        return done(this.readdir(step.path))
      case 'now':
        this.clock += 1
        return done(this.clock + (this.skew.get(actor) ?? 0))
    }
  }

  /** Moves the clock forward, to make files old. */
  advanceClock(ms: number): void {
    this.clock += ms
  }

  /** Closes every descriptor `actor` holds, as the OS does when a process dies. */
  closeAllOf(actor: string): void {
    this.copying.delete(actor) // a copy cut short leaves its partial file
    this.reading.delete(actor)
    for (const [fd, descriptor] of [...this.fds]) if (descriptor.owner === actor) this.close(fd)
    for (const [path, holder] of [...this.held]) if (holder === actor) this.held.delete(path)
  }

  /** Paths of files (not directories) under `prefix`, sorted. */
  filesUnder(prefix: string): string[] {
    return [...this.names.keys()].filter((path) => path.startsWith(prefix)).sort()
  }

  /** Who created the file at `path`. */
  creatorOf(path: string): string | undefined {
    const entry = this.names.get(path)
    return entry ? this.inodes.get(entry.inode)?.creator : undefined
  }

  /** The file's bytes, or undefined. */
  contentOf(path: string): Buffer | undefined {
    const entry = this.names.get(path)
    return entry ? this.inodes.get(entry.inode)?.data : undefined
  }

  /**
   * A canonical description of the whole state, for detecting states already explored: names
   * with their files' contents and metadata, inodes kept alive only by open descriptors, holds
   * and the clock. Inode numbers are renamed in order of first appearance so that two runs
   * reaching the same files by different paths compare equal. Directories are left out: after
   * the store is created they never change in the modelled operations.
   */
  fingerprint(): string {
    const canonical = new Map<number, number>()
    const idOf = (inode: number) => {
      let id = canonical.get(inode)
      if (id === undefined) {
        id = canonical.size
        canonical.set(inode, id)
      }
      return id
    }
    const parts: string[] = [`t${this.clock}`]
    for (const path of [...this.names.keys()].sort()) {
      const entry = this.names.get(path) as NameEntry
      parts.push(`${path}=${idOf(entry.inode)}${entry.deletePending ? 'D' : ''}`)
    }
    const fds = [...this.fds.values()]
      .map((d) => `${d.owner}:${idOf(d.inode)}:${d.writable ? 'w' : 'r'}`)
      .sort()
    parts.push(`fds ${fds.join(',')}`)
    for (const [inode, id] of [...canonical].sort((a, b) => a[1] - b[1])) {
      const node = this.inode(inode)
      node.digest ??= createHash('sha1').update(node.data).digest('base64')
      parts.push(`#${id} ${node.digest} ${node.mtimeMs} ${node.ctimeMs} ${node.links} ${node.open}`)
    }
    parts.push(`held ${[...this.held].sort().join(',')}`)
    const copies = [...this.copying]
      .map(
        ([actor, c]) => `${actor}:${c.to}:${this.inodes.has(c.inode) ? idOf(c.inode) : '-'}:${c.data.length}`,
      )
      .sort()
    if (copies.length > 0) parts.push(`copying ${copies.join(',')}`)
    if (this.reading.size > 0) parts.push(`reading ${[...this.reading.keys()].sort().join(',')}`)
    return parts.join('\n')
  }

  /**
   * open + read + close, in two transitions as on a real disk: the open (after which the name may
   * change, and on Windows the open file blocks deletes), then the read and close together (what
   * a read returns depends only on the open file, so splitting those adds no behaviour). The
   * async driver does not wait for the close; the descriptor outliving the step by one close
   * call adds no behaviour either: the file was already open across other actors' steps between
   * the two transitions, and the reader's own next steps touch other files or only its times.
   */
  private readWhole(path: string, maxLength: number, actor: string): Transition {
    const fd = this.reading.get(actor)
    if (fd === undefined) {
      this.reading.set(actor, this.open(path, 'read', actor))
      return { done: false, note: `opened ${path}` }
    }
    this.reading.delete(actor)
    const data = Buffer.from(this.inode(this.descriptor(fd, 'read').inode).data.subarray(0, maxLength))
    this.close(fd)
    return done(data)
  }

  private open(path: string, how: 'read' | 'create', actor: string): number {
    this.checkHeld(path, actor, 'open')
    const entry = this.names.get(path)
    if (how === 'read') {
      if (!entry) throw new FsError(this.dirs.has(path) ? 'EISDIR' : 'ENOENT', 'open', path)
      if (entry.deletePending) throw new FsError('EPERM', 'open', path)
      return this.newDescriptor(entry.inode, actor, false)
    }
    this.parent(path, 'open')
    if (entry) throw new FsError(entry.deletePending ? 'EPERM' : 'EEXIST', 'open', path)
    return this.newDescriptor(this.createEmpty(path, actor), actor, true)
  }

  /** A new empty file at `path` (which must be free), its times from the filesystem's clock. */
  private createEmpty(path: string, creator: string): number {
    const inode: Inode = {
      id: this.nextInode++,
      data: Buffer.alloc(0),
      mtimeMs: this.clock,
      ctimeMs: this.clock,
      links: 1,
      open: 0,
      creator,
      digest: undefined,
    }
    this.inodes.set(inode.id, inode)
    this.names.set(path, { inode: inode.id, deletePending: false })
    return inode.id
  }

  private newDescriptor(inode: number, owner: string, writable: boolean): number {
    const count = (this.fdCounters.get(owner) ?? 0) + 1
    this.fdCounters.set(owner, count)
    const fd = ownerNumber(owner) * 1000 + count
    if (this.fds.has(fd)) throw new Error('model bug: descriptor numbers collide')
    this.fds.set(fd, { inode, owner, writable })
    this.inode(inode).open += 1
    return fd
  }

  private close(fd: number): void {
    const descriptor = this.descriptor(fd, 'close')
    this.fds.delete(fd)
    const inode = this.inode(descriptor.inode)
    inode.open -= 1
    if (inode.open > 0) return
    // Windows: the last handle closed, so delete-pending names of this file finally go.
    for (const [path, entry] of [...this.names]) {
      if (entry.inode === inode.id && entry.deletePending) {
        this.names.delete(path)
        inode.links -= 1
      }
    }
    if (inode.links === 0) this.inodes.delete(inode.id)
  }

  private link(from: string, to: string): void {
    const source = this.name(from, 'link')
    this.parent(to, 'link')
    const existing = this.names.get(to)
    if (existing) throw new FsError(existing.deletePending ? 'EPERM' : 'EEXIST', 'link', to)
    this.names.set(to, { inode: source.inode, deletePending: false })
    const inode = this.inode(source.inode)
    inode.links += 1
    inode.ctimeMs = this.clock
  }

  private copy(from: string, to: string, exclusive: boolean, actor: string): void {
    const source = this.inode(this.name(from, 'copyfile').inode)
    this.parent(to, 'copyfile')
    const existing = this.names.get(to)
    if (existing?.deletePending) throw new FsError('EPERM', 'copyfile', to)
    if (existing && exclusive) throw new FsError('EEXIST', 'copyfile', to)
    if (existing) this.dropName(to)
    const inode: Inode = {
      ...source,
      id: this.nextInode++,
      ctimeMs: this.clock,
      links: 1,
      open: 0,
      creator: actor,
    }
    this.inodes.set(inode.id, inode)
    this.names.set(to, { inode: inode.id, deletePending: false })
  }

  /**
   * copyFile without hard links: the first transition opens the source and creates the empty
   * destination exclusively, the second writes the bytes read (a reader in between sees an
   * empty file). The new file's times are the filesystem's clock.
   */
  private copyInTwoSteps(from: string, to: string, actor: string): Transition {
    const pending = this.copying.get(actor)
    if (pending) {
      this.copying.delete(actor)
      const inode = this.inodes.get(pending.inode)
      if (inode) {
        inode.data = pending.data
        inode.digest = undefined
        inode.mtimeMs = this.clock
        inode.ctimeMs = this.clock
      }
      return done(undefined)
    }
    const source = this.inode(this.name(from, 'copyfile', actor).inode)
    this.parent(to, 'copyfile')
    const existing = this.names.get(to)
    if (existing) throw new FsError(existing.deletePending ? 'EPERM' : 'EEXIST', 'copyfile', to)
    this.copying.set(actor, { to, inode: this.createEmpty(to, actor), data: source.data })
    return { done: false, note: `created ${to}, copying` }
  }

  private rename(from: string, to: string, actor: string): Transition {
    const source = this.name(from, 'rename', actor)
    this.parent(to, 'rename')
    const existing = this.names.get(to)
    if (existing?.deletePending) throw new FsError('EPERM', 'rename', to)
    if (this.semantics === 'windows' && existing && this.held.get(to) !== actor) {
      this.checkHeld(to, actor, 'rename')
      // ReplaceFile: the destination is opened without sharing before it is replaced.
      this.held.set(to, actor)
      return { done: false, note: `holds ${to} open without sharing` }
    }
    this.held.delete(to)
    if (existing) this.dropName(to)
    this.names.delete(from)
    this.names.set(to, source)
    this.inode(source.inode).ctimeMs = this.clock
    return done(undefined)
  }

  private unlink(path: string): void {
    const entry = this.name(path, 'unlink')
    if (this.semantics === 'windows' && this.inode(entry.inode).open > 0) {
      entry.deletePending = true
      return
    }
    this.dropName(path)
  }

  private dropName(path: string): void {
    const entry = this.names.get(path) as NameEntry
    this.names.delete(path)
    const inode = this.inode(entry.inode)
    inode.links -= 1
    inode.ctimeMs = this.clock
    if (inode.links === 0 && inode.open === 0) this.inodes.delete(inode.id)
  }

  private mkdir(path: string): void {
    if (this.names.has(path)) throw new FsError('EEXIST', 'mkdir', path)
    let current = ''
    for (const part of path.split('/').slice(1)) {
      current += `/${part}`
      this.dirs.add(current)
    }
  }

  private lstat(path: string, actor: string): FileStat {
    if (this.dirs.has(path)) return { kind: 'directory', size: 0, mtimeMs: 0, ctimeMs: 0, ino: 0 }
    return this.statOf(this.name(path, 'lstat', actor).inode)
  }

  private readdir(path: string): string[] {
    if (!this.dirs.has(path)) throw new FsError('ENOENT', 'scandir', path)
    const prefix = `${path}/`
    const children = new Set<string>()
    for (const name of [...this.names.keys(), ...this.dirs]) {
      if (name.startsWith(prefix)) children.add(name.slice(prefix.length).split('/')[0] as string)
    }
    return [...children].sort()
  }

  private statOf(inodeId: number): FileStat {
    const inode = this.inode(inodeId)
    return {
      kind: 'file',
      size: inode.data.length,
      mtimeMs: inode.mtimeMs,
      ctimeMs: inode.ctimeMs,
      ino: inode.id,
    }
  }

  /** The name's entry; ENOENT if missing; on Windows EPERM if delete-pending or held by another. */
  private name(path: string, syscall: string, actor?: string): NameEntry {
    if (actor !== undefined) this.checkHeld(path, actor, syscall)
    const entry = this.names.get(path)
    if (!entry) throw new FsError('ENOENT', syscall, path)
    if (entry.deletePending) throw new FsError('EPERM', syscall, path)
    return entry
  }

  private checkHeld(path: string, actor: string, syscall: string): void {
    const holder = this.held.get(path)
    if (holder !== undefined && holder !== actor) throw new FsError('EPERM', syscall, path)
  }

  private parent(path: string, syscall: string): void {
    if (!this.parentExists(path)) throw new FsError('ENOENT', syscall, path)
  }

  private parentExists(path: string): boolean {
    return this.dirs.has(path.slice(0, path.lastIndexOf('/')) || '/')
  }

  private descriptor(fd: number, syscall: string): Descriptor {
    const descriptor = this.fds.get(fd)
    if (!descriptor) throw new FsError('EBADF', syscall, String(fd))
    return descriptor
  }

  private inode(id: number): Inode {
    const inode = this.inodes.get(id)
    if (!inode) throw new Error(`model bug: inode ${id} does not exist`)
    return inode
  }
}

/** A small number fixed by the actor's name (not by the order actors first opened files). */
function ownerNumber(owner: string): number {
  let hash = 7
  for (let i = 0; i < owner.length; i++) hash = (hash * 31 + owner.charCodeAt(i)) % 997
  return hash + 1
}

function done(value: unknown): Transition {
  return { done: true, value }
}

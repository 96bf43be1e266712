/**
 * The filesystem steps a store protocol is made of.
 *
 * Publishing, reading and deleting are written once, as generators that yield one `Step` per
 * filesystem call and receive its result. A driver performs the steps: `runSync` and `runAsync`
 * in fs.ts against the real disk (so the synchronous and asynchronous APIs share every line of
 * protocol logic and cannot drift), and a model checker can run the same generators against a
 * simulated filesystem, interleaving several actors one step at a time. A failed step is thrown
 * into the generator, so protocols use ordinary try/catch on errno codes.
 */

/** What `lstat`/`fstat` report. `kind` never follows symlinks when it came from `lstat`. */
export interface FileStat {
  kind: 'file' | 'directory' | 'symlink' | 'other'
  size: number
  mtimeMs: number
  /**
   * When the file's status last changed (a link, an unlink of another name, a rename, a write,
   * a `utimes`). Unlike the mtime it is set by the system's clock, never by a caller, so it
   * never goes backwards: the GC's sweep relies on that (sweep.ts).
   */
  ctimeMs: number
  /** Inode number: tells whether a name still points at the file that was opened. */
  ino: number
}

/**
 * How a file is opened. `read`: read-only, never following a symlink and never blocking on a
 * FIFO (a hostile entry must not hang a reader). `create`: write-only, exclusive create.
 */
export type OpenHow = 'read' | 'create'

export type Step =
  | { op: 'open'; path: string; how: OpenHow; mode: number }
  | { op: 'fstat'; fd: number }
  | { op: 'read'; fd: number; length: number }
  | { op: 'readWhole'; path: string; maxLength: number; sized: boolean }
  | { op: 'write'; fd: number; data: Uint8Array }
  | { op: 'fsync'; fd: number }
  | { op: 'close'; fd: number }
  | { op: 'link'; from: string; to: string }
  | { op: 'copyExclusive'; from: string; to: string; ino?: number }
  | { op: 'rename'; from: string; to: string }
  | { op: 'copy'; from: string; to: string }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'unlink'; path: string }
  | { op: 'mkdir'; path: string }
  | { op: 'lstat'; path: string }
  | { op: 'stat'; path: string }
  | { op: 'utimes'; path: string; timeMs: number }
  | { op: 'readdir'; path: string }
  | { op: 'fsyncDir'; path: string }
  | { op: 'now' }
  | { op: 'sleep'; ms: number }

/** A protocol: yields steps, returns T. */
export type Protocol<T> = Generator<Step, T, unknown>

export function* open(path: string, how: OpenHow, mode = 0o444): Protocol<number> {
  return (yield { op: 'open', path, how, mode }) as number
}

export function* fstat(fd: number): Protocol<FileStat> {
  return (yield { op: 'fstat', fd }) as FileStat
}

/** Reads up to `length` bytes from the start of the file; fewer only at end of file. */
export function* read(fd: number, length: number): Protocol<Buffer> {
  return (yield { op: 'read', fd, length }) as Buffer
}

/**
 * Opens `path` as `open(path, 'read')` does, reads up to `maxLength` bytes from its start in one
 * read call, and closes it: a small file in three system calls, with no fstat. The result may be
 * short of the file's length (a short read; on a FIFO, nothing), so a caller trusts it only when
 * its own lengths check out (a record's header, a content size) and otherwise looks again with
 * open, fstat and read. Errors of the open are thrown as they are. `sized`: the caller expects
 * `maxLength - 1` bytes (content of a known size), so the driver reads straight into a buffer of
 * that size rather than into a scratch buffer it copies out of.
 */
export function* readWhole(path: string, maxLength: number, sized: boolean): Protocol<Buffer> {
  return (yield { op: 'readWhole', path, maxLength, sized }) as Buffer
}

/** Writes all of `data` at the current end of a file opened with `create`. */
export function* write(fd: number, data: Uint8Array): Protocol<void> {
  yield { op: 'write', fd, data }
}

export function* fsync(fd: number): Protocol<void> {
  yield { op: 'fsync', fd }
}

export function* close(fd: number): Protocol<void> {
  yield { op: 'close', fd }
}

/** Creates `to` as a second name of `from`; fails with EEXIST if `to` exists. Atomic. */
export function* link(from: string, to: string): Protocol<void> {
  yield { op: 'link', from, to }
}

/**
 * Copies `from` to a new file `to`, failing with EEXIST if it exists. Not atomic. Never follows
 * a symlink at `from` and copies only a regular file (issue 13: a co-user who swaps the source
 * for a symlink must not get another file's bytes into the store): the driver opens `from`
 * without following, checks the descriptor, and copies from it. A symlink fails with ELOOP; a
 * file of another kind, or (given `ino`) another inode than the one the caller saw, with ESTALE.
 */
export function* copyExclusive(from: string, to: string, ino?: number): Protocol<void> {
  yield ino === undefined ? { op: 'copyExclusive', from, to } : { op: 'copyExclusive', from, to, ino }
}

/** Replaces `to` with `from`. Cairn never publishes this way; the model checker shows why. */
export function* rename(from: string, to: string): Protocol<void> {
  yield { op: 'rename', from, to }
}

/** Copies `from` over `to`, cloning (copy-on-write) where the filesystem can. */
export function* copy(from: string, to: string): Protocol<void> {
  yield { op: 'copy', from, to }
}

export function* chmod(path: string, mode: number): Protocol<void> {
  yield { op: 'chmod', path, mode }
}

export function* unlink(path: string): Protocol<void> {
  yield { op: 'unlink', path }
}

/** Creates a directory and its parents; succeeds if it exists. */
export function* mkdir(path: string): Protocol<void> {
  yield { op: 'mkdir', path }
}

export function* lstat(path: string): Protocol<FileStat> {
  return (yield { op: 'lstat', path }) as FileStat
}

/** Like lstat, but follows a symlink: only for the store directory itself. */
export function* stat(path: string): Protocol<FileStat> {
  return (yield { op: 'stat', path }) as FileStat
}

/** Sets a file's access and modification times, never following a symlink. */
export function* utimes(path: string, timeMs: number): Protocol<void> {
  yield { op: 'utimes', path, timeMs }
}

export function* readdir(path: string): Protocol<string[]> {
  return (yield { op: 'readdir', path }) as string[]
}

/** Flushes a directory's entries to disk (no-op where directories cannot be opened). */
export function* fsyncDir(path: string): Protocol<void> {
  yield { op: 'fsyncDir', path }
}

/** The store's clock, in ms since the epoch; injectable so tests and the model control time. */
export function* now(): Protocol<number> {
  return (yield { op: 'now' }) as number
}

export function* sleep(ms: number): Protocol<void> {
  yield { op: 'sleep', ms }
}

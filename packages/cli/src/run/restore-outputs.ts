import { chmodSync, createWriteStream, mkdirSync, rmSync, symlinkSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Hasher } from '@cairn/hash'
import type { CacheStore as Store } from '@cairn/remote'
import { SMALL_FILE_BYTES } from './file-digest.js'
import type { ManifestEntry, RunManifest } from './manifest.js'
import { onStop } from './on-stop.js'
import { replacePath, siblingName } from './replace-path.js'

/** What a hit restored. */
export interface RestoreResult {
  files: number
  bytes: number
}

/**
 * Why a hit restored nothing: an output file's entry is gone (the GC pruned it), or its bytes
 * do not match the digest the manifest names (the content file was damaged in place).
 */
export type RestoreFailure = { problem: 'missing' } | { problem: 'damaged'; path: string; digest: string }

/** The outcome of {@link restoreOutputs}. */
export type RestoreOutcome = RestoreResult | RestoreFailure

/** True if a restore put the outputs in place. */
export function restored(outcome: RestoreOutcome): outcome is RestoreResult {
  return !('problem' in outcome)
}

/** How many files are copied out of the store at once: enough to overlap the disk's latency. */
const PARALLEL_COPIES = 8

/**
 * Restores the outputs a manifest lists, relative to `cwd`: paths, bytes, file and directory
 * modes and symbolic links, replacing whatever is at each declared output (a stale file left
 * in an output directory does not survive a hit).
 *
 * Each declared output is first built complete beside its target (`.<name>.cairn-stage-…`),
 * then renamed into place ({@link replacePath}), only once every file is copied and checked;
 * so if a file's entry is gone (the GC pruned it since the manifest was written), or a file's
 * bytes do not hash to the digest the manifest names (checked while copying: a content file
 * damaged in place keeps its size, which is all the store checks on a read), this resolves to
 * that failure and the outputs on disk are left as they were for the command to rebuild.
 */
export async function restoreOutputs(
  store: Store,
  hasher: Hasher,
  manifest: RunManifest,
  cwd: string,
): Promise<RestoreOutcome> {
  const staged = new Map<string, string>()
  const removeStaged = () => {
    for (const stage of staged.values()) rmSync(stage, { recursive: true, force: true })
  }
  const unguard = onStop(removeStaged)
  try {
    for (const output of manifest.outputs) {
      const target = resolve(cwd, output)
      mkdirSync(dirname(target), { recursive: true })
      staged.set(output, siblingName(target, 'stage'))
    }
    const stagedPath = (path: string): string => {
      for (const [output, stage] of staged) {
        if (path === output) return stage
        if (path.startsWith(`${output}/`)) return resolve(stage, path.slice(output.length + 1))
      }
      // parseManifest accepts only paths under declared outputs.
      throw new Error(`manifest path ${JSON.stringify(path)} is outside the declared outputs`)
    }

    const directories = manifest.entries.filter(isDirectory)
    // Writable while being filled; the recorded modes are set at the end, deepest first.
    for (const entry of directories) mkdirSync(stagedPath(entry.path), { mode: 0o700 })

    const files = manifest.entries.filter(isFile)
    let failure: RestoreFailure | undefined
    await forEachLimited(files, PARALLEL_COPIES, async (entry) => {
      if (failure !== undefined) return
      const dest = stagedPath(entry.path)
      const copied = await restoreFile(store, hasher, entry, dest)
      if (copied !== 'ok') {
        failure ??=
          copied === 'missing'
            ? { problem: 'missing' }
            : { problem: 'damaged', path: entry.path, digest: entry.digest }
        return
      }
      chmodSync(dest, entry.mode)
    })
    if (failure !== undefined) return failure

    for (const entry of manifest.entries) {
      if (entry.type === 'symlink') symlinkSync(entry.target, stagedPath(entry.path))
    }
    for (const entry of [...directories].reverse()) chmodSync(stagedPath(entry.path), entry.mode)

    for (const [output, stage] of staged) {
      replacePath(stage, resolve(cwd, output))
      staged.delete(output)
    }
    return { files: files.length, bytes: files.reduce((sum, file) => sum + file.size, 0) }
  } finally {
    unguard()
    removeStaged()
  }
}

/**
 * The bytes of a blob (an output file, stdout or stderr), stored under its own content digest,
 * or undefined when it is gone. Reading it refreshes its last use, as a hit on the manifest
 * does, so the GC ages a run's blobs with the run rather than evicting the blobs of a run that
 * is hit every day. An entry under `digest` holding other bytes (someone ran `cairn put` with a
 * wrong key) is removed, so that the next miss can store the right ones: the first writer wins.
 */
export function readBlob(store: Store, digest: string): Buffer | undefined {
  const entry = store.getSync(digest)
  if (entry === undefined) return undefined
  if (entry.digest === digest) return entry.data
  store.deleteSync(digest)
  return undefined
}

/**
 * The bytes of a blob as {@link readBlob} gives them, checked against `digest` by hashing them:
 * 'damaged' when they do not match (the content file changed in place, keeping its size).
 */
export function readCheckedBlob(
  store: Store,
  hasher: Hasher,
  digest: string,
): Buffer | 'missing' | 'damaged' {
  const data = readBlob(store, digest)
  if (data === undefined) return 'missing'
  return hasher.bytes(data) === digest ? data : 'damaged'
}

/**
 * Writes one output file's blob to `dest` (which must not exist), hashing the bytes as they are
 * copied: 'missing' when the blob is gone or is not what the manifest names, 'damaged' when its
 * bytes do not hash to the manifest's digest. Small files are read whole (one synchronous
 * record or content read) and written asynchronously, so that up to PARALLEL_COPIES file
 * creations, the slow part on ext4, overlap; large ones are streamed, in bounded memory.
 */
async function restoreFile(
  store: Store,
  hasher: Hasher,
  file: ManifestEntry & { type: 'file' },
  dest: string,
): Promise<'ok' | 'missing' | 'damaged'> {
  if (file.size <= SMALL_FILE_BYTES) {
    const data = readCheckedBlob(store, hasher, file.digest)
    if (typeof data === 'string') return data
    await writeFile(dest, data, { flag: 'wx', mode: 0o600 })
    return 'ok'
  }
  const opened = await store.getStream(file.digest)
  if (opened === undefined) return 'missing'
  if (opened.info.digest !== file.digest) {
    opened.stream.destroy()
    await store.delete(file.digest)
    return 'missing'
  }
  const digest = hasher.stream()
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      digest.update(chunk)
      done(null, chunk)
    },
  })
  await pipeline(opened.stream, hashing, createWriteStream(dest, { flags: 'wx', mode: 0o600 }))
  return digest.digest() === file.digest ? 'ok' : 'damaged'
}

function isDirectory(entry: ManifestEntry): entry is ManifestEntry & { type: 'directory' } {
  return entry.type === 'directory'
}

function isFile(entry: ManifestEntry): entry is ManifestEntry & { type: 'file' } {
  return entry.type === 'file'
}

/**
 * Runs `task` on every item, at most `limit` at a time. After a failure no new task starts, and
 * the first failure is thrown once every running task has settled, so nothing is still writing
 * into the staging directories when the caller removes them.
 */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const item = items[next++] as T
      try {
        await task(item)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure) throw failure.error
}

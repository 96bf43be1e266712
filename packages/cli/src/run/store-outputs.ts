import { closeSync, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs'
import type { Hasher } from '@cairn/hash'
import type { CacheStore as Store } from '@cairn/remote'
import { type CollectedEntry, type FileStamp, NotCacheableError, stampOf } from './collect-outputs.js'
import { SMALL_FILE_BYTES } from './file-digest.js'
import type { ManifestEntry } from './manifest.js'
import { manifestEntryOf } from './manifest-entry.js'

/**
 * Stores the content of every collected output file as its own entry, keyed by its content
 * digest (a digest is a valid key), and returns the manifest entries naming them. Equal files,
 * in this run or any other, share one entry and one content file.
 *
 * A file that changes while it is stored (another process is writing it) would be cached with
 * bytes no run produced, so every file is checked against the stamp (size, mtime, inode) taken
 * when it was collected, after it is read; a difference throws NotCacheableError and the run is
 * not cached. Blobs already stored stay: they are valid content, and the GC removes them if no
 * manifest ever names them.
 */
export async function storeOutputFiles(
  store: Store,
  hasher: Hasher,
  entries: readonly CollectedEntry[],
): Promise<ManifestEntry[]> {
  const manifestEntries: ManifestEntry[] = []
  for (const entry of entries) {
    manifestEntries.push(
      await manifestEntryOf(entry, (file) => storeFile(store, hasher, file.absolute, file.stamp, file.path)),
    )
  }
  return manifestEntries
}

/** Stores bytes in memory (captured stdout or stderr) under their digest; returns the digest. */
export function storeBytes(store: Store, hasher: Hasher, bytes: Uint8Array): string {
  const digest = hasher.bytes(bytes)
  store.putSync(digest, bytes)
  return digest
}

async function storeFile(
  store: Store,
  hasher: Hasher,
  absolute: string,
  stamp: FileStamp,
  path: string,
): Promise<string> {
  let digest: string
  if (stamp.size <= SMALL_FILE_BYTES) {
    digest = storeBytes(store, hasher, readSmallFile(absolute, stamp, path))
  } else {
    digest = await hasher.file(absolute)
    const result = await store.putFile(digest, absolute)
    if (result.digest !== digest) {
      // The bytes changed between hashing and storing: the entry must not keep the wrong name.
      if (result.published) await store.delete(digest)
      throw changed(path)
    }
  }
  const after = stampOf(lstatSync(absolute))
  if (!sameStamp(after, stamp)) throw changed(path)
  return digest
}

function readSmallFile(absolute: string, stamp: FileStamp, path: string): Buffer {
  const fd = openSync(absolute, 'r')
  try {
    if (!sameStamp(stampOf(fstatSync(fd)), stamp)) throw changed(path)
    const bytes = readFileSync(fd)
    if (bytes.length !== stamp.size) throw changed(path)
    return bytes
  } finally {
    closeSync(fd)
  }
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino
}

function changed(path: string): NotCacheableError {
  return new NotCacheableError(`the output ${JSON.stringify(path)} changed while it was being stored`)
}

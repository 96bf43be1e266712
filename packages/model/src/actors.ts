/**
 * The actors of a model run: each is one store operation, run as the store's own protocol
 * generator (the same code `Store` runs), or as the GC's removal protocol. A variant that
 * publishes with rename, as LLVM's ThinLTO cache did, shows why Cairn does not.
 */

import { filesystemNow, removeContentIfUnused, removeEntryIfUnused } from '@cairn/gc/protocol'
import type { Hasher } from '@cairn/hash'
import { decodeRecord, Layout } from '@cairn/store'
import {
  close,
  deleteEntry,
  errnoOf,
  type FileStat,
  fstat,
  lstat,
  open,
  type Protocol,
  putEntry,
  type ReadOutcome,
  read,
  readdir,
  readEntry,
  rename,
  type StoreContext,
  unlinkQuietly,
  writeTemp,
} from '@cairn/store/protocol'

/** The store directory inside the model filesystem. */
export const STORE_DIR = '/s'

export type Platform = 'win32' | 'linux'

/** What an actor needs to build its protocol. */
export interface ActorEnvironment {
  hasher: Hasher
  /** Which platform's read rules the store code applies (Windows' busy-file retries, or not). */
  platform: Platform
  /** How writers publish: `link` (default), or `copy` on a filesystem without hard links. */
  publishMode?: StoreContext['publishMode']
}

export interface ActorSpec {
  /** Unique within a configuration; also names the actor's temp files. */
  name: string
  /** One line for traces and reports, e.g. `put k1 = A`. */
  summary: string
  start(ctx: StoreContext): Protocol<unknown>
  /** Checks the actor's result when it finishes; returns what is wrong, if anything. */
  check?(result: unknown): string | undefined
}

/** A store context for one actor, with temp names fixed by the actor's name. */
export function contextFor(name: string, env: ActorEnvironment): StoreContext {
  return {
    layout: new Layout(STORE_DIR, name),
    hasher: env.hasher,
    digestLength: 32,
    verify: 'size',
    touchInterval: 0,
    durable: false,
    publishMode: env.publishMode ?? 'link',
    platform: env.platform,
    stats: { hits: 0, misses: 0, puts: 0, published: 0, corrupt: 0 },
  }
}

/** `put key = value` through the store's real put protocol. */
export function putActor(name: string, key: string, label: string, value: Buffer): ActorSpec {
  return {
    name,
    summary: `put ${short(key)} = ${label}`,
    start: (ctx) => putEntry(ctx, key, { kind: 'buffer', data: value }, undefined),
  }
}

/**
 * `get key` through the store's real read protocol; the result must be a miss or exactly one of
 * `allowed` (the values some put in the configuration writes under this key).
 */
export function getActor(name: string, key: string, allowed: Map<string, Buffer>): ActorSpec {
  return {
    name,
    summary: `get ${short(key)}`,
    start: (ctx) => readEntry(ctx, key, 'data'),
    check(result) {
      const outcome = result as ReadOutcome
      if (!outcome.found) return undefined
      for (const value of allowed.values()) if (outcome.data?.equals(value)) return undefined
      return `get ${short(key)} returned ${outcome.data?.length ?? 0} bytes that no put wrote`
    },
  }
}

export function deleteActor(name: string, key: string): ActorSpec {
  return { name, summary: `delete ${short(key)}`, start: (ctx) => deleteEntry(ctx, key) }
}

/**
 * A GC pruning to zero with the GC's own removal steps (`@cairn/gc/protocol`, the generators
 * `prune` runs): read every entry record of the given shards, remove each through
 * removeEntryIfUnused (which re-checks the record's inode and mtime and keeps an entry used
 * since the scan), then sweep content no surviving entry references through
 * removeContentIfUnused (the GC's half of the content handshake), with prune's cutoff: the scan's
 * start minus the grace, the start read from the filesystem's clock as prune reads it
 * (filesystemNow: the mtime of a file it creates), not from the GC's process clock. It scans only the shards the configuration's keys and digests live in:
 * the other 254 are empty in a model run, and reading an empty directory changes nothing.
 */
export function gcActor(name: string, keys: string[], digests: string[], graceMs: number): ActorSpec {
  return {
    name,
    summary: `gc prune to zero (grace ${graceMs} ms)`,
    start: (ctx) => pruneToZero(ctx, keys, digests, graceMs),
  }
}

function* pruneToZero(
  ctx: StoreContext,
  keys: string[],
  digests: string[],
  graceMs: number,
): Protocol<number> {
  const started = yield* filesystemNow(ctx)
  const survivors = new Set<string>()
  let removed = 0
  for (const shard of unique(keys.map((key) => key.slice(0, 2)))) {
    for (const name of yield* readdirOrEmpty(ctx.layout.entryShard(shard))) {
      const seen = yield* readRecordFile(`${ctx.layout.entryShard(shard)}/${name}`)
      if (!seen) continue
      const digest = decodeDigest(seen.bytes)
      const outcome = yield* removeEntryIfUnused(ctx, name, seen.stat)
      if (outcome === 'removed') removed += 1
      else if (outcome === 'used' && digest) survivors.add(digest)
    }
  }
  for (const shard of unique(digests.map((digest) => digest.slice(0, 2)))) {
    for (const digest of yield* readdirOrEmpty(ctx.layout.contentShard(shard))) {
      if (survivors.has(digest)) continue
      const stat = yield* lstatOrUndefined(ctx.layout.contentPath(digest))
      if (!stat) continue
      yield* removeContentIfUnused(ctx, digest, stat.mtimeMs, started - graceMs)
    }
  }
  return removed
}

function* readRecordFile(path: string): Protocol<{ bytes: Buffer; stat: FileStat } | undefined> {
  let fd: number
  try {
    fd = yield* open(path, 'read')
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
  try {
    const stat = yield* fstat(fd)
    return { bytes: yield* read(fd, stat.size), stat }
  } finally {
    yield* close(fd)
  }
}

function decodeDigest(bytes: Buffer): string | undefined {
  const record = decodeRecord(bytes, 32)
  return typeof record === 'string' || record.inline ? undefined : record.digest
}

function* readdirOrEmpty(path: string): Protocol<string[]> {
  try {
    return yield* readdir(path)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return []
    throw error
  }
}

function* lstatOrUndefined(path: string): Protocol<FileStat | undefined> {
  try {
    return yield* lstat(path)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
}

/**
 * The protocol Cairn rejects, as LLVM's ThinLTO cache used it: write a temp file, then rename it
 * over the final name. Small values only (one record, content inline).
 */
export function renamePutActor(name: string, key: string, label: string, record: Buffer): ActorSpec {
  return {
    name,
    summary: `put ${short(key)} = ${label} (publishing with rename)`,
    start: (ctx) => putWithRename(ctx, key, record),
  }
}

function* putWithRename(ctx: StoreContext, key: string, record: Buffer): Protocol<void> {
  const temp = yield* writeTemp(ctx, record)
  try {
    yield* rename(temp, ctx.layout.entryPath(key))
  } catch (error) {
    yield* unlinkQuietly(temp)
    throw error
  }
}

export function short(hex: string): string {
  return hex.slice(0, 6)
}

function unique(values: string[]): string[] {
  return [...new Set(values)].sort()
}

/** A `cairn run` as the GC sees it: a manifest entry and the blob entries it names. */
export interface RunGroup {
  manifest: string
  blobs: string[]
}

/**
 * A GC evicting one run whole, in the order prune uses (run-groups.ts): scan the manifest's and
 * the blobs' records, remove the manifest through removeEntryIfUnused, and only if it went,
 * each blob the same way. A manifest a hit used since the scan stays, and its blobs with it.
 */
export function runGcActor(name: string, run: RunGroup): ActorSpec {
  return { name, summary: `gc evicts run ${short(run.manifest)}`, start: (ctx) => evictRun(ctx, run) }
}

function* evictRun(ctx: StoreContext, run: RunGroup): Protocol<number> {
  const seen = new Map<string, FileStat>()
  for (const key of [run.manifest, ...run.blobs]) {
    const record = yield* readRecordFile(ctx.layout.entryPath(key))
    if (record) seen.set(key, record.stat)
  }
  const manifestSeen = seen.get(run.manifest)
  if (manifestSeen === undefined) return 0
  if ((yield* removeEntryIfUnused(ctx, run.manifest, manifestSeen)) === 'used') return 0
  let removed = 1
  for (const key of run.blobs) {
    const stat = seen.get(key)
    if (stat && (yield* removeEntryIfUnused(ctx, key, stat)) === 'removed') removed += 1
  }
  return removed
}

/**
 * The naive order a GC planning entry by entry could take: the blobs first (they were the
 * least recently used), then the manifest. Kept to show why prune removes manifests first.
 */
export function blobsFirstGcActor(name: string, run: RunGroup): ActorSpec {
  return {
    name,
    summary: `gc evicts run ${short(run.manifest)}, blobs first`,
    start: (ctx) => evictBlobsFirst(ctx, run),
  }
}

function* evictBlobsFirst(ctx: StoreContext, run: RunGroup): Protocol<number> {
  const order = [...run.blobs, run.manifest]
  const seen = new Map<string, FileStat>()
  for (const key of order) {
    const record = yield* readRecordFile(ctx.layout.entryPath(key))
    if (record) seen.set(key, record.stat)
  }
  let removed = 0
  for (const key of order) {
    const stat = seen.get(key)
    if (stat && (yield* removeEntryIfUnused(ctx, key, stat)) === 'removed') removed += 1
  }
  return removed
}

/**
 * A `cairn run` hit: read the manifest (a use: it refreshes the record), then every blob it
 * names. Any of them missing makes it a miss, which is always allowed.
 */
export function runHitActor(name: string, run: RunGroup): ActorSpec {
  return { name, summary: `hit run ${short(run.manifest)}`, start: (ctx) => hitRun(ctx, run) }
}

function* hitRun(ctx: StoreContext, run: RunGroup): Protocol<boolean> {
  if (!(yield* readEntry(ctx, run.manifest, 'data')).found) return false
  for (const key of run.blobs) if (!(yield* readEntry(ctx, key, 'data')).found) return false
  return true
}

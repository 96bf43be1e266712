import { lstatSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import {
  type CacheStore,
  openRemoteStore,
  type RemoteFlags,
  RemoteStore,
  recordRemoteStats,
  remoteOptionsFromEnv,
  remoteStatsPath,
} from '@cairn/remote'
import { CairnError, MARKER_FILE, openStore, Store } from '@cairn/store'
import { errnoOf } from '@cairn/store/protocol'
import { UsageError } from './args.js'
import { compressionOption } from './compression-option.js'
import { type Io, writeLine } from './io.js'
import { resolveStoreDir } from './store-dir.js'

/**
 * The one place the CLI opens a store: every subcommand goes through {@link openStoreForWriting},
 * {@link openStoreForReading} or {@link openStoreIfExists}, so options that apply to every store
 * the CLI uses (a remote tier, say) are wired here and nowhere else. The remote tier is used by
 * `run`, `put`, `get` and `has`; `rm`, `ls`, `stats`, `verify` and `gc` are about the local
 * store only (a remote cache cannot be listed, and other machines' copies are not ours to remove).
 */

/** A store a command may read, and where it is (or would be). */
export interface ExistingStore {
  /** The store directory, absolute. */
  dir: string
  /** Undefined when there is no store there yet. */
  store: Store | undefined
}

/**
 * Opens the store chosen by `--store` (`flag`) or the environment, creating it if it does not
 * exist: for commands that write (`run`, `put`, and `get`/`has` with a remote tier, which store
 * what they download). `remote` is the command line's remote flags; `compression` its
 * --compression (else CAIRN_COMPRESSION), the codec new content is written with. A bad remote
 * or compression setting, from them or the environment, is a UsageError with `usage`.
 */
export async function openStoreForWriting(
  flag: string | undefined,
  io: Io,
  remote: RemoteFlags = {},
  usage?: string,
  compression?: string,
): Promise<CacheStore> {
  const dir = resolveStoreDir(flag, io.env, io.cwd)
  const codec = compressionOption(compression, io.env, usage)
  const local = { ...localOptions(io), ...(codec === undefined ? {} : { compression: codec }) }
  const options = remoteOptions(io, remote, usage)
  try {
    if (options === undefined) return await openStore(dir, local)
    return await openRemoteStore(dir, {
      ...local,
      remote: { warn: (line) => writeLine(io.stderr, line), ...options },
    })
  } catch (error) {
    throw asUsageError(error, usage)
  }
}

/**
 * Opens the store for a command that reads entries (`get`, `has`). Without a remote tier this
 * is {@link openStoreIfExists}: undefined when there is no store yet. With one (`--remote`,
 * CAIRN_REMOTE), the store is opened, and created if need be, as for writing: a local miss
 * asks the remote, and what it serves is checked and published locally before it is read.
 */
export async function openStoreForReading(
  flag: string | undefined,
  io: Io,
  remote: RemoteFlags = {},
  usage?: string,
): Promise<CacheStore | undefined> {
  // What a remote tier downloads is stored with CAIRN_COMPRESSION's codec.
  if (remoteOptions(io, remote, usage) !== undefined) return openStoreForWriting(flag, io, remote, usage)
  return (await openStoreIfExists(flag, io)).store
}

/**
 * --remote/--remote-header, else CAIRN_REMOTE and CAIRN_REMOTE_HEADERS: a tier over a shared
 * cache, or undefined for none.
 */
function remoteOptions(io: Io, remote: RemoteFlags, usage: string | undefined) {
  try {
    return remoteOptionsFromEnv(io.env, remote)
  } catch (error) {
    throw asUsageError(error, usage)
  }
}

/**
 * A bad remote option (a URL that does not parse, a header without a colon, a bad
 * CAIRN_REMOTE_MODE) or compression level out of range (gzip:42) is bad usage: exit 2 with the
 * command's usage line, like any other bad option. Other errors are left as they are.
 */
function asUsageError(error: unknown, usage: string | undefined): unknown {
  if (!(error instanceof CairnError) || error.code !== 'ERR_CAIRN_INVALID_OPTION') return error
  return new UsageError(error.message, usage)
}

/**
 * Before the command exits: waits for a remote store's uploads and adds its counters to the
 * store's remote-stats.jsonl for `cairn stats`. Nothing for a plain store.
 */
export async function closeStore(store: CacheStore): Promise<void> {
  if (!(store instanceof RemoteStore)) return
  await store.flush()
  await recordRemoteStats(
    remoteStatsPath(store.dir),
    store.remoteStats(),
    undefined,
    Store.fileGuard(store.local),
  )
}

/**
 * Opens the store chosen by `--store` or the environment for a command that only reads or
 * removes (`get`, `has`, `rm`, `ls`, `stats`, `verify`): `store` is undefined when there is no
 * store yet (the directory is missing or empty), so that looking does not create
 * `~/.cache/cairn` as a side effect. A non-empty directory that is not a store is still refused
 * by openStore, with its message.
 */
export async function openStoreIfExists(flag: string | undefined, io: Io): Promise<ExistingStore> {
  const dir = resolveStoreDir(flag, io.env, io.cwd)
  try {
    lstatSync(join(dir, MARKER_FILE))
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error
    if (isMissingOrEmpty(dir)) return { dir, store: undefined }
  }
  return { dir, store: await openStore(dir, localOptions(io)) }
}

/**
 * What every command's store takes from the environment: CAIRN_ALLOW_FOREIGN_OWNER=1 lets a
 * root `cairn` write into a store another user owns (openStore's `allowForeignOwner`).
 */
function localOptions(io: Io): { allowForeignOwner: boolean } {
  return { allowForeignOwner: io.env.CAIRN_ALLOW_FOREIGN_OWNER === '1' }
}

function isMissingOrEmpty(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0
  } catch (error) {
    // ENOTDIR and the rest: let openStore say what is wrong, in its words.
    return errnoOf(error) === 'ENOENT'
  }
}

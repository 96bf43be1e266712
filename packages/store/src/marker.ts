/**
 * The marker file `cairn-store.json` identifies a directory as a Cairn store and records what
 * every process using it must agree on: the format version, the digest algorithm and the publish
 * mode. It is written once, when the store is created, and published with link like everything
 * else, so two processes creating one store at once agree on a single marker.
 */

import { ALGORITHMS, type Algorithm } from '@cairn/hash'
import type { PublishMode } from './context.js'
import { CairnError, errnoOf, ioError } from './errors.js'
import {
  CACHEDIR_TAG_FILE,
  CONTENT_DIR,
  ENTRIES_DIR,
  type Layout,
  SHARDS,
  STORE_FORMAT_VERSION,
  TMP_DIR,
} from './layout.js'
import { NO_LINKS, type TempContext, unlinkQuietly, writeTemp } from './publish.js'
import { closeQuietly, openForReading } from './read.js'
import { copyExclusive, fstat, link, lstat, mkdir, type Protocol, read, readdir, stat } from './steps.js'

export interface Marker {
  version: number
  algorithm: Algorithm
  publish: PublishMode
}

const MARKER_MAX_BYTES = 4096

const CACHEDIR_TAG = `Signature: 8a477f597d28d172789f06886806bc55
# This file is a cache directory tag created by Cairn, a build cache.
# Backup tools that honour the tag skip this directory: everything in it can be rebuilt.
# For information about cache directory tags, see https://bford.info/cachedir/
`

/**
 * Opens the store at `layout.dir`, creating it if the directory is missing or empty, and
 * returns its marker. `wanted` is the algorithm the caller asked for, if any.
 */
export function* openOrCreate(
  layout: Layout,
  wanted: Algorithm | undefined,
  durable: boolean,
): Protocol<Marker> {
  yield* ensureDirectory(layout.dir)
  const existing = yield* readMarker(layout)
  if (existing) return checkAlgorithm(layout, existing, wanted)

  const leftovers = yield* notLeftByCreation(layout)
  if (leftovers.length > 0) {
    // Another process may have finished creating the store, and started using it, while we
    // looked: its marker is the proof that what we saw is a store's.
    const created = yield* readMarker(layout)
    if (created) return checkAlgorithm(layout, created, wanted)
    const shown = leftovers.slice(0, 3).map((name) => JSON.stringify(name))
    throw new CairnError(
      'ERR_CAIRN_NOT_A_STORE',
      `${layout.dir} is not empty and is not a Cairn store (it holds ${shown.join(', ')}${leftovers.length > 3 ? ', ...' : ''}). ` +
        'Cairn creates stores only in missing or empty directories, so a mistyped path never writes into your files: check the path, or choose an empty directory.',
      { path: layout.dir },
    )
  }

  // A new store. Everything below is idempotent, so racing creators end up with the same tree.
  for (const shard of SHARDS) {
    yield* mkdir(layout.entryShard(shard))
    yield* mkdir(layout.contentShard(shard))
  }
  yield* mkdir(layout.tmp)
  const ctx: TempContext = { layout, durable }
  // Where hard links fail, the tag is copied into place as the marker is below: a copy-mode
  // store needs it as much (backup tools skip the directory only if the tag is there).
  const tag = Buffer.from(CACHEDIR_TAG)
  if ((yield* publishOnce(ctx, tag, layout.cachedirTag, 'link')) === 'no-links')
    yield* publishOnce(ctx, tag, layout.cachedirTag, 'copy')

  const marker: Marker = { version: STORE_FORMAT_VERSION, algorithm: wanted ?? 'xxh128', publish: 'link' }
  const published = yield* publishOnce(ctx, markerBytes(marker), layout.marker, 'link')
  if (published === 'no-links') {
    marker.publish = 'copy'
    yield* publishOnce(ctx, markerBytes(marker), layout.marker, 'copy')
  }
  // Read back what was published: another creator may have won with its own marker.
  const winner = yield* readMarker(layout)
  if (!winner)
    throw new CairnError(
      'ERR_CAIRN_FORMAT',
      `The marker ${layout.marker} vanished while the store was being created.`,
      { path: layout.marker },
    )
  return checkAlgorithm(layout, winner, wanted)
}

/** What a store's creation leaves under `tmp/` before its marker exists: its own temp files. */
const CREATION_TEMP = /^\d+-[0-9a-f]{8}-\d+$/
const SHARD_NAME = /^[0-9a-f]{2}$/

/**
 * The names in a directory without a marker that a store's creation cannot have left there.
 * Creation makes empty shard directories, then `tmp/` and its temp files, then `CACHEDIR.TAG`,
 * and publishes the marker last, so a creator that crashed (or one still running beside us)
 * leaves nothing else. Anything more means the directory is someone's files, whatever their
 * names: a directory that merely holds `tmp/` and `content/` must never become a store, or the
 * GC would later delete those files as debris.
 */
function* notLeftByCreation(layout: Layout): Protocol<string[]> {
  const found: string[] = []
  for (const name of yield* readdir(layout.dir)) {
    const path = `${layout.dir}/${name}`
    if (name === CACHEDIR_TAG_FILE) continue
    if (
      (name === ENTRIES_DIR || name === CONTENT_DIR || name === TMP_DIR) &&
      !(yield* isRealDirectory(path))
    ) {
      // A symlink there would make the creation below write wherever it points.
      found.push(name)
    } else if (name === ENTRIES_DIR || name === CONTENT_DIR) {
      for (const shard of yield* readdirOrFile(path)) {
        if (!SHARD_NAME.test(shard) || (yield* readdirOrFile(`${path}/${shard}`)).length > 0) {
          found.push(`${name}/${shard}`)
        }
      }
    } else if (name === TMP_DIR) {
      for (const temp of yield* readdirOrFile(path))
        if (!CREATION_TEMP.test(temp)) found.push(`${name}/${temp}`)
    } else {
      found.push(name)
    }
  }
  return found
}

function* isRealDirectory(path: string): Protocol<boolean> {
  try {
    return (yield* lstat(path)).kind === 'directory'
  } catch {
    return true // gone: readdirOrFile lists nothing
  }
}

/** A directory's names; a file where a directory should be lists as one foreign name. */
function* readdirOrFile(path: string): Protocol<string[]> {
  try {
    return yield* readdir(path)
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT') return []
    if (code === 'ENOTDIR') return ['(a file)']
    throw ioError(error, 'opening the store', path)
  }
}

function* ensureDirectory(dir: string): Protocol<void> {
  let kind: string
  try {
    kind = (yield* stat(dir)).kind
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw ioError(error, 'opening the store', dir)
    try {
      yield* mkdir(dir)
    } catch (mkdirError) {
      throw ioError(mkdirError, 'creating the store', dir)
    }
    return
  }
  if (kind !== 'directory') {
    throw new CairnError(
      'ERR_CAIRN_NOT_A_STORE',
      `${dir} is a ${kind === 'file' ? 'file' : kind}, not a directory: a store is a directory. Check the path.`,
      { path: dir },
    )
  }
}

/** Publishes `bytes` at `path` unless something is already there. */
function* publishOnce(
  ctx: TempContext,
  bytes: Buffer,
  path: string,
  how: PublishMode,
): Protocol<'done' | 'no-links'> {
  const temp = yield* writeTemp(ctx, bytes)
  try {
    if (how === 'link') yield* link(temp, path)
    else yield* copyExclusive(temp, path)
    return 'done'
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'EEXIST') return 'done'
    if (how === 'link' && code !== undefined && NO_LINKS.has(code)) return 'no-links'
    throw ioError(error, 'creating', path)
  } finally {
    yield* unlinkQuietly(temp)
  }
}

function markerBytes(marker: Marker): Buffer {
  return Buffer.from(`${JSON.stringify({ cairn: 'store', ...marker })}\n`)
}

/** Reads and checks the marker; undefined if there is none. */
export function* readMarker(layout: Layout): Protocol<Marker | undefined> {
  const fd = yield* openForReading({ platform: process.platform }, layout.marker)
  if (fd === 'absent') return undefined
  if (typeof fd === 'string')
    throw badMarker(layout, `it is ${fd === 'busy' ? 'locked by another process' : 'not a regular file'}`)
  let text: string
  try {
    const info = yield* fstat(fd)
    if (info.kind !== 'file' || info.size > MARKER_MAX_BYTES)
      throw badMarker(layout, 'it is not a small regular file')
    text = (yield* read(fd, info.size)).toString('utf8')
  } finally {
    yield* closeQuietly(fd)
  }
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(text)
  } catch {
    throw badMarker(layout, 'it is not valid JSON')
  }
  const { cairn, version, algorithm, publish } = parsed ?? {}
  if (cairn !== 'store' || typeof version !== 'number' || !Number.isInteger(version)) {
    throw badMarker(layout, 'it does not name a Cairn store format')
  }
  if (version > STORE_FORMAT_VERSION) {
    throw new CairnError(
      'ERR_CAIRN_FORMAT',
      `The store at ${layout.dir} has format ${version}, newer than this Cairn understands (${STORE_FORMAT_VERSION}). Upgrade Cairn, or use another store directory.`,
      { path: layout.marker },
    )
  }
  if (version !== STORE_FORMAT_VERSION) throw badMarker(layout, `format ${version} is unknown`)
  if (!ALGORITHMS.includes(algorithm as Algorithm))
    throw badMarker(layout, `algorithm ${JSON.stringify(algorithm)} is unknown`)
  if (publish !== 'link' && publish !== 'copy')
    throw badMarker(layout, `publish mode ${JSON.stringify(publish)} is unknown`)
  return { version, algorithm: algorithm as Algorithm, publish }
}

function badMarker(layout: Layout, why: string): CairnError {
  return new CairnError(
    'ERR_CAIRN_FORMAT',
    `The store marker ${layout.marker} is unreadable: ${why}. If the directory is a Cairn store, remove the directory and let Cairn recreate it; otherwise check the path.`,
    { path: layout.marker },
  )
}

function checkAlgorithm(layout: Layout, marker: Marker, wanted: Algorithm | undefined): Marker {
  if (wanted === undefined || wanted === marker.algorithm) return marker
  throw new CairnError(
    'ERR_CAIRN_ALGORITHM_MISMATCH',
    `The store at ${layout.dir} uses ${marker.algorithm} digests, but ${wanted} was asked for. Open it without an algorithm (or with ${marker.algorithm}), or use another directory for ${wanted}.`,
    { path: layout.marker },
  )
}

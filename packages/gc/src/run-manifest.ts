/**
 * `cairn run` manifests, as the GC sees them. A run is stored as one entry per output file and
 * per captured stdout and stderr, each keyed by its own content digest ("blobs"), plus the
 * manifest: an entry keyed by the run's key whose content (JSON, docs/FORMAT.md) names those
 * digests and whose metadata says `"cairnRun": 1`. A manifest is only useful while every blob
 * it names is there, so the GC plans a run as one group (plan.ts): the manifest and its blobs
 * are kept or evicted together, by the manifest's last use (a hit touches all of them).
 *
 * Recognised by the metadata, read from the store's files directly: never through a symlink,
 * never blocking on a FIFO, bounded in size, and never touching a file (looking is not a use).
 * Anything that does not parse is no manifest: the entry is then planned alone, as any entry.
 */

import { decodeRecord, type JsonValue, type Layout, originalContent, RECORD_MAX_BYTES } from '@cairn/store'
import { close, fstat, openForReading, type Protocol, read, runSync } from '@cairn/store/protocol'

/** The largest manifest read: 64 MiB holds several hundred thousand files' entries. */
export const MANIFEST_MAX_BYTES = 64 * 1024 * 1024

const PLATFORM = { platform: process.platform }

/** True if an entry's metadata marks it as a `cairn run` manifest. */
export function isRunMetadata(metadata: JsonValue | undefined): boolean {
  return (
    typeof metadata === 'object' &&
    metadata !== null &&
    !Array.isArray(metadata) &&
    (metadata as Record<string, JsonValue>).cairnRun === 1
  )
}

/** What a manifest names: its output files (path and digest) and its captured logs' digests. */
export interface RunMembers {
  files: { path: string; digest: string }[]
  logs: string[]
}

/** Every digest a run names, each once: the keys of its blob entries. */
export function memberKeys(members: RunMembers): string[] {
  return [...new Set([...members.files.map((file) => file.digest), ...members.logs])]
}

/**
 * The members of the manifest stored under `key`, read from the record (inline content) or its
 * content file; undefined if the entry is gone, is not a run manifest, or does not parse.
 */
export function readRunMembers(layout: Layout, key: string, digestLength: number): RunMembers | undefined {
  const record = runSync(readBounded(layout.entryPath(key), RECORD_MAX_BYTES))
  if (record === undefined) return undefined
  const decoded = decodeRecord(record, digestLength)
  if (typeof decoded === 'string' || !isRunMetadata(decoded.metadata)) return undefined
  if (decoded.inline !== undefined) return parseMembers(decoded.inline, digestLength)
  // A large manifest in a store with compression is a framed (compressed) content file, which
  // decompresses to at most the record's size: bounded first, as the file is.
  if (decoded.size > MANIFEST_MAX_BYTES) return undefined
  const file = runSync(readBounded(layout.contentPath(decoded.digest), MANIFEST_MAX_BYTES))
  const content = file === undefined ? undefined : originalContent(decoded, file)
  return content === undefined ? undefined : parseMembers(content, digestLength)
}

/** The members a manifest's bytes name; undefined unless every digest is well formed. */
export function parseMembers(bytes: Uint8Array, digestLength: number): RunMembers | undefined {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    return undefined
  }
  const digest = new RegExp(`^[0-9a-f]{${digestLength}}$`)
  const isDigest = (text: unknown): text is string => typeof text === 'string' && digest.test(text)
  if (typeof value !== 'object' || value === null) return undefined
  const { format, entries, stdout, stderr } = value as Record<string, unknown>
  if (format !== 'cairn-run' || !Array.isArray(entries)) return undefined
  const logs = [stdout, stderr].map((log) => (log as { digest?: unknown } | null)?.digest)
  if (!logs.every(isDigest)) return undefined
  const files: { path: string; digest: string }[] = []
  for (const entry of entries as unknown[]) {
    const { type, path, digest: fileDigest } = (entry ?? {}) as Record<string, unknown>
    if (type !== 'file') continue
    if (typeof path !== 'string' || !isDigest(fileDigest)) return undefined
    files.push({ path, digest: fileDigest })
  }
  return { files, logs: logs as string[] }
}

/** A regular file's bytes, at most `max`; undefined if gone, not a regular file, or larger. */
function* readBounded(path: string, max: number): Protocol<Buffer | undefined> {
  const fd = yield* openForReading(PLATFORM, path)
  if (typeof fd === 'string') return undefined
  try {
    const stat = yield* fstat(fd)
    if (stat.kind !== 'file' || stat.size > max) return undefined
    const bytes = yield* read(fd, stat.size)
    return bytes.length === stat.size ? bytes : undefined
  } finally {
    try {
      yield* close(fd)
    } catch {
      // The descriptor is gone either way.
    }
  }
}

import { isRunMetadata, memberKeys, readRunMembers } from '@cairn/gc'
import { DIGEST_LENGTH } from '@cairn/hash'
import { type RemoteStats, readRemoteStats, remoteStatsPath } from '@cairn/remote'
import { Layout, type Store } from '@cairn/store'
import { parseCommandLine } from '../args.js'
import type { Command } from '../command.js'
import { JSON_OPTION, STORE_HELP, STORE_OPTION, storeFlag } from '../common-options.js'
import { entriesWithUse } from '../entry-uses.js'
import { EXIT_OK } from '../exit-codes.js'
import { counted, humanBytes } from '../format.js'
import { type Io, writeLine } from '../io.js'
import { openStoreIfExists } from '../open-store.js'
import { runCommandOf } from '../run/run-metadata.js'

const usage = 'cairn stats [--store DIR] [--json]'

/** How many of the largest entries are shown. */
const LARGEST_SHOWN = 5

/** What `cairn stats --json` prints. */
export interface StoreSummary {
  store: string
  entries: number
  /**
   * `cairn run` runs that can be restored: manifests whose every blob (one entry per output
   * file, stdout, stderr) is in the store.
   */
  runs: number
  /**
   * Logical content bytes (as put, uncompressed), each distinct content counted once.
   */
  bytes: number
  /**
   * Bytes the content takes on disk, each distinct content counted once: the compressed size of
   * compressed content, the size of the rest (inline content counts its own size). What GC
   * budgets count.
   */
  storedBytes: number
  /** `bytes` / `storedBytes` (2.5 means compression made the content 2.5 times smaller); null when empty. */
  ratio: number | null
  /** The sum of every entry's size, as if equal contents were not shared. */
  entryBytes: number
  /** Entry shards (of 256) holding at least one entry. */
  shards: number
  /** Least and most recent last use (record mtime), ISO 8601; null for an empty store. */
  oldestUse: string | null
  newestUse: string | null
  /**
   * The largest entries, largest first; `what` names a run's manifest (`run: <command>`) or a
   * run's output file (`file: <path>`, as the first run naming it recorded it), else null.
   */
  largest: { key: string; size: number; lastUsed: string; what: string | null }[]
  /** What remote tiers did, summed over every command that used one here (all 0 if none). */
  remote: RemoteStats
}

export const statsCommand: Command = {
  name: 'stats',
  summary: 'summarize a store: entries, bytes, shards, oldest and newest use, largest entries',
  usage,
  help: `Walks the store and prints: the number of entries; their content bytes (equal contents
counted once; logical, i.e. uncompressed) and the sum of entry sizes; the bytes the content takes
on disk (compressed content counts its compressed size) and the ratio logical / on disk; how
many of the 256 entry shards are used; the oldest and newest last use (hits refresh it at most
once an hour); and the ${LARGEST_SHOWN} largest entries.

With --json, prints one JSON object {store, entries, runs, bytes, storedBytes, ratio, entryBytes,
shards, oldestUse, newestUse, largest: [{key, size, lastUsed, what}]} and nothing else on stdout;
ratio is bytes / storedBytes (null for an empty store); runs
counts the cairn runs that can be restored (a manifest whose every file is in the store; each
run stores one entry per output file besides its manifest); what names the run (its command) or
the output file an entry holds. Sizes are in binary units (KiB, MiB), as cairn gc prints them.

Options:
  --json               print JSON
${STORE_HELP}

Exit codes: 0 (a store that does not exist yet has no entries); 1 failure; 2 bad usage.`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandLine(argv, {
    usage,
    options: { ...STORE_OPTION, ...JSON_OPTION },
    positionals: { min: 0, max: 0 },
  })
  const { dir, store } = await openStoreIfExists(storeFlag(values), io)
  const summary = store === undefined ? emptySummary(dir) : await summarize(store)
  summary.remote = await readRemoteStats(remoteStatsPath(dir))
  if (values.json === true) writeLine(io.stdout, JSON.stringify(summary, null, 2))
  else writeSummary(io, summary)
  return EXIT_OK
}

async function summarize(store: Store): Promise<StoreSummary> {
  const summary = emptySummary(store.dir)
  // Logical and on-disk size of each distinct content. Entries naming one digest describe the
  // same content file (a writer that finds it there records the file that is there).
  const sizeOfDigest = new Map<string, { size: number; stored: number }>()
  const shards = new Set<string>()
  const keys = new Set<string>()
  const manifests: { key: string; command: string }[] = []
  let oldest = Number.POSITIVE_INFINITY
  let newest = Number.NEGATIVE_INFINITY
  const largest: { key: string; size: number; lastUsed: Date }[] = []
  for await (const entry of entriesWithUse(store)) {
    summary.entries += 1
    keys.add(entry.key)
    const command = runCommandOf(entry.metadata)
    if (command !== undefined && isRunMetadata(entry.metadata)) manifests.push({ key: entry.key, command })
    summary.entryBytes += entry.size
    sizeOfDigest.set(entry.digest, { size: entry.size, stored: entry.storedSize })
    shards.add(entry.key.slice(0, 2))
    oldest = Math.min(oldest, entry.lastUsed.getTime())
    newest = Math.max(newest, entry.lastUsed.getTime())
    largest.push({ key: entry.key, size: entry.size, lastUsed: entry.lastUsed })
    // Keep only the few largest, so memory does not grow with the store.
    if (largest.length > LARGEST_SHOWN * 4) trimLargest(largest)
  }
  trimLargest(largest)
  // Runs: read each manifest from the store's files (looking is not a use, so no time changes).
  const layout = new Layout(store.dir)
  const digestLength = DIGEST_LENGTH[store.algorithm]
  const what = new Map<string, string>()
  const wanted = new Set(largest.map((entry) => entry.key))
  for (const { key, command } of manifests) {
    const members = readRunMembers(layout, key, digestLength)
    if (members === undefined) continue
    if (memberKeys(members).every((member) => keys.has(member))) summary.runs += 1
    if (wanted.has(key)) what.set(key, `run: ${command}`)
    for (const file of members.files) {
      if (wanted.has(file.digest) && !what.has(file.digest)) what.set(file.digest, `file: ${file.path}`)
    }
  }
  for (const { size, stored } of sizeOfDigest.values()) {
    summary.bytes += size
    summary.storedBytes += stored
  }
  summary.ratio =
    summary.storedBytes === 0 ? null : Math.round((summary.bytes / summary.storedBytes) * 100) / 100
  summary.shards = shards.size
  if (summary.entries > 0) {
    summary.oldestUse = new Date(oldest).toISOString()
    summary.newestUse = new Date(newest).toISOString()
  }
  summary.largest = largest.map((entry) => ({
    ...entry,
    lastUsed: entry.lastUsed.toISOString(),
    what: what.get(entry.key) ?? null,
  }))
  return summary
}

function trimLargest(entries: { key: string; size: number }[]): void {
  entries.sort((a, b) => b.size - a.size || (a.key < b.key ? -1 : 1))
  entries.length = Math.min(entries.length, LARGEST_SHOWN)
}

function emptySummary(dir: string): StoreSummary {
  return {
    store: dir,
    entries: 0,
    runs: 0,
    bytes: 0,
    storedBytes: 0,
    ratio: null,
    entryBytes: 0,
    shards: 0,
    oldestUse: null,
    newestUse: null,
    largest: [],
    remote: { hits: 0, misses: 0, errors: 0, bytesDown: 0, bytesUp: 0, uploads: 0, uploadsFailed: 0 },
  }
}

function writeSummary(io: Io, summary: StoreSummary): void {
  const rows: [string, string][] = [
    ['store', summary.store],
    [
      'entries',
      summary.runs === 0
        ? String(summary.entries)
        : `${summary.entries} (${counted(summary.runs, 'restorable cairn run')}, and the files they stored)`,
    ],
    [
      'bytes',
      `${humanBytes(summary.bytes)} (${counted(summary.bytes, 'byte')}; ${humanBytes(summary.entryBytes)} before sharing equal contents)`,
    ],
    [
      'on disk',
      `${humanBytes(summary.storedBytes)} (${counted(summary.storedBytes, 'byte')}; ratio ${summary.ratio === null ? '-' : summary.ratio.toFixed(2)})`,
    ],
    ['shards', `${summary.shards} of 256`],
    ['oldest use', summary.oldestUse ?? '-'],
    ['newest use', summary.newestUse ?? '-'],
  ]
  const remote = summary.remote
  if (Object.values(remote).some((count) => count > 0)) {
    rows.push([
      'remote',
      `${counted(remote.hits, 'hit')}, ${counted(remote.misses, 'miss', 'misses')}, ${counted(remote.errors, 'error')}; ${humanBytes(remote.bytesDown)} down, ${humanBytes(remote.bytesUp)} up (${counted(remote.uploads, 'upload')}, ${remote.uploadsFailed} dropped)`,
    ])
  }
  for (const [name, value] of rows) writeLine(io.stdout, `${name.padEnd(12)}${value}`)
  if (summary.largest.length > 0) {
    writeLine(io.stdout, 'largest')
    for (const entry of summary.largest) {
      writeLine(
        io.stdout,
        `  ${entry.key}  ${humanBytes(entry.size).padStart(9)}  last used ${entry.lastUsed}${entry.what === null ? '' : `  ${entry.what}`}`,
      )
    }
  }
}

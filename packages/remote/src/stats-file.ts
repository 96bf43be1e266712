import { appendFile, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REMOTE_STATS_FILE } from '@cairn/store'
import { emptyRemoteStats, type RemoteStats } from './stats.js'

/** The counters file's name in a store directory (docs/FORMAT.md, "Remote cache"); the store reserves it. */
export { REMOTE_STATS_FILE }

/**
 * Past this size the file is rewritten as one line holding the sums. One line per process is
 * about 120 bytes, so that is every ~8,000 `cairn run`s.
 */
const COMPACT_BYTES = 1024 * 1024

const FIELDS = Object.keys(emptyRemoteStats()) as (keyof RemoteStats)[]

/** Where a store keeps the remote counters of past processes: `<dir>/remote-stats.jsonl`. */
export function remoteStatsPath(storeDir: string): string {
  return join(storeDir, REMOTE_STATS_FILE)
}

/**
 * Adds one process's counters to the file at `path`, for `cairn stats` to sum later. Each call
 * appends one JSON line (a single O_APPEND write, so processes finishing at once do not lose
 * each other's counts); nothing is written when every counter is 0. Never throws: counters are
 * not worth failing a build over.
 */
export async function recordRemoteStats(path: string, stats: RemoteStats): Promise<void> {
  if (FIELDS.every((field) => stats[field] === 0)) return
  const line = `${JSON.stringify(Object.fromEntries(FIELDS.map((field) => [field, stats[field]])))}\n`
  try {
    await appendFile(path, line)
  } catch {
    return
  }
  const total = await sumFile(path)
  if (total.bytes <= COMPACT_BYTES) return
  // A line appended between this read and the rename is lost: counters, not data.
  const temp = `${path}.${process.pid}.tmp`
  try {
    await writeFile(temp, `${JSON.stringify(total.stats)}\n`)
    await rename(temp, path)
  } catch {
    // Left as it is: the next process tries again.
  }
}

/**
 * The sums of every process's counters recorded at `path`; zeros if there is no file. Lines
 * that do not parse (a write torn by a crash) are skipped.
 */
export async function readRemoteStats(path: string): Promise<RemoteStats> {
  return (await sumFile(path)).stats
}

async function sumFile(path: string): Promise<{ stats: RemoteStats; bytes: number }> {
  const stats = emptyRemoteStats()
  let text = ''
  try {
    text = await readFile(path, 'utf8')
  } catch {
    // No file yet: nothing recorded.
  }
  for (const line of text.split('\n')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      continue
    }
    if (typeof parsed !== 'object' || parsed === null) continue
    for (const field of FIELDS) {
      const value = (parsed as Record<string, unknown>)[field]
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) stats[field] += value
    }
  }
  return { stats, bytes: Buffer.byteLength(text) }
}

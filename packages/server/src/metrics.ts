/**
 * The server's counters, and their Prometheus text form. A snapshot is a plain object of series
 * (`name{labels}`) to values, so the snapshots of several worker processes add up by key.
 */

import type { Protocol } from './route.js'

/** Series name (with labels, in Prometheus syntax) to value. */
export type MetricsSnapshot = Record<string, number>

/** Each metric's help text, in the order they are printed. */
const HELP: Record<string, string> = {
  cairn_serve_hits_total: 'Reads (GET, HEAD, batch queries) that found an entry.',
  cairn_serve_misses_total: 'Reads that found no entry.',
  cairn_serve_bytes_in_total: 'Bytes of entries received in uploads that were stored.',
  cairn_serve_bytes_out_total: 'Bytes of entries sent.',
  cairn_serve_entries_written_total: 'Entries stored (an upload of an existing entry does not count).',
  cairn_serve_rejected_total: 'Requests refused: bad path or digest, no or wrong token, too large.',
  cairn_serve_errors_total: 'Requests that failed on the server side (answered 5xx).',
  cairn_serve_gc_runs_total: 'Prunes the server ran (skipped ones included).',
  cairn_serve_gc_entries_removed_total: 'Entries the server-run prunes removed.',
  cairn_serve_gc_bytes_freed_total: 'Content bytes the server-run prunes freed.',
}

/** Counters of one process. */
export class Metrics {
  readonly #values = new Map<string, number>()

  /** Adds `value` to the counter `name`, for `protocol` when given. */
  add(name: keyof typeof HELP, value: number, protocol?: Protocol): void {
    const series = protocol === undefined ? name : `${name}{protocol="${protocol}"}`
    this.#values.set(series, (this.#values.get(series) ?? 0) + value)
  }

  snapshot(): MetricsSnapshot {
    return Object.fromEntries(this.#values)
  }
}

/** Adds snapshots series by series. */
export function sumSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  const total: MetricsSnapshot = {}
  for (const snapshot of snapshots) {
    for (const [series, value] of Object.entries(snapshot)) total[series] = (total[series] ?? 0) + value
  }
  return total
}

/** The Prometheus text exposition of a snapshot: every known metric, 0 when never counted. */
export function renderMetrics(snapshot: MetricsSnapshot): string {
  const lines: string[] = []
  for (const [name, help] of Object.entries(HELP)) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`)
    const series = Object.keys(snapshot)
      .filter((key) => key === name || key.startsWith(`${name}{`))
      .sort()
    if (series.length === 0) lines.push(`${name} 0`)
    for (const key of series) lines.push(`${key} ${snapshot[key]}`)
  }
  return `${lines.join('\n')}\n`
}

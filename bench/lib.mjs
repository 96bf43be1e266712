// Shared benchmark helpers: run tinybench tasks, report medians, and print rows as ratios
// against a baseline measured in the same run (absolute figures on this shared machine drift).

import { Bench } from 'tinybench'

/**
 * Runs `tasks` ({name: fn}) in one tinybench run and returns the median latency of each in ms.
 * `time` is the sampling budget per task in ms, `iterations` the fewest samples per task.
 */
export async function measure(tasks, { time = 400, iterations = 64 } = {}) {
  // tinybench runs each task for `time` ms and at least `iterations` times; a quick run lowers
  // both, since 64 rounds of 16 one-MiB puts alone take seconds.
  const bench = new Bench({ time, iterations, warmupTime: Math.min(100, time / 4) })
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn)
  await bench.run()
  const medians = {}
  for (const task of bench.tasks) {
    const result = task.result
    if (!result || !('latency' in result))
      throw new Error(`benchmark ${task.name} did not complete: ${result?.error ?? result?.state}`)
    medians[task.name] = result.latency.p50
  }
  return medians
}

/** Formats a rate: operations (or bytes, with `bytes`) per second from a median latency in ms. */
export function rate(ms, bytes) {
  const perSecond = 1000 / ms
  if (bytes === undefined) return `${formatNumber(perSecond)} ops/s`
  return `${formatNumber((perSecond * bytes) / 1e6)} MB/s`
}

function formatNumber(value) {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3)
}

/** Prints rows [label, subject, baseline, ratio] as an aligned table. */
export function printTable(header, rows) {
  const all = [header, ...rows]
  const widths = header.map((_, column) => Math.max(...all.map((row) => String(row[column]).length)))
  for (const [index, row] of all.entries()) {
    console.log(row.map((cell, column) => String(cell).padEnd(widths[column])).join('  '))
    if (index === 0) console.log(widths.map((width) => '-'.repeat(width)).join('  '))
  }
}

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

/**
 * Measures `tasks` ({name: fn}) interleaved: `rounds` rounds, each running every task `ops`
 * times in a row, the order rotating from round to round, so that load from other processes on
 * a busy machine falls on every task alike. Returns the median over rounds of the time per
 * operation, in ms. A task returning a promise is awaited operation by operation; a synchronous
 * one is called in a plain loop.
 */
export async function interleave(tasks, { rounds = 15, ops = 50 } = {}) {
  const names = Object.keys(tasks)
  const isAsync = {}
  const samples = {}
  for (const name of names) {
    const first = tasks[name]()
    isAsync[name] = typeof first?.then === 'function'
    await first
    samples[name] = []
    for (let i = 0; i < Math.ceil(ops / 4); i++) await tasks[name]()
  }
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length]
      const fn = tasks[name]
      const start = process.hrtime.bigint()
      if (isAsync[name]) for (let i = 0; i < ops; i++) await fn()
      else for (let i = 0; i < ops; i++) fn()
      samples[name].push(Number(process.hrtime.bigint() - start) / 1e6 / ops)
    }
  }
  const medians = {}
  for (const name of names) {
    const sorted = samples[name].sort((a, b) => a - b)
    medians[name] = sorted[Math.floor(sorted.length / 2)]
  }
  return medians
}

// GC: prune against the floor of doing the same file work with find, on the same tree in the
// same run (absolute times on this machine drift between runs; ratios hold).
//
//   scan:   prune --dry-run, first without the scan index (reads every record), then with the
//           index a real prune wrote (lstat per record)   vs  find -printf '%T@ %s %p' | sort -n
//           (interleaved, medians of three)
//   remove: prune to half, on a copy                     vs  find ! -newer REF -delete of the
//                                                            same number of records, on a copy
//   memory: peak RSS of the process running the real prune, and of one that only loads Node
//
// Stores are written directly in the record format (docs/FORMAT.md, "Entry record"), which is
// several times faster than putSync for building 100k files; one entry in ten has a 5 KB
// content file, the rest are inline (small outputs dominate builds). Sizes: 10k and 100k
// entries; 5k only with --quick; 1M too with --full. Run: node bench/run.mjs --only=gc

import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openStore } from '@cairn/store'
import { printTable } from './lib.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CONTENT_EVERY = 10
const CONTENT_BYTES = 5000
const INLINE_BYTES = 200

/** An entry record (record.ts): magic, version 1, flags, zero, header length, header, inline bytes. */
function record(digest, size, time, inline) {
  const header = Buffer.from(`{"digest":"${digest}","size":${size},"time":${time}}`)
  const fixed = Buffer.alloc(12)
  fixed.write('CRNE', 0, 'latin1')
  fixed.writeUInt8(1, 4)
  fixed.writeUInt8(inline ? 1 : 0, 5)
  fixed.writeUInt32BE(header.length, 8)
  return Buffer.concat(inline ? [fixed, header, inline] : [fixed, header])
}

const hex = (text) => createHash('sha256').update(text).digest('hex').slice(0, 32)

/**
 * A store of `count` entries in a fresh directory. Entry i was last used at base + i seconds
 * (utimes), so the half to remove is exactly the entries before the median: the find baseline
 * can select them by time too. Returns the directory and that median time.
 */
async function buildStore(count) {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-gc-'))
  await openStore(dir)
  const base = Math.floor(Date.now() / 1000) - count - 3600
  for (let i = 0; i < count; i++) {
    const key = hex(`key ${i}`)
    const digest = hex(`content ${i}`)
    const path = join(dir, 'entries', key.slice(0, 2), key)
    if (i % CONTENT_EVERY === 0) {
      writeFileSync(join(dir, 'content', digest.slice(0, 2), digest), Buffer.alloc(CONTENT_BYTES, i & 0xff))
      writeFileSync(path, record(digest, CONTENT_BYTES, base * 1000))
    } else {
      writeFileSync(path, record(digest, INLINE_BYTES, base * 1000, Buffer.alloc(INLINE_BYTES, i & 0xff)))
    }
    utimesSync(path, base + i, base + i)
  }
  return { dir, median: base + count / 2 }
}

/** Wall time of a shell pipeline, ms. */
function timeShell(script) {
  const started = performance.now()
  execFileSync('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] })
  return performance.now() - started
}

/** Runs prune in a child process (so its peak RSS is its own) and returns its report, time and RSS. */
function pruneInChild(dir, policy) {
  const script = `
    import { prune } from '@cairn/gc'
    const started = performance.now()
    const report = await prune(${JSON.stringify(dir)}, ${JSON.stringify(policy)})
    const ms = performance.now() - started
    console.log(JSON.stringify({ report, ms, maxRssKiB: process.resourceUsage().maxRSS }))`
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  if (child.status !== 0) throw new Error(`prune child failed: ${child.stderr}`)
  return JSON.parse(child.stdout)
}

function nodeBaselineRssKiB() {
  const child = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `await import('@cairn/gc'); console.log(process.resourceUsage().maxRSS)`],
    { cwd: ROOT, encoding: 'utf8' },
  )
  return Number(child.stdout)
}

const middle = (runs) => [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)]
/** Records younger than INDEX_RACY_MS (2 s) by ctime are not indexed: let the tree age first. */
const ageTree = () => new Promise((resolve) => setTimeout(resolve, 2500))
/** A real prune that removes nothing: it writes gc.index. Returns its report. */
const writeIndex = (dir) => pruneInChild(dir, { maxEntries: 1e9, tempGrace: 3_600_000 }).report
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`
const mib = (kib) => `${Math.round(kib / 1024)} MiB`

async function benchSize(count) {
  const built = performance.now()
  const { dir, median } = await buildStore(count)
  const buildMs = performance.now() - built
  try {
    // Warm the cache once for both sides, then interleave them, medians of three.
    timeShell(`find ${dir} -type f > /dev/null`)
    const findRuns = []
    const dry = []
    const findSortRun = () => timeShell(`find ${dir} -type f -printf '%T@ %s %p\\n' | sort -n > /dev/null`)
    for (let n = 0; n < 3; n++) {
      findRuns.push(findSortRun())
      dry.push(pruneInChild(dir, { maxEntries: count / 2, dryRun: true }))
    }
    const dryMs = middle(dry.map((run) => run.ms))
    await ageTree()
    const indexed = writeIndex(dir)
    const warm = []
    for (let n = 0; n < 3; n++) {
      findRuns.push(findSortRun())
      warm.push(pruneInChild(dir, { maxEntries: count / 2, dryRun: true }))
    }
    const findSort = middle(findRuns)
    const warmMs = middle(warm.map((run) => run.ms))
    if (warm.some((run) => run.report.index.recordsRead !== 0))
      throw new Error('the warm dry run read records')
    if (JSON.stringify(warm[0].report.removed) !== JSON.stringify(dry[0].report.removed))
      throw new Error('the plan with the index differs from the plan without')

    const copies = [1, 2, 3].map((n) => `${dir}-copy${n}`)
    for (const copy of copies) execFileSync('cp', ['-a', dir, copy])
    // A copy has new inodes and ctimes: each gets its own index, as a nightly prune would have.
    await ageTree()
    for (const copy of copies.slice(1)) writeIndex(copy)
    // Flush the copies' writeback first, and before each timed run, so no run pays for another's.
    const settle = () => execFileSync('sync')
    try {
      settle()
      const reference = join(copies[0], 'reference')
      writeFileSync(reference, '')
      utimesSync(reference, median - 1, median - 1)
      const findDelete = timeShell(`find ${copies[0]}/entries -type f ! -newer ${reference} -delete`)
      settle()
      const real = pruneInChild(copies[1], { maxEntries: count / 2, tempGrace: 0 })
      settle()
      const realSync = pruneInChild(copies[2], { maxEntries: count / 2, tempGrace: 0, concurrency: 1 })
      const removed = real.report.removed.entries
      if (real.report.index.recordsRead !== 0) throw new Error('the real prune read records')
      if (removed !== count / 2) throw new Error(`prune removed ${removed} entries, expected ${count / 2}`)
      return {
        count,
        buildMs,
        findSortMs: findSort,
        dryRunMs: dryMs,
        warmDryRunMs: warmMs,
        indexBytes: indexed.index.bytes,
        warmRssKiB: Math.max(...warm.map((run) => run.maxRssKiB)),
        findDeleteMs: findDelete,
        pruneMs: real.ms,
        pruneSyncMs: realSync.ms,
        phases: real.report.phases,
        phasesSync: realSync.report.phases,
        contentRemoved: real.report.content.removed,
        pruneRssKiB: real.maxRssKiB,
        dryRunRssKiB: Math.max(...dry.map((run) => run.maxRssKiB)),
      }
    } finally {
      for (const copy of copies) rmSync(copy, { recursive: true, force: true })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function benchGc({ quick = false, full = process.argv.includes('--full') } = {}) {
  const sizes = quick ? [5_000] : full ? [10_000, 100_000, 1_000_000] : [10_000, 100_000]
  const nodeRss = nodeBaselineRssKiB()
  console.log(
    `GC: prune vs find on the same tree (stores on ${tmpdir()}; Node + @cairn/gc alone: ${mib(nodeRss)} RSS)`,
  )
  const rows = []
  const results = []
  for (const count of sizes) {
    const r = await benchSize(count)
    results.push(r)
    const n = count.toLocaleString('en-US')
    rows.push(
      [
        `${n}: first dry run (no index) vs find | sort`,
        fmt(r.dryRunMs),
        fmt(r.findSortMs),
        (r.dryRunMs / r.findSortMs).toFixed(2),
      ],
      [
        `${n}: later dry run (gc.index ${mib(r.indexBytes / 1024)}) vs find | sort`,
        fmt(r.warmDryRunMs),
        fmt(r.findSortMs),
        (r.warmDryRunMs / r.findSortMs).toFixed(2),
      ],
      [
        `${n}: prune to half vs find -delete`,
        fmt(r.pruneMs),
        fmt(r.findDeleteMs),
        (r.pruneMs / r.findDeleteMs).toFixed(2),
      ],
      [
        `${n}: same, concurrency 1 (sync)`,
        fmt(r.pruneSyncMs),
        fmt(r.findDeleteMs),
        (r.pruneSyncMs / r.findDeleteMs).toFixed(2),
      ],
      [`${n}: peak RSS of the prune`, mib(r.pruneRssKiB), mib(nodeRss), (r.pruneRssKiB / nodeRss).toFixed(2)],
    )
    console.log(
      `  built ${n} entries in ${fmt(r.buildMs)}; phases (ms) ${JSON.stringify(r.phases)}, sync ${JSON.stringify(r.phasesSync)}`,
    )
  }
  printTable(['GC (ratio = Cairn / baseline)', 'Cairn', 'baseline', 'ratio'], rows)
  return { rows, results, nodeRssKiB: nodeRss }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  await benchGc({ quick: process.argv.includes('--quick') })

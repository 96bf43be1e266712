// compression (issue 17): for each codec and level, over a corpus of real build outputs made on
// this machine (bench/corpus.mjs: tsc output, esbuild bundles, gcc objects):
//
// - ratio: the corpus's logical bytes over the bytes its content takes in the store
//   (Σ size / Σ storedSize, what GC budgets count), per kind and in all; and the store
//   directory's allocated blocks (du, records included) against the uncompressed store's.
// - put and get throughput: one pass of `put` (async, fresh keys, every file made distinct by a
//   counter in its first 8 bytes so nothing is deduplicated) or of `get` over the whole corpus,
//   in MB/s of logical bytes. brotli 10–11 and zstd 19 put every fourth file only (brotli 11
//   runs at about 0.5 MB/s here, over a minute a pass); their ratio is over the whole corpus.
// - get latency (`getSync` and `get`) of 1 KiB, 64 KiB and 1 MiB entries: the first bytes of
//   corpus files at least that large. 1 KiB entries are inline in their record and never
//   compressed (the threshold is at least 4 KiB), so that row only shows what the option costs
//   on the path it does not touch.
//
// Every codec row is interleaved (bench/lib.mjs) with the same operation on an uncompressed
// store in the same run, on the store's real disk (tmpdir), page cache warm; the ratio column is
// uncompressed time / codec time (below 1: slower). With CAIRN_BENCH_STORE=<path of a store
// build's dist/index.js>, that build is measured instead of the workspace's @cairn/store.

import { randomBytes } from 'node:crypto'
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describeCorpus, formatBytes, loadCorpus, readCorpus } from './corpus.mjs'
import { interleave, printTable, rate } from './lib.mjs'

const KiB = 1024
const MiB = 1024 * KiB
const LATENCY_SIZES = [KiB, 64 * KiB, MiB]
/** Entries per latency size, each cut from a different corpus file. */
const LATENCY_ENTRIES = 8

async function loadStoreModule() {
  const path = process.env.CAIRN_BENCH_STORE
  return path ? import(pathToFileURL(resolve(path)).href) : import('@cairn/store')
}

/**
 * The codecs and levels to measure: each codec's fastest, its default in the store (gzip 6,
 * brotli 5, zstd 3), a level or two between, and its best.
 */
function settings(codecs, quick) {
  const levels = quick
    ? { gzip: [6], brotli: [5], zstd: [3] }
    : { gzip: [1, 6, 9], brotli: [1, 4, 5, 9, 11], zstd: [1, 3, 9, 19] }
  return codecs
    .filter((codec) => codec !== 'none')
    .flatMap((codec) => levels[codec].map((level) => ({ codec, level })))
}

const randomKey = () => randomBytes(16).toString('hex')

let counter = 0
/** Makes `data` distinct from every earlier put (a counter in its first 8 bytes). */
function freshen(data) {
  counter += 1
  if (data.length >= 8) {
    data.writeUInt32BE(counter & 0xffffffff, 0)
    data.writeUInt32BE((counter / 0x1_0000_0000) >>> 0, 4)
  }
  return data
}

/** Bytes allocated on disk to every file under `dir` (what `du` counts). */
function allocatedBytes(dir) {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += allocatedBytes(path)
    else if (entry.isFile()) total += lstatSync(path).blocks * 512
  }
  return total
}

/** Puts the corpus under fresh keys, checks every entry reads back, and returns the keys. */
async function fill(store, files) {
  const keys = []
  for (const file of files) {
    const key = randomKey()
    await store.put(key, file.data)
    keys.push(key)
  }
  for (const [index, key] of keys.entries()) {
    const hit = store.getSync(key)
    if (!hit?.data.equals(files[index].data))
      throw new Error(`${files[index].path} did not read back from ${store.dir} as it was put`)
  }
  return keys
}

/**
 * Σ size / Σ storedSize of `keys`, in all and per corpus kind, and how many of the entries
 * over the inline limit were kept compressed (the others did not save 10 %).
 */
async function ratios(store, keys, files) {
  const sums = {}
  let compressed = 0
  let large = 0
  for (const [index, key] of keys.entries()) {
    const info = await store.info(key)
    // storedSize arrives with the compression option; a store without it stores raw bytes.
    const stored = info.storedSize ?? info.size
    if (info.size > 4 * KiB) large++
    if (stored !== info.size) compressed++
    for (const name of ['all', files[index].kind]) {
      sums[name] ??= { size: 0, stored: 0 }
      sums[name].size += info.size
      sums[name].stored += stored
    }
  }
  const ratio = Object.fromEntries(Object.entries(sums).map(([name, sum]) => [name, sum.size / sum.stored]))
  return { ...ratio, compressed: `${compressed} of ${large}` }
}

/** Entries of `size` bytes cut from the start of corpus files at least that large. */
function latencyEntries(files, size) {
  const large = files.filter((file) => file.size >= size)
  const step = Math.max(1, Math.floor(large.length / LATENCY_ENTRIES))
  return large
    .filter((_, index) => index % step === 0)
    .slice(0, LATENCY_ENTRIES)
    .map((file) => Buffer.from(file.data.subarray(0, size)))
}

const label = (setting) => (setting.codec === 'none' ? 'none' : `${setting.codec} ${setting.level}`)
const sizeLabel = (size) => (size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`)
const times = (baseline, subject) => `${(baseline / subject).toFixed(2)}x`

export async function benchCompression({ quick = false } = {}) {
  const { openStore, availableCodecs } = await loadStoreModule()
  const codecs = availableCodecs ? availableCodecs() : ['none']
  if (!availableCodecs)
    console.log('this @cairn/store has no compression option: only the corpus is described')
  const corpus = await loadCorpus()
  // --quick: every fourth file, so the run stays near a minute.
  const files = readCorpus(corpus).filter((_, index) => !quick || index % 4 === 0)
  const logical = files.reduce((sum, file) => sum + file.size, 0)
  const composition = describeCorpus(files)
  console.log(
    `corpus: ${corpus.dir}\n${corpus.tools.join(', ')}; C sources skipped (missing headers): ${corpus.skippedC}`,
  )
  printTable(composition.header, composition.rows)
  console.log()
  const kinds = [...new Set(files.map((file) => file.kind))]
  const rounds = quick ? 3 : 7
  const work = mkdtempSync(join(tmpdir(), 'cairn-bench-'))
  const results = { corpus: { tools: corpus.tools, logical, composition }, codecs: [] }
  try {
    // First every store is filled with the corpus as it is (ratios and round trips), before the
    // put passes write counters into the files' first bytes.
    const subjects = [{ codec: 'none' }, ...settings(codecs, quick)].map((setting) => ({ setting }))
    for (const subject of subjects) {
      const { setting } = subject
      const dir = join(work, label(setting).replace(' ', '-'))
      subject.store = await openStore(
        dir,
        setting.codec === 'none' ? {} : { compression: { codec: setting.codec, level: setting.level } },
      )
      subject.keys = await fill(subject.store, files)
      subject.ratios = await ratios(subject.store, subject.keys, files)
      subject.allocated = allocatedBytes(dir)
      subject.latency = LATENCY_SIZES.map((size) => {
        const keys = latencyEntries(files, size).map((data) => {
          const key = randomKey()
          subject.store.putSync(key, data)
          return key
        })
        return { size, keys }
      })
    }
    const [plain, ...compressed] = subjects
    const getPass = (store, keys) => async () => {
      for (const key of keys) if (!(await store.get(key))) throw new Error(`miss on ${key} in ${store.dir}`)
    }
    const ratioRows = []
    const throughputRows = []
    const latencyRows = []
    ratioRows.push([
      'none',
      plain.ratios.all.toFixed(2),
      ...kinds.map((kind) => plain.ratios[kind].toFixed(2)),
      '1.00',
      formatBytes(plain.allocated),
      plain.ratios.compressed,
    ])
    for (const subject of compressed) {
      const name = label(subject.setting)
      console.log(`measuring ${name}…`)
      // brotli 10-11 and zstd 19 compress at well under 1 MB/s here (a pass over the corpus
      // would take minutes): their put passes cover every fourth file, in fewer rounds.
      const slow = subject.setting.level >= (subject.setting.codec === 'brotli' ? 10 : 19)
      const putFiles = slow ? files.filter((_, index) => index % 4 === 0) : files
      const putBytes = putFiles.reduce((sum, file) => sum + file.size, 0)
      const putPass = (store) => async () => {
        for (const file of putFiles) await store.put(randomKey(), freshen(file.data))
      }
      const put = await interleave(
        { none: putPass(plain.store), [name]: putPass(subject.store) },
        { rounds: slow ? Math.min(rounds, 3) : rounds, ops: 1 },
      )
      const get = await interleave(
        { none: getPass(plain.store, plain.keys), [name]: getPass(subject.store, subject.keys) },
        { rounds, ops: 1 },
      )
      ratioRows.push([
        name,
        subject.ratios.all.toFixed(2),
        ...kinds.map((kind) => subject.ratios[kind].toFixed(2)),
        (plain.allocated / subject.allocated).toFixed(2),
        formatBytes(subject.allocated),
        subject.ratios.compressed,
      ])
      throughputRows.push([
        slow ? `${name} (put: ¼ of the corpus)` : name,
        rate(put[name], putBytes),
        rate(put.none, putBytes),
        times(put.none, put[name]),
        rate(get[name], logical),
        rate(get.none, logical),
        times(get.none, get[name]),
      ])
      const latency = []
      for (const [index, { size, keys }] of subject.latency.entries()) {
        const plainKeys = plain.latency[index].keys
        let i = 0
        let j = 0
        const ops = size >= MiB ? 4 : size >= 64 * KiB ? 40 : 200
        const m = await interleave(
          {
            'none sync': () => plain.store.getSync(plainKeys[i++ % plainKeys.length]),
            'codec sync': () => subject.store.getSync(keys[j++ % keys.length]),
            'none async': () => plain.store.get(plainKeys[i++ % plainKeys.length]),
            'codec async': () => subject.store.get(keys[j++ % keys.length]),
          },
          { rounds: quick ? 5 : 15, ops },
        )
        latencyRows.push([
          `${name}, ${sizeLabel(size)}${size <= 4 * KiB ? ' (inline: raw)' : ''}`,
          `${(m['codec sync'] * 1000).toFixed(0)} µs`,
          `${(m['none sync'] * 1000).toFixed(0)} µs`,
          times(m['none sync'], m['codec sync']),
          `${(m['codec async'] * 1000).toFixed(0)} µs`,
          `${(m['none async'] * 1000).toFixed(0)} µs`,
          times(m['none async'], m['codec async']),
        ])
        latency.push({ size, entries: keys.length, medianMs: m })
      }
      results.codecs.push({
        ...subject.setting,
        ratios: subject.ratios,
        allocated: subject.allocated,
        put: { medianMs: put, bytes: putBytes },
        get: { medianMs: get, bytes: logical },
        latency,
      })
    }
    results.none = { ratios: plain.ratios, allocated: plain.allocated }
    results.rounds = rounds
    printTable(
      [
        'ratio (logical / stored bytes)',
        'all',
        ...kinds,
        `du vs none (${formatBytes(logical)} logical)`,
        'du',
        'kept compressed (of > 4 KiB)',
      ],
      ratioRows,
    )
    console.log()
    printTable(
      ['throughput over the corpus', 'put', 'put none', 'ratio', 'get', 'get none', 'ratio'],
      throughputRows,
    )
    console.log()
    printTable(
      ['get latency (median)', 'getSync', 'getSync none', 'ratio', 'get', 'get none', 'ratio'],
      latencyRows,
    )
    results.rows = { ratio: ratioRows, throughput: throughputRows, latency: latencyRows }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  // The corpus stays: the next run reuses it (bench/corpus.mjs).
  return results
}

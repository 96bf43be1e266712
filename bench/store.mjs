// put and get: Cairn against (a) the filesystem floor, a plain writeFile/readFile of the same
// bytes into a sharded tree of the same shape with the same mode and no atomicity; (b) temp file
// + rename, what LLVM, ccache and cacache publish with; (c) npm's cacache. Measured on the
// store's real disk and on tmpfs (which isolates Cairn's own overhead from ext4's erratic file
// creation), one operation at a time (sync and async) and 16 in flight.
//
// What real use looks like (issue 14): keys are random 128-bit hex, so entries spread over all
// 256 shards; the store already holds 100,000 entries, and the floor's tree holds 100,000 files
// of the same shape, both built once per location and shared by every row. cacache starts
// empty (filling it with 100k entries would take minutes). Hits cycle over 64 entries in
// different shards; misses look up fresh random keys. Every put writes distinct bytes (a
// counter in the first 8 bytes), so content is never deduplicated by accident; "existing key"
// rows put a key that is already published.
//
// Each comparison runs interleaved (bench/lib.mjs, `interleave`): Cairn and its baselines take
// turns over many rounds and the median round counts, so load from other processes falls on
// both sides alike. With CAIRN_BENCH_BEFORE=<path of another build's store dist/index.js>, that
// build runs in the same rounds against the same store, for before/after columns.

import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { openStore } from '@cairn/store'
import cacache from 'cacache'
import { interleave, printTable, rate } from './lib.mjs'

const KiB = 1024
const MiB = 1024 * 1024
const IN_FLIGHT = 16
const HIT_KEYS = 64

/** Where to measure: the disk tmpdir() lives on, and tmpfs when there is one. */
export function benchLocations() {
  const locations = [{ name: 'disk', base: tmpdir() }]
  try {
    rmSync(mkdtempSync('/dev/shm/cairn-bench-'), { recursive: true })
    locations.push({ name: 'tmpfs', base: '/dev/shm' })
  } catch {
    // No tmpfs here: disk only.
  }
  return locations
}

/** Random 128-bit hex keys, cut from a large random block so a key costs no syscall. */
let keyBlock = Buffer.alloc(0)
let keyOffset = 0
function randomKey() {
  if (keyOffset + 16 > keyBlock.length) {
    keyBlock = randomBytes(16 * 65536)
    keyOffset = 0
  }
  keyOffset += 16
  return keyBlock.toString('hex', keyOffset - 16, keyOffset)
}

let counter = 0
/** `data` with a fresh counter in its first bytes: distinct content every call. */
function freshData(data) {
  counter += 1
  data.writeUInt32BE(counter & 0xffffffff, 0)
  data.writeUInt32BE((counter / 0x1_0000_0000) >>> 0, 4)
  return data
}

function rawTree(dir) {
  for (let i = 0; i < 256; i++) mkdirSync(join(dir, i.toString(16).padStart(2, '0')), { recursive: true })
  return (key) => join(dir, key.slice(0, 2), key)
}

/** Runs `op` IN_FLIGHT times concurrently: one operation of an x16 row. */
const batch = (op) => () => Promise.all(Array.from({ length: IN_FLIGHT }, op))

async function loadBefore() {
  const path = process.env.CAIRN_BENCH_BEFORE
  if (!path) return undefined
  return (await import(pathToFileURL(resolve(path)).href)).openStore
}

/** A store holding `count` small entries, and the floor's tree of the same shape. */
function fill(store, rawPath, count) {
  const data = randomBytes(100)
  for (let i = 0; i < count; i++) {
    const key = randomKey()
    store.putSync(key, freshData(data))
    writeFileSync(rawPath(key), data, { mode: 0o444 })
  }
}

export async function benchStore({ quick = false } = {}) {
  const rows = []
  const results = []
  const sizes = quick ? [KiB, MiB] : [KiB, 64 * KiB, MiB]
  const filled = quick ? 10_000 : 100_000
  const rounds = quick ? 5 : 15
  const openBefore = await loadBefore()
  const subjects = openBefore ? ['after', 'before'] : ['after']
  for (const location of benchLocations()) {
    const work = mkdtempSync(join(location.base, 'cairn-bench-'))
    try {
      const storeDir = join(work, 'store')
      const stores = { after: await openStore(storeDir) }
      if (openBefore) stores.before = await openBefore(storeDir)
      const rawPath = rawTree(join(work, 'raw'))
      mkdirSync(join(work, 'rename-tmp'))
      const tempName = () => join(work, 'rename-tmp', `t${counter}`)
      const setupStart = performance.now()
      fill(stores.after, rawPath, filled)
      const setupSeconds = (performance.now() - setupStart) / 1000
      console.log(`${location.name}: ${filled} entries and files in ${setupSeconds.toFixed(1)} s`)
      const cache = join(work, 'cacache')
      for (const size of sizes) {
        const ops = size >= MiB ? 4 : size >= 64 * KiB ? 20 : 100
        const data = randomBytes(size)
        const hitKeys = Array.from({ length: HIT_KEYS }, randomKey)
        for (const key of hitKeys) {
          stores.after.putSync(key, freshData(data))
          writeFileSync(rawPath(key), data, { mode: 0o444 })
          await cacache.put(cache, key, data)
        }
        let hit = 0
        const hitKey = () => hitKeys[hit++ % HIT_KEYS]
        /** For each subject, its tasks under `name`, then the baselines. */
        const group = async (cairn, baselines, options = {}) => {
          const tasks = {}
          for (const subject of subjects)
            for (const [name, fn] of Object.entries(cairn)) tasks[`${subject}:${name}`] = fn(stores[subject])
          Object.assign(tasks, baselines)
          return interleave(tasks, { rounds, ops: options.ops ?? ops })
        }
        const m = {
          ...(await group(
            { 'put sync': (s) => () => s.putSync(randomKey(), freshData(data)) },
            {
              writeFileSync: () => writeFileSync(rawPath(randomKey()), freshData(data), { mode: 0o444 }),
              'temp+renameSync': () => {
                const temp = tempName()
                writeFileSync(temp, freshData(data), { mode: 0o444 })
                renameSync(temp, rawPath(randomKey()))
              },
            },
          )),
          ...(await group(
            { 'put async': (s) => () => s.put(randomKey(), freshData(data)) },
            {
              'writeFile async': () => writeFile(rawPath(randomKey()), freshData(data), { mode: 0o444 }),
              'temp+rename async': async () => {
                const temp = tempName()
                await writeFile(temp, freshData(data), { mode: 0o444 })
                await rename(temp, rawPath(randomKey()))
              },
              'cacache.put async': () => cacache.put(cache, randomKey(), freshData(data)),
            },
          )),
          ...(await group(
            { 'put x16': (s) => batch(() => s.put(randomKey(), Buffer.from(freshData(data)))) },
            {
              'writeFile x16': batch(() =>
                writeFile(rawPath(randomKey()), Buffer.from(freshData(data)), { mode: 0o444 }),
              ),
              'cacache.put x16': batch(() => cacache.put(cache, randomKey(), Buffer.from(freshData(data)))),
            },
            { ops: Math.max(2, ops / 8) },
          )),
          ...(await group(
            {
              'put sync, existing key': (s) => () => s.putSync(hitKey(), data),
              'put async, existing key': (s) => () => s.put(hitKey(), data),
            },
            {},
          )),
          ...(await group(
            { 'get sync hit': (s) => () => s.getSync(hitKey()) },
            { 'readFileSync hit': () => readFileSync(rawPath(hitKey())) },
          )),
          ...(await group(
            { 'get async hit': (s) => () => s.get(hitKey()) },
            {
              'readFile async hit': () => readFile(rawPath(hitKey())),
              'cacache.get hit': () => cacache.get(cache, hitKey()),
            },
          )),
          ...(await group(
            { 'get x16 hit': (s) => batch(() => s.get(hitKey())) },
            { 'readFile x16 hit': batch(() => readFile(rawPath(hitKey()))) },
            { ops: Math.max(2, ops / 8) },
          )),
          ...(await group(
            {
              'get sync miss': (s) => () => s.getSync(randomKey()),
              'get async miss': (s) => () => s.get(randomKey()),
            },
            {
              'readFileSync miss': () => {
                try {
                  readFileSync(rawPath(randomKey()))
                } catch {}
              },
              'readFile async miss': () => readFile(rawPath(randomKey())).catch(() => {}),
              'cacache.get miss': () => cacache.get(cache, randomKey()).catch(() => {}),
            },
            { ops: 100 },
          )),
        }
        const label = size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`
        const perOp = (name) => (name.includes('x16') ? m[name] / IN_FLIGHT : m[name])
        const row = (name, baseline) => [
          `${name} ${label} (${location.name})`,
          ...subjects.map((subject) => rate(perOp(`${subject}:${name}`))),
          baseline === undefined ? '' : `${baseline} ${rate(perOp(baseline))}`,
          ...subjects.map((subject) =>
            baseline === undefined ? '' : `${(perOp(baseline) / perOp(`${subject}:${name}`)).toFixed(2)}x`,
          ),
        ]
        rows.push(
          row('put sync', 'writeFileSync'),
          row('put sync', 'temp+renameSync'),
          row('put async', 'writeFile async'),
          row('put async', 'temp+rename async'),
          row('put async', 'cacache.put async'),
          row('put x16', 'writeFile x16'),
          row('put x16', 'cacache.put x16'),
          row('put sync, existing key', 'writeFileSync'),
          row('put async, existing key', 'writeFile async'),
          row('get sync hit', 'readFileSync hit'),
          row('get async hit', 'readFile async hit'),
          row('get async hit', 'cacache.get hit'),
          row('get x16 hit', 'readFile x16 hit'),
          row('get sync miss', 'readFileSync miss'),
          row('get async miss', 'readFile async miss'),
          row('get async miss', 'cacache.get miss'),
        )
        results.push({ location: location.name, size, filled, rounds, medianMs: m })
      }
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  }
  printTable(
    [
      'put and get (ops/s; ratio = baseline time / Cairn time)',
      ...subjects.map((subject) => `Cairn ${subject}`),
      'baseline',
      ...subjects.map((subject) => `ratio ${subject}`),
    ],
    rows,
  )
  return { rows, results }
}

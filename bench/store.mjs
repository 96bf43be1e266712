// put and get: Cairn against (a) the filesystem floor, a plain writeFile/readFile of the same
// bytes into the same sharded tree with the same mode and no atomicity; (b) temp file + rename,
// what LLVM, ccache and cacache publish with; (c) npm's cacache. Measured on the store's real
// disk and on tmpfs (which isolates Cairn's own overhead from ext4's erratic file creation), one
// operation at a time (sync and async) and 16 in flight.
//
// Every put writes distinct bytes (a counter in the first 8 bytes), so content is never
// deduplicated by accident; "existing key" rows put a key that is already published.

import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '@cairn/store'
import cacache from 'cacache'
import { measure, printTable, rate } from './lib.mjs'

const KiB = 1024
const MiB = 1024 * 1024
const IN_FLIGHT = 16

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

let counter = 0
/** A fresh 32-hex key, distinct across the whole run. */
function freshKey() {
  counter += 1
  return counter.toString(16).padStart(32, '0')
}

/** `data` with a fresh counter in its first bytes: distinct content every call. */
function freshData(data) {
  data.writeUInt32BE(counter & 0xffffffff, 0)
  data.writeUInt32BE((counter / 0x1_0000_0000) >>> 0, 4)
  return data
}

function rawTree(dir) {
  for (let i = 0; i < 256; i++) mkdirSync(join(dir, i.toString(16).padStart(2, '0')), { recursive: true })
  return (key) => join(dir, key.slice(0, 2), key)
}

/** Runs `op` IN_FLIGHT times concurrently: one benchmark iteration. */
const batch = (op) => () => Promise.all(Array.from({ length: IN_FLIGHT }, op))

export async function benchStore({ quick = false } = {}) {
  const rows = []
  const results = []
  const sizes = quick ? [KiB, MiB] : [KiB, 64 * KiB, MiB]
  const time = quick ? 80 : 400
  for (const location of benchLocations()) {
    for (const size of sizes) {
      const work = mkdtempSync(join(location.base, 'cairn-bench-'))
      try {
        const store = await openStore(join(work, 'store'))
        const rawPath = rawTree(join(work, 'raw'))
        const renamed = rawTree(join(work, 'renamed'))
        mkdirSync(join(work, 'rename-tmp'))
        const cache = join(work, 'cacache')
        const data = randomBytes(size)
        const hitKey = freshKey()
        store.putSync(hitKey, data)
        writeFileSync(rawPath(hitKey), data, { mode: 0o444 })
        await cacache.put(cache, hitKey, data)
        const missKey = 'f'.repeat(32)
        const tempName = () => join(work, 'rename-tmp', `t${counter}`)
        const m = await measure(
          {
            'put sync': () => store.putSync(freshKey(), freshData(data)),
            writeFileSync: () => writeFileSync(rawPath(freshKey()), freshData(data), { mode: 0o444 }),
            'temp+renameSync': () => {
              const key = freshKey()
              const temp = tempName()
              writeFileSync(temp, freshData(data), { mode: 0o444 })
              renameSync(temp, renamed(key))
            },
            'put async': () => store.put(freshKey(), freshData(data)),
            'writeFile async': () => writeFile(rawPath(freshKey()), freshData(data), { mode: 0o444 }),
            'temp+rename async': async () => {
              const key = freshKey()
              const temp = tempName()
              await writeFile(temp, freshData(data), { mode: 0o444 })
              await rename(temp, renamed(key))
            },
            'cacache.put async': () => cacache.put(cache, freshKey(), freshData(data)),
            'put x16': batch(() => store.put(freshKey(), Buffer.from(freshData(data)))),
            'writeFile x16': batch(() =>
              writeFile(rawPath(freshKey()), Buffer.from(freshData(data)), { mode: 0o444 }),
            ),
            'cacache.put x16': batch(() => cacache.put(cache, freshKey(), Buffer.from(freshData(data)))),
            'put sync, existing key': () => store.putSync(hitKey, data),
            'put async, existing key': () => store.put(hitKey, data),
            'get sync hit': () => store.getSync(hitKey),
            'readFileSync hit': () => readFileSync(rawPath(hitKey)),
            'get async hit': () => store.get(hitKey),
            'readFile async hit': () => readFile(rawPath(hitKey)),
            'cacache.get hit': () => cacache.get(cache, hitKey),
            'get x16 hit': batch(() => store.get(hitKey)),
            'readFile x16 hit': batch(() => readFile(rawPath(hitKey))),
            'get sync miss': () => store.getSync(missKey),
            'readFileSync miss': () => {
              try {
                readFileSync(rawPath(missKey))
              } catch {}
            },
            'get async miss': () => store.get(missKey),
            'readFile async miss': () => readFile(rawPath(missKey)).catch(() => {}),
            'cacache.get miss': () => cacache.get(cache, missKey).catch(() => {}),
          },
          { time, iterations: quick ? 8 : 64 },
        )
        const label = size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`
        const perOp = (name) => (name.includes('x16') ? m[name] / IN_FLIGHT : m[name])
        const row = (name, baseline) => [
          `${name} ${label} (${location.name})`,
          rate(perOp(name)),
          `${baseline} ${rate(perOp(baseline))}`,
          `${(perOp(baseline) / perOp(name)).toFixed(2)}x`,
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
        results.push({ location: location.name, size, medianMs: m })
      } finally {
        rmSync(work, { recursive: true, force: true })
      }
    }
  }
  printTable(['put and get (ops/s; ratio = Cairn / baseline)', 'Cairn', 'baseline', 'ratio'], rows)
  return { rows, results }
}

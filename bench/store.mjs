// put and get: Cairn against the filesystem floor (plain writeFile/readFile of the same bytes into
// the same sharded tree, same mode, no atomicity), on the store's real disk and on tmpfs, which
// isolates Cairn's own overhead from the disk's erratic file-creation cost.

import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '@cairn/store'
import { measure, printTable, rate } from './lib.mjs'

const KiB = 1024
const MiB = 1024 * 1024

/** Where to measure: the disk /tmp lives on, and tmpfs when there is one. */
export function benchLocations() {
  const locations = [{ name: 'disk', base: tmpdir() }]
  try {
    const shm = mkdtempSync('/dev/shm/cairn-bench-')
    rmSync(shm, { recursive: true })
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
  return counter.toString(16).padStart(8, '0').repeat(4)
}

function rawTree(dir) {
  for (let i = 0; i < 256; i++) mkdirSync(join(dir, i.toString(16).padStart(2, '0')), { recursive: true })
  return (key) => join(dir, key.slice(0, 2), key)
}

export async function benchStore({ quick = false } = {}) {
  const rows = []
  const results = []
  const sizes = quick ? [KiB, MiB] : [KiB, 64 * KiB, MiB]
  for (const location of benchLocations()) {
    for (const size of sizes) {
      const work = mkdtempSync(join(location.base, 'cairn-bench-'))
      try {
        const store = await openStore(join(work, 'store'))
        const rawPath = rawTree(join(work, 'raw'))
        const data = randomBytes(size)
        const time = quick ? 150 : 400
        // Hits: one key published in both trees.
        const hitKey = freshKey()
        store.putSync(hitKey, data)
        writeFileSync(rawPath(hitKey), data, { mode: 0o444 })
        const missKey = 'ffffffff'.repeat(4)
        const m = await measure(
          {
            'put sync': () => store.putSync(freshKey(), data),
            writeFileSync: () => writeFileSync(rawPath(freshKey()), data, { mode: 0o444 }),
            'put async': () => store.put(freshKey(), data),
            'writeFile async': () => writeFile(rawPath(freshKey()), data, { mode: 0o444 }),
            'put sync, existing key': () => store.putSync(hitKey, data),
            'get sync hit': () => store.getSync(hitKey),
            'readFileSync hit': () => readFileSync(rawPath(hitKey)),
            'get async hit': () => store.get(hitKey),
            'readFile async hit': () => readFile(rawPath(hitKey)),
            'get sync miss': () => store.getSync(missKey),
            'readFileSync miss': () => {
              try {
                readFileSync(rawPath(missKey))
              } catch {}
            },
            'get async miss': () => store.get(missKey),
            'readFile async miss': () => readFile(rawPath(missKey)).catch(() => {}),
          },
          { time },
        )
        const label = size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`
        const row = (name, baseline) => [
          `${name} ${label} (${location.name})`,
          rate(m[name]),
          `${baseline} ${rate(m[baseline])}`,
          `${(m[baseline] / m[name]).toFixed(2)}x`,
        ]
        rows.push(
          row('put sync', 'writeFileSync'),
          row('put async', 'writeFile async'),
          row('put sync, existing key', 'writeFileSync'),
          row('get sync hit', 'readFileSync hit'),
          row('get async hit', 'readFile async hit'),
          row('get sync miss', 'readFileSync miss'),
          row('get async miss', 'readFile async miss'),
        )
        results.push({ location: location.name, size, medianMs: m })
      } finally {
        rmSync(work, { recursive: true, force: true })
      }
    }
  }
  printTable(['put and get', 'Cairn', 'baseline', 'ratio'], rows)
  return { rows, results }
}

// A remote hit of 10 MB against `curl` of the same bytes from the same nginx, in one run.
//
// One machine puts a 10 MB entry and uploads it; then, per sample, a fresh local store (opened
// before the clock starts) gets it: a record GET, a content GET, the digest check, and the
// local publish. curl fetches the same cas/ file into a file, once as a whole process (what a
// shell script pays) and once as curl's own transfer time (`%{time_total}`, no process start).
// Medians of SAMPLES; loopback, so this measures Cairn's overhead, not a network.
//
// Needs nginx and curl, and the compiled test helper (pnpm bench builds first).

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHasher } from '@cairn/hash'
import { openRemoteStore } from '@cairn/remote'
import { startNginx } from '../test/dist/helpers/nginx.js'
import { printTable } from './lib.mjs'

const MB = 1_000_000

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]
}

export async function benchRemote({ quick = false } = {}) {
  const samples = quick ? 5 : 11
  const size = 10 * MB
  const nginx = await startNginx()
  const work = mkdtempSync(join(tmpdir(), 'cairn-bench-remote-'))
  let stores = 0
  const fresh = (algorithm) =>
    openRemoteStore(join(work, `store-${stores++}`), { algorithm, remote: { url: nginx.url } })
  try {
    const results = {}
    const rows = []
    const curlFile = join(work, 'curl.out')
    for (const algorithm of ['sha256', 'xxh128']) {
      const hasher = await createHasher({ algorithm })
      const key = hasher.key(['bench remote', algorithm])
      const data = randomBytes(size)
      const writer = await fresh(algorithm)
      await writer.put(key, data)
      await writer.flush()
      const url = `${nginx.url}/cas/${hasher.bytes(data)}`

      const timings = { get: [], materialize: [], local: [], curl: [], curlTransfer: [] }
      for (let i = 0; i < samples; i++) {
        const reader = await fresh(algorithm)
        let started = performance.now()
        const entry = await reader.get(key)
        timings.get.push(performance.now() - started)
        if (!entry?.data.equals(data)) throw new Error('remote hit returned other bytes')
        started = performance.now()
        await reader.get(key)
        timings.local.push(performance.now() - started)

        const other = await fresh(algorithm)
        started = performance.now()
        if (!(await other.materialize(key, join(work, `out-${i}`)))) throw new Error('materialize missed')
        timings.materialize.push(performance.now() - started)

        started = performance.now()
        const transfer = execFileSync('curl', ['-sS', '-f', '-o', curlFile, '-w', '%{time_total}', url], {
          encoding: 'utf8',
        })
        timings.curl.push(performance.now() - started)
        timings.curlTransfer.push(Number(transfer) * 1000)
        rmSync(join(work, `store-${stores - 1}`), { recursive: true, force: true })
        rmSync(join(work, `store-${stores - 2}`), { recursive: true, force: true })
      }
      const m = Object.fromEntries(Object.entries(timings).map(([name, values]) => [name, median(values)]))
      results[algorithm] = m
      const ms = (value) => `${value.toFixed(1)} ms`
      const vs = (value) => `${(value / m.curl).toFixed(2)}×`
      rows.push(
        [`${algorithm}: remote hit, get (fresh store)`, ms(m.get), vs(m.get)],
        [`${algorithm}: remote hit, materialize to a file`, ms(m.materialize), vs(m.materialize)],
        [`${algorithm}: local hit, get (after it)`, ms(m.local), vs(m.local)],
        [`curl -o file (process included)`, ms(m.curl), '1.00×'],
        [`curl -o file (%{time_total})`, ms(m.curlTransfer), vs(m.curlTransfer)],
      )
    }
    console.log(`Remote hit of 10 MB vs curl from the same nginx (loopback; median of ${samples})\n`)
    printTable(['operation', 'median', 'vs curl'], rows)
    return { size, samples, ...results }
  } finally {
    await nginx.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  await benchRemote({ quick: process.argv.includes('--quick') })

// Hashing throughput: Cairn's xxh128 (two XXH64 passes) against one xxhash-wasm h64Raw pass,
// node:crypto sha256 and a plain memcpy (Buffer.copy), at several sizes, in one run.

import { createHash, randomBytes } from 'node:crypto'
import { createHasher } from '@cairn/hash'
import xxhash from 'xxhash-wasm'
import { measure, printTable, rate } from './lib.mjs'

export async function benchHash({ quick = false } = {}) {
  const xxh = await createHasher()
  const sha = await createHasher({ algorithm: 'sha256' })
  const { h64Raw } = await xxhash()
  const sizes = quick ? [1024, 16 * 1024 * 1024] : [64, 1024, 64 * 1024, 16 * 1024 * 1024]
  const rows = []
  const results = []
  for (const size of sizes) {
    const data = randomBytes(size)
    const target = Buffer.allocUnsafe(size)
    const m = await measure(
      {
        'xxh128 bytes': () => xxh.bytes(data),
        'h64Raw single pass': () => h64Raw(data, 0n),
        'sha256 bytes': () => sha.bytes(data),
        'node:crypto sha256': () => createHash('sha256').update(data).digest('hex'),
        memcpy: () => data.copy(target),
      },
      { time: quick ? 100 : 500 },
    )
    const label =
      size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`
    const row = (name, baseline) => [
      `${name} ${label}`,
      rate(m[name], size),
      `${baseline} ${rate(m[baseline], size)}`,
      `${(m[baseline] / m[name]).toFixed(2)}x`,
    ]
    rows.push(
      row('xxh128 bytes', 'h64Raw single pass'),
      row('sha256 bytes', 'node:crypto sha256'),
      row('xxh128 bytes', 'memcpy'),
    )
    results.push({ size, medianMs: m })
  }
  const options = {
    tool: 'tsc',
    version: '5.9.3',
    args: ['-p', '.', '--strict'],
    env: { NODE_ENV: 'production' },
    jobs: 4,
  }
  const k = await measure(
    { 'xxh128 key of an options object': () => xxh.key(options) },
    { time: quick ? 100 : 500 },
  )
  rows.push(['xxh128 key of an options object', rate(k['xxh128 key of an options object']), '-', '-'])
  printTable(['hashing', 'Cairn', 'baseline', 'ratio'], rows)
  return { rows, results }
}

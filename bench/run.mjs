#!/usr/bin/env node
// `pnpm bench`: runs the benchmarks and writes bench/results/latest.json.
// Flags: --quick  a reduced set that finishes in well under a minute.
// Only hashing is measured so far; put/get/GC rows come with the benchmarks issue.

import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { benchHash } from './hash.mjs'

const quick = process.argv.includes('--quick')
const machine = {
  cpus: os.cpus().length,
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
}
console.log(`Cairn benchmarks (${quick ? 'quick' : 'full'}): ${machine.cpus} cores, Node ${machine.node}\n`)
const hash = await benchHash({ quick })
const out = new URL('./results/', import.meta.url)
mkdirSync(out, { recursive: true })
writeFileSync(
  new URL('latest.json', out),
  `${JSON.stringify({ date: new Date().toISOString(), machine, quick, hash }, null, 2)}\n`,
)

#!/usr/bin/env node
// `pnpm bench`: runs the benchmarks and writes bench/results/latest.json.
// Flags: --quick  a reduced set that finishes in well under a minute.
//        --only=NAME[,NAME]  run only some groups (hash, store, cli, gc, remote, jest, server,
//                     compression).
//        --full   gc also at 1M entries (several minutes to build the store).

import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { benchCli, benchCliManyInputs } from './cli.mjs'
import { benchCompression } from './compression.mjs'
import { benchGc } from './gc.mjs'
import { benchHash } from './hash.mjs'
import { benchJest } from './jest.mjs'
import { benchRemote } from './remote.mjs'
import { benchServer } from './server.mjs'
import { benchStore } from './store.mjs'

const quick = process.argv.includes('--quick')
const only = process.argv
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
const groups = {
  hash: benchHash,
  store: benchStore,
  cli: async (options) => ({ hit: await benchCli(options), manyInputs: await benchCliManyInputs(options) }),
  gc: benchGc,
  remote: benchRemote,
  jest: benchJest,
  server: benchServer,
  compression: benchCompression,
}
const machine = {
  cpus: os.cpus().length,
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
}
console.log(`Cairn benchmarks (${quick ? 'quick' : 'full'}): ${machine.cpus} cores, Node ${machine.node}\n`)
const results = { date: new Date().toISOString(), machine, quick }
for (const [name, run] of Object.entries(groups)) {
  if (only && !only.includes(name)) continue
  results[name] = await run({ quick })
  console.log()
}
const out = new URL('./results/', import.meta.url)
mkdirSync(out, { recursive: true })
writeFileSync(new URL('latest.json', out), `${JSON.stringify(results, null, 2)}\n`)

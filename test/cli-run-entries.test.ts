// What `cairn run` does with entries it did not write itself: a planted or damaged manifest
// and a blob stored under the wrong digest are misses, never wrong outputs, and never a write
// outside the declared outputs. In-process (main(argv, io)); the command is a real node child.

import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { makeProject } from './fixtures/cli-harness.js'
import { cli } from './fixtures/cli-in-process.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

/** A build step that copies src/a.txt to out/a.txt and counts its runs in runs.log. */
const STEP = [
  process.execPath,
  '-e',
  "const fs=require('fs');fs.appendFileSync('runs.log','x');fs.mkdirSync('out',{recursive:true});fs.copyFileSync('src/a.txt','out/a.txt');console.log('copied')",
]

function setup() {
  const base = tempDir('cairn-cli-entries-')
  const project = makeProject(join(base, 'project'))
  const store = join(base, 'store')
  const run = () =>
    cli(['run', '--store', store, '--inputs', 'src', '--outputs', 'out', '--', ...STEP], { cwd: project })
  const runs = () =>
    existsSync(join(project, 'runs.log')) ? readFileSync(join(project, 'runs.log'), 'utf8').length : 0
  return { base, project, store, run, runs }
}

/** The key of the one `cairn run` manifest in the store, from `cairn ls --json`. */
async function manifestKey(store: string, cwd: string): Promise<string> {
  const listed = JSON.parse((await cli(['ls', '--json', '--store', store], { cwd })).stdout) as {
    key: string
    metadata: { cairnRun?: number } | null
  }[]
  const manifests = listed.filter((entry) => entry.metadata?.cairnRun === 1)
  assert.is(manifests.length, 1)
  return manifests[0]?.key ?? ''
}

const hostile = suite('cairn run: entries it did not write')
hostile.after(removeTempDirs)

hostile(
  'a planted manifest naming a path outside the outputs is a miss and writes nothing there',
  async () => {
    const { base, project, store, run, runs } = setup()
    assert.match((await run()).stderr, /^cairn: miss /m)
    const key = await manifestKey(store, project)
    const opened = await openStore(store)
    const good = JSON.parse((await opened.get(key))?.data.toString('utf8') ?? '{}') as {
      entries: { path: string; type: string }[]
    }
    const file = good.entries.find((entry) => entry.type === 'file')
    assert.ok(file)
    for (const path of ['out/../../escaped.txt', '../escaped.txt', 'out//a.txt', '/tmp/escaped.txt']) {
      const planted = { ...good, entries: [...good.entries, { ...file, path }] }
      await opened.delete(key)
      await opened.put(key, JSON.stringify(planted))
      const result = await run()
      assert.is(result.code, 0, result.stderr)
      assert.match(result.stderr, /^cairn: miss /m, `manifest with ${path} is a miss`)
    }
    assert.not.ok(existsSync(join(base, 'escaped.txt')))
    assert.not.ok(existsSync(join(project, 'escaped.txt')))
    assert.is(runs(), 5)
    // The last miss stored a good manifest again.
    assert.match((await run()).stderr, /^cairn: hit /m)
  },
)

hostile(
  'a manifest that is not one (damaged, another version, other outputs) is a miss, then replaced',
  async () => {
    const { project, store, run, runs } = setup()
    await run()
    const key = await manifestKey(store, project)
    const opened = await openStore(store)
    const good = (await opened.get(key))?.data.toString('utf8') ?? ''
    const manifest = JSON.parse(good) as Record<string, unknown>
    for (const bad of [
      good.slice(0, 20),
      JSON.stringify({ ...manifest, version: 2 }),
      JSON.stringify({ ...manifest, outputs: ['elsewhere'] }),
      JSON.stringify({ ...manifest, exitCode: 1 }),
    ]) {
      await opened.delete(key)
      await opened.put(key, bad)
      assert.match((await run()).stderr, /^cairn: miss /m)
      assert.match((await run()).stderr, /^cairn: hit /m)
    }
    assert.is(runs(), 5)
  },
)

hostile(
  'a blob stored by hand under another content digest is a miss, removed, and stored right',
  async () => {
    const { project, store, run, runs } = setup()
    await run()
    const opened = await openStore(store)
    const digest = (await cli(['key', 'src/a.txt'], { cwd: project })).stdout.trim()
    await opened.delete(digest)
    await opened.put(digest, 'not the bytes of src/a.txt\n')
    writeFileSync(join(project, 'out', 'a.txt'), 'left alone on a miss\n')
    const squatted = await run()
    assert.match(squatted.stderr, /^cairn: miss /m)
    assert.is(readFileSync(join(project, 'out', 'a.txt'), 'utf8'), 'alpha\n', 'the command rebuilt it')
    const hit = await run()
    assert.match(hit.stderr, /^cairn: hit /m)
    assert.is(hit.stdout, 'copied\n')
    assert.is(readFileSync(join(project, 'out', 'a.txt'), 'utf8'), 'alpha\n')
    assert.is(runs(), 2)
  },
)

hostile.run()

// ---

const overlap = suite('cairn run: inputs and outputs')
overlap.after(removeTempDirs)

overlap('files under the declared outputs are never inputs, so a glob covering them still hits', async () => {
  const { project, store, runs } = setup()
  const run = () =>
    cli(['run', '--store', store, '--inputs', '**/*.txt', '--outputs', 'out', '--', ...STEP], {
      cwd: project,
    })
  const first = await run()
  assert.match(first.stderr, /^cairn: miss /m)
  assert.ok(existsSync(join(project, 'out', 'a.txt')), 'the step wrote a .txt file the glob matches')
  assert.match((await run()).stderr, /^cairn: hit /m)
  assert.is(runs(), 1)
  const stats = JSON.parse((await cli(['stats', '--json', '--store', store], { cwd: project })).stdout) as {
    entries: number
    runs: number
  }
  // One manifest; blobs for out/a.txt, stdout and stderr.
  assert.equal([stats.entries, stats.runs], [4, 1])
  const onlyOutputs = await cli(
    ['run', '--store', store, '--inputs', 'out/*.txt', '--outputs', 'out', '--', ...STEP],
    { cwd: project },
  )
  assert.is(onlyOutputs.code, 2)
  assert.match(
    onlyOutputs.stderr,
    /^cairn: --inputs "out\/\*\.txt" matches only files under the declared outputs/m,
  )
})

overlap.run()

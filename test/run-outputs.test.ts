// Issue 18, items 1 and 2: what a miss stores is exactly what the command wrote (the declared
// outputs are moved aside first; --keep-outputs names what it did not write), and a hit never
// restores bytes that do not match the manifest's digests. Real `cairn` processes.

import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { outcomeOf, runStep, writeFiles } from './fixtures/run-project.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const BUILD = 'mkdir -p out && cat src/*.txt > out/all.txt && echo run >> runs.log'
const FLAGS = ['--inputs', 'src', '--outputs', 'out']

function setup() {
  const base = tempDir('cairn-run-outputs-')
  const project = join(base, 'checkout')
  writeFiles(project, { 'package.json': '{}', 'src/a.txt': 'alpha\n', 'src/b.txt': 'beta\n' })
  const store = join(base, 'store')
  const runs = (dir = project) =>
    existsSync(join(dir, 'runs.log')) ? readFileSync(join(dir, 'runs.log'), 'utf8').split('\n').length - 1 : 0
  return { base, project, store, runs }
}

const stale = suite('cairn run: a miss stores only what the command wrote')
stale.after(removeTempDirs)

stale(
  'a stale file left in an output folder is neither stored nor restored in a clean checkout',
  async () => {
    const { base, project, store } = setup()
    writeFiles(project, { 'out/deleted-source.js': 'left by an earlier build\n' })
    const miss = await runStep(project, store, FLAGS, BUILD)
    assert.is(miss.code, 0, miss.stderr)
    assert.is(outcomeOf(miss), 'miss')
    assert.equal(readdirSync(join(project, 'out')).sort(), ['all.txt'])
    const clean = join(base, 'clean')
    writeFiles(clean, { 'package.json': '{}', 'src/a.txt': 'alpha\n', 'src/b.txt': 'beta\n' })
    const hit = await runStep(clean, store, FLAGS, BUILD)
    assert.is(outcomeOf(hit), 'hit', hit.stderr)
    assert.equal(readdirSync(join(clean, 'out')).sort(), ['all.txt'])
    assert.is(readFileSync(join(clean, 'out/all.txt'), 'utf8'), 'alpha\nbeta\n')
  },
)

stale('a command that fails gets the previous outputs back, and nothing is stored', async () => {
  const { project, store } = setup()
  writeFiles(project, { 'out/previous.txt': 'from the last good build\n' })
  const failed = await runStep(
    project,
    store,
    FLAGS,
    'mkdir -p out && echo partial > out/partial.txt && exit 3',
  )
  assert.is(failed.code, 3)
  assert.equal(readdirSync(join(project, 'out')).sort(), ['previous.txt'])
  assert.is(readFileSync(join(project, 'out/previous.txt'), 'utf8'), 'from the last good build\n')
  assert.equal(
    readdirSync(project).filter((name) => name.includes('cairn-')),
    [],
    'no moved-aside copy is left behind',
  )
})

stale(
  '--keep-outputs leaves the outputs for the command and names, one per line, the files it did not write',
  async () => {
    const { project, store } = setup()
    writeFiles(project, { 'out/stale.js': 'old\n', 'out/all.txt': 'overwritten\n' })
    const old = new Date(Date.now() - 60_000)
    utimesSync(join(project, 'out/stale.js'), old, old)
    utimesSync(join(project, 'out/all.txt'), old, old)
    const miss = await runStep(project, store, ['--keep-outputs', ...FLAGS], BUILD)
    assert.is(miss.code, 0, miss.stderr)
    assert.match(miss.stderr, /not written by this run/)
    assert.match(miss.stderr, /^ {2}out\/stale\.js$/m)
    assert.not.match(miss.stderr, /^ {2}out\/all\.txt$/m)
    assert.ok(existsSync(join(project, 'out/stale.js')))
  },
)

stale(
  'two misses of one step in one checkout at once: one stores a whole tree, the other leaves it alone and stores nothing',
  async () => {
    const { base, project, store } = setup()
    const gate = join(base, 'gate')
    const done = join(base, 'done')
    mkdirSync(gate)
    mkdirSync(done)
    // Each command writes half its outputs, waits until both commands have started, then the rest:
    // without the claim, the second miss would move the first one's half-written tree aside.
    // Then each waits until both have written everything, so that neither run stores while the
    // other's command still writes (on a busy machine that write could land in the first run's
    // store phase, which then rightly stores nothing: the tree changed under it).
    const waitFor = (dir: string) =>
      `touch ${dir}/$$; while [ "$(ls ${dir} | wc -l)" -lt 2 ]; do sleep 0.02; done`
    const step = `mkdir -p out && echo 1 > out/first.txt && ${waitFor(gate)}; echo 2 > out/second.txt; ${waitFor(done)}`
    const [a, b] = await Promise.all([
      runStep(project, store, FLAGS, step),
      runStep(project, store, FLAGS, step),
    ])
    assert.is(a.code, 0, a.stderr)
    assert.is(b.code, 0, b.stderr)
    const lines = [a.stderr, b.stderr].join('\n')
    assert.is(lines.match(/stored 2 files/g)?.length, 1, lines)
    assert.is(lines.match(/another cairn run of this step is running/g)?.length, 1, lines)
    const clean = join(base, 'clean')
    writeFiles(clean, { 'package.json': '{}', 'src/a.txt': 'alpha\n', 'src/b.txt': 'beta\n' })
    const hit = await runStep(clean, store, FLAGS, step)
    assert.is(outcomeOf(hit), 'hit', hit.stderr)
    assert.equal(readdirSync(join(clean, 'out')).sort(), ['first.txt', 'second.txt'])
  },
)

const damaged = suite('cairn run: a hit checks every restored file against its digest')
damaged.after(removeTempDirs)

/** Content files of a store (not inline entries): path and size. */
function contentFiles(store: string): { path: string; size: number }[] {
  const found: { path: string; size: number }[] = []
  const dir = join(store, 'content')
  for (const shard of existsSync(dir) ? readdirSync(dir) : []) {
    for (const name of readdirSync(join(dir, shard))) {
      const path = join(dir, shard, name)
      found.push({ path, size: statSync(path).size })
    }
  }
  return found
}

damaged(
  'a content file changed in place (same size) is not restored: removed, rebuilt, stored again, in one line',
  async () => {
    const { base, project, store, runs } = setup()
    const big = 'x'.repeat(20_000)
    writeFiles(project, { 'src/big.txt': big })
    const miss = await runStep(project, store, FLAGS, BUILD)
    assert.is(outcomeOf(miss), 'miss', miss.stderr)
    const expected = readFileSync(join(project, 'out/all.txt'))
    const target = contentFiles(store).find((file) => file.size === expected.length)
    assert.ok(target, 'the output is stored as a content file')
    chmodSync(target.path, 0o644)
    const bytes = readFileSync(target.path)
    bytes[100] = 'Y'.charCodeAt(0)
    writeFileSync(target.path, bytes)

    // A clean checkout: without the check it would get the damaged bytes.
    const clean = join(base, 'clean')
    writeFiles(clean, {
      'package.json': '{}',
      'src/a.txt': 'alpha\n',
      'src/b.txt': 'beta\n',
      'src/big.txt': big,
    })
    const repaired = await runStep(clean, store, FLAGS, BUILD)
    assert.is(repaired.code, 0, repaired.stderr)
    assert.is(repaired.stderr.match(/damaged/g)?.length, 1, repaired.stderr)
    assert.is(runs(clean), 1, 'the command ran')
    assert.ok(readFileSync(join(clean, 'out/all.txt')).equals(expected))

    // The correct bytes are stored again: the next clean checkout hits with them.
    const again = join(base, 'again')
    writeFiles(again, {
      'package.json': '{}',
      'src/a.txt': 'alpha\n',
      'src/b.txt': 'beta\n',
      'src/big.txt': big,
    })
    const hit = await runStep(again, store, FLAGS, BUILD)
    assert.is(outcomeOf(hit), 'hit', hit.stderr)
    assert.ok(readFileSync(join(again, 'out/all.txt')).equals(expected))
  },
)

stale.run()
damaged.run()

// Issue 18, item 5: each run's manifest records its key's parts; `cairn run --explain` prints
// them and, on a miss, one line per difference from the last stored run of the same command in
// the same directory; `cairn ls` shows each run's command and working directory. Real processes.

import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cairn } from './fixtures/cli-harness.js'
import { gitRepository, outcomeOf, runStep, writeFiles } from './fixtures/run-project.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const explain = suite('cairn run --explain')
explain.after(removeTempDirs)

const BUILD = 'mkdir -p dist && cat src/*.ts > dist/out.js && echo "$NODE_ENV"'
const FLAGS = ['--explain', '--inputs', 'src', '--env', 'NODE_ENV', '--outputs', 'dist']

explain(
  'a miss names each changed, added and removed input and a changed --env value, one per line',
  async () => {
    const base = tempDir('cairn-run-explain-')
    const store = join(base, 'store')
    const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'a', 'src/c.ts': 'c' })
    const first = await runStep(repo, store, FLAGS, BUILD, { NODE_ENV: 'development' })
    assert.is(first.code, 0, first.stderr)
    assert.is(outcomeOf(first), 'miss')
    assert.match(first.stderr, /^ {2}input src\/a\.ts [0-9a-f]+$/m)
    assert.match(first.stderr, /^ {2}env NODE_ENV [0-9a-f]+$/m)
    assert.match(first.stderr, /^ {2}output dist$/m)
    assert.ok(!first.stderr.includes('development'), 'values are not printed, only their digests')

    writeFiles(repo, { 'src/a.ts': 'a2', 'src/b.ts': 'b' })
    rmSync(join(repo, 'src/c.ts'))
    const second = await runStep(repo, store, FLAGS, BUILD, { NODE_ENV: 'production' })
    assert.is(second.code, 0, second.stderr)
    assert.is(outcomeOf(second), 'miss')
    const lines = second.stderr.split('\n')
    for (const line of [
      'changed: src/a.ts',
      'added: src/b.ts',
      'removed: src/c.ts',
      'env NODE_ENV changed',
    ]) {
      assert.ok(lines.includes(line), `${line} in:\n${second.stderr}`)
    }
    assert.is(second.stdout, 'production\n', 'the command still ran')

    const hit = await runStep(repo, store, FLAGS, BUILD, { NODE_ENV: 'production' })
    assert.is(hit.code, 0)
    assert.is(outcomeOf(hit), 'hit')
    assert.is(hit.stdout, 'production\n')
    assert.not.match(hit.stderr, /^changed: /m)
  },
)

explain('--explain exits with the command code', async () => {
  const base = tempDir('cairn-run-explain-')
  const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'a' })
  const failed = await runStep(
    repo,
    join(base, 'store'),
    ['--explain', '--inputs', 'src', '--outputs', 'dist'],
    'exit 7',
  )
  assert.is(failed.code, 7)
  assert.match(failed.stderr, /no earlier run/)
})

const listing = suite('cairn ls: runs')
listing.after(removeTempDirs)

listing('each run shows its command and working directory, distinct per run', async () => {
  const base = tempDir('cairn-run-explain-')
  const store = join(base, 'store')
  const repo = gitRepository(join(base, 'repo'), { 'a/src/x.ts': 'x', 'b/src/x.ts': 'x' })
  const step = 'mkdir -p dist && cp src/x.ts dist/'
  for (const dir of ['a', 'b']) {
    const result = await runStep(join(repo, dir), store, ['--inputs', 'src', '--outputs', 'dist'], step)
    assert.is(outcomeOf(result), 'miss', result.stderr)
  }
  const ls = await cairn(['ls', '--store', store])
  assert.is(ls.code, 0)
  const runs = ls.stdout.split('\n').filter((line) => line.includes(' run in '))
  assert.is(runs.length, 2, ls.stdout)
  assert.ok(
    runs.some((line) => line.endsWith(`run in a: sh -c "${step}"`)),
    ls.stdout,
  )
  assert.ok(
    runs.some((line) => line.endsWith(`run in b: sh -c "${step}"`)),
    ls.stdout,
  )
})

explain.run()
listing.run()

// Review of issue 18's `cairn run`: defects an adversarial reviewer found, each with real
// processes and real git repositories.

import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { gitRepository, runStep } from './fixtures/run-project.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const BUILD = 'mkdir -p dist && touch dist/done'

/** The input paths `--explain` lists for a run. */
function inputsOf(stderr: string): string[] {
  return [...stderr.matchAll(/^ {2}input (\S+) [0-9a-f]+$/gm)].map((match) => match[1] as string)
}

/** A monorepo: root files, packages/core and packages/util, each with src. */
function monorepo(dir: string): string {
  return gitRepository(dir, {
    'tsconfig.json': '{}',
    'packages/core/src/a.ts': 'a',
    'packages/core/package.json': '{}',
    'packages/util/src/b.ts': 'b',
  })
}

const inputs = suite('cairn run review: input patterns')
inputs.after(removeTempDirs)

inputs("'../../**' from a package hashes every file of the repository, not only the root's", async () => {
  const base = tempDir('cairn-run-review-')
  const core = join(monorepo(join(base, 'm1')), 'packages/core')
  const result = await runStep(
    core,
    join(base, 'store'),
    ['--explain', '--inputs', '../../**', '--outputs', 'dist'],
    BUILD,
  )
  assert.is(result.code, 0, result.stderr)
  assert.equal(inputsOf(result.stderr), [
    'packages/core/package.json',
    'packages/core/src/a.ts',
    'packages/util/src/b.ts',
    'tsconfig.json',
  ])
})

inputs("'../*/src' from a package matches its own src and its siblings'", async () => {
  const base = tempDir('cairn-run-review-')
  const core = join(monorepo(join(base, 'm1')), 'packages/core')
  const result = await runStep(
    core,
    join(base, 'store'),
    ['--explain', '--inputs', '../*/src', '--outputs', 'dist'],
    BUILD,
  )
  assert.is(result.code, 0, result.stderr)
  assert.equal(inputsOf(result.stderr), ['packages/core/src/a.ts', 'packages/util/src/b.ts'])
})

inputs(
  "'../../packages' from a package is every file under packages; negations work from there too",
  async () => {
    const base = tempDir('cairn-run-review-')
    const core = join(monorepo(join(base, 'm1')), 'packages/core')
    const result = await runStep(
      core,
      join(base, 'store'),
      ['--explain', '--inputs', '../../packages', '!../util/**', '!package.json', '--outputs', 'dist'],
      BUILD,
    )
    assert.is(result.code, 0, result.stderr)
    assert.equal(inputsOf(result.stderr), ['packages/core/src/a.ts'])
  },
)

inputs('only negated patterns is a usage error (exit 2)', async () => {
  const base = tempDir('cairn-run-review-')
  const repo = monorepo(join(base, 'm1'))
  const result = await runStep(
    repo,
    join(base, 'store'),
    ['--inputs', '!src/a.ts', '--outputs', 'dist'],
    BUILD,
  )
  assert.is(result.code, 2, result.stderr)
  assert.match(result.stderr, /only negated patterns/)
})

inputs.run()

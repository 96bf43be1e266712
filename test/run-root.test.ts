// Issue 18, item 3: every path in a `cairn run` key is relative to the project root (the
// repository root first), so a package that names files above itself hits across checkouts;
// a path outside the root is exit 2, naming it. Real git repositories and real processes.

import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { git, gitRepository, outcomeOf, runStep, writeFiles } from './fixtures/run-project.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const MONOREPO = {
  'package.json': '{"private":true}',
  'pnpm-workspace.yaml': 'packages:\n  - packages/*\n',
  'tsconfig.json': '{"compilerOptions":{}}\n',
  'packages/core/package.json': '{"name":"core"}',
  'packages/core/src/index.ts': 'export const x = 1\n',
}
const BUILD = 'mkdir -p dist && cat ../../tsconfig.json src/index.ts > dist/index.js'
const FLAGS = ['--inputs', 'src', '../../tsconfig.json', '--outputs', 'dist']

const root = suite('cairn run: the project root')
root.after(removeTempDirs)

root(
  'in a git monorepo, a package naming ../../tsconfig.json hits in a second checkout (git clone elsewhere)',
  async () => {
    const base = tempDir('cairn-run-root-')
    const store = join(base, 'store')
    const first = gitRepository(join(base, 'one', 'repo'), MONOREPO)
    const miss = await runStep(join(first, 'packages/core'), store, FLAGS, BUILD)
    assert.is(miss.code, 0, miss.stderr)
    assert.is(outcomeOf(miss), 'miss')
    const second = join(base, 'elsewhere', 'deeper', 'clone')
    git(base, 'clone', '-q', first, second)
    const hit = await runStep(join(second, 'packages/core'), store, FLAGS, BUILD)
    assert.is(outcomeOf(hit), 'hit', hit.stderr)
    // A changed file above the package is an input like any other.
    writeFiles(second, { 'tsconfig.json': '{"compilerOptions":{"strict":true}}\n' })
    const changed = await runStep(join(second, 'packages/core'), store, FLAGS, BUILD)
    assert.is(outcomeOf(changed), 'miss', changed.stderr)
  },
)

root(
  'without git, the workspace root (pnpm-workspace.yaml) is the root, above the package.json of the package',
  async () => {
    const base = tempDir('cairn-run-root-')
    const store = join(base, 'store')
    const first = join(base, 'a', 'ws')
    writeFiles(first, MONOREPO)
    const miss = await runStep(join(first, 'packages/core'), store, FLAGS, BUILD)
    assert.is(outcomeOf(miss), 'miss', miss.stderr)
    const second = join(base, 'b', 'c', 'ws')
    cpSync(first, second, { recursive: true })
    const hit = await runStep(join(second, 'packages/core'), store, FLAGS, BUILD)
    assert.is(outcomeOf(hit), 'hit', hit.stderr)
  },
)

root('an input or output outside the root is exit 2, naming the path and what to do', async () => {
  const base = tempDir('cairn-run-root-')
  const store = join(base, 'store')
  const repo = gitRepository(join(base, 'repo'), MONOREPO)
  writeFiles(base, { 'shared.json': '{}' })
  const input = await runStep(repo, store, ['--inputs', '../shared.json', '--outputs', 'dist'], 'true')
  assert.is(input.code, 2)
  assert.ok(input.stderr.includes(join(base, 'shared.json')), input.stderr)
  assert.match(input.stderr, /outside the project root/)
  assert.match(input.stderr, /--root/)
  const output = await runStep(repo, store, ['--inputs', 'tsconfig.json', '--outputs', '../dist'], 'true')
  assert.is(output.code, 2)
  assert.ok(output.stderr.includes(join(base, 'dist')), output.stderr)
})

root('--root DIR overrides the detected root; a working directory outside it is exit 2', async () => {
  const base = tempDir('cairn-run-root-')
  const store = join(base, 'store')
  const repo = gitRepository(join(base, 'repo'), MONOREPO)
  writeFiles(base, { 'shared.json': '{}' })
  const wider = await runStep(
    repo,
    store,
    ['--root', '..', '--inputs', '../shared.json', '--outputs', 'dist'],
    'mkdir -p dist && touch dist/x',
  )
  assert.is(wider.code, 0, wider.stderr)
  assert.is(outcomeOf(wider), 'miss')
  const outside = await runStep(
    repo,
    store,
    ['--root', 'packages', '--inputs', 'tsconfig.json', '--outputs', 'dist'],
    'true',
  )
  assert.is(outside.code, 2)
  assert.ok(outside.stderr.includes(repo), outside.stderr)
})

root.run()

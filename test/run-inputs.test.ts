// Issue 18, item 4: inputs users can scope: `!pattern`, files git ignores left out by default
// (`--no-gitignore` brings them back), node_modules never entered by `**` or a symlink unless
// named. Each case checks what goes into the key with `--explain`, in real git repositories.

import { mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { git, gitRepository, outcomeOf, runStep, writeFiles } from './fixtures/run-project.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const BUILD = 'mkdir -p dist && touch dist/done'

/** The input paths `--explain` lists for a run. */
function inputsOf(stderr: string): string[] {
  return [...stderr.matchAll(/^ {2}input (\S+) [0-9a-f]+$/gm)].map((match) => match[1] as string)
}

const scoping = suite('cairn run: scoping inputs')
scoping.after(removeTempDirs)

scoping('!pattern leaves files out of every pattern', async () => {
  const base = tempDir('cairn-run-inputs-')
  const repo = gitRepository(join(base, 'repo'), {
    'src/a.ts': 'a',
    'src/a.test.ts': 't',
    'src/gen/b.ts': 'b',
  })
  const result = await runStep(
    repo,
    join(base, 'store'),
    ['--explain', '--inputs', 'src', '!**/*.test.ts', '!src/gen/**', '--outputs', 'dist'],
    BUILD,
  )
  assert.is(result.code, 0, result.stderr)
  assert.equal(inputsOf(result.stderr), ['src/a.ts'])
})

scoping(
  'in a git checkout, files .gitignore or .git/info/exclude ignore are left out; --no-gitignore includes them',
  async () => {
    const base = tempDir('cairn-run-inputs-')
    const store = join(base, 'store')
    const repo = gitRepository(join(base, 'repo'), {
      '.gitignore': '*.log\n',
      'src/a.ts': 'a',
      'src/tracked.log': 'committed before the pattern',
    })
    writeFiles(repo, { '.git/info/exclude': 'src/local/\n', 'src/debug.log': 'x', 'src/local/notes.ts': 'y' })
    // `git add -A` honoured .gitignore: force this one in, a tracked file an ignore pattern
    // matches, which stays an input (git never reports a tracked file as ignored).
    git(repo, 'add', '-f', 'src/tracked.log')
    const flags = ['--explain', '--inputs', 'src', '--outputs', 'dist']
    const ignored = await runStep(repo, store, flags, BUILD)
    assert.is(ignored.code, 0, ignored.stderr)
    assert.equal(inputsOf(ignored.stderr), ['src/a.ts', 'src/tracked.log'])
    const all = await runStep(repo, store, ['--no-gitignore', ...flags], BUILD)
    assert.equal(inputsOf(all.stderr), ['src/a.ts', 'src/debug.log', 'src/local/notes.ts', 'src/tracked.log'])
    // Changing an ignored file does not change the key.
    writeFiles(repo, { 'src/debug.log': 'changed' })
    const again = await runStep(repo, store, flags, BUILD)
    assert.is(outcomeOf(again), 'hit', again.stderr)
  },
)

scoping(
  'node_modules is entered neither by a directory pattern, nor by **, nor through a symlink, unless named',
  async () => {
    const base = tempDir('cairn-run-inputs-')
    const store = join(base, 'store')
    const repo = gitRepository(join(base, 'repo'), { 'packages/a/src/index.ts': 'a' })
    // Not ignored by git here, so only the node_modules rule leaves them out.
    writeFiles(repo, {
      'packages/a/node_modules/dep/index.js': 'dep',
      'node_modules/.pnpm/lib@1/node_modules/lib/index.js': 'lib',
    })
    mkdirSync(join(repo, 'packages/a/vendor'), { recursive: true })
    symlinkSync(join(repo, 'node_modules/.pnpm/lib@1/node_modules/lib'), join(repo, 'packages/a/vendor/lib'))
    const flags = ['--explain', '--inputs', 'packages', '**/*.js', '--outputs', 'dist']
    const result = await runStep(repo, store, ['--allow-empty', ...flags], BUILD)
    assert.is(result.code, 0, result.stderr)
    assert.equal(inputsOf(result.stderr), ['packages/a/src/index.ts'])
    const named = await runStep(
      repo,
      store,
      ['--explain', '--inputs', 'packages/a/src', 'packages/a/node_modules/dep', '--outputs', 'dist'],
      BUILD,
    )
    assert.equal(inputsOf(named.stderr), ['packages/a/node_modules/dep/index.js', 'packages/a/src/index.ts'])
  },
)

scoping.run()

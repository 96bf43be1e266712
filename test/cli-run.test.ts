// `cairn run` end to end: the built CLI as a real child process, caching a real (fake) build
// step that writes every kind of output, in temp projects and stores.

import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  BUILD_OUTPUTS,
  BUILD_SCRIPT,
  buildStepArgs,
  type CliResult,
  cairn,
  copyProject,
  expectOutcome,
  makeProject,
  outcome,
  runCount,
  snapshot,
} from './fixtures/cli-harness.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

/** A project and a store, and `cairn run` of the build step in it. */
function setup() {
  const base = tempDir('cairn-cli-run-')
  const project = makeProject(join(base, 'checkout'))
  const store = join(base, 'store')
  const run = (
    options: {
      args?: string[]
      flags?: string[]
      env?: Record<string, string | undefined>
      cwd?: string
    } = {},
  ): Promise<CliResult> =>
    cairn(buildStepArgs(store, options.flags, options.args), {
      cwd: options.cwd ?? project,
      env: options.env ?? {},
    })
  const runs = (cwd = project) => runCount(join(cwd, 'runs.log'))
  return { base, project, store, run, runs }
}

const basics = suite('cairn run: miss, then hit')
basics.after(removeTempDirs)

basics(
  'a miss runs the command and stores; a hit restores identical outputs and replays its output',
  async () => {
    const { project, run, runs } = setup()
    const miss = await run()
    const key8 = expectOutcome(miss, 'miss')
    assert.is(runs(), 1)
    assert.match(miss.stderr, /^cairn: miss [0-9a-f]{8} \(stored 5 files, [\d.]+ (?:B|KiB|MiB) in \d+ ms/m)
    assert.is(miss.stdout, 'built 2 sources (plain)\n')
    assert.ok(miss.stderr.startsWith('note: args were []\n'), miss.stderr)
    const built = snapshot(project, BUILD_OUTPUTS)

    rmSync(join(project, 'out'), { recursive: true, force: true })
    rmSync(join(project, 'report.txt'))
    const hit = await run()
    assert.is(expectOutcome(hit, 'hit'), key8)
    assert.is(runs(), 1, 'the command did not run again')
    assert.match(hit.stderr, /^cairn: hit [0-9a-f]{8} \(restored 5 files, [\d.]+ (?:B|KiB|MiB) in \d+ ms\)$/m)
    assert.is(hit.stdout, miss.stdout, 'stdout is replayed')
    assert.is(
      hit.stderr.replace(/^cairn: .*\n/m, ''),
      miss.stderr.replace(/^cairn: .*\n/m, ''),
      'stderr is replayed',
    )
    assert.equal(snapshot(project, BUILD_OUTPUTS), built, 'paths, types, modes, bytes and links are restored')
  },
)

basics(
  'a hit replaces what is there: changed files, stale extra files, a file where a directory was',
  async () => {
    const { project, run, runs } = setup()
    expectOutcome(await run(), 'miss')
    const built = snapshot(project, BUILD_OUTPUTS)
    writeFileSync(join(project, 'out', 'bundle.txt'), 'edited by hand\n')
    chmodSync(join(project, 'out', 'bin', 'tool'), 0o600)
    writeFileSync(join(project, 'out', 'stale.txt'), 'left over from an older build\n')
    rmSync(join(project, 'out', 'deep'), { recursive: true })
    writeFileSync(join(project, 'out', 'deep'), 'a file in the way\n')
    rmSync(join(project, 'report.txt'))
    mkdirSync(join(project, 'report.txt'))
    expectOutcome(await run(), 'hit')
    assert.is(runs(), 1)
    assert.equal(snapshot(project, BUILD_OUTPUTS), built)
    assert.not.ok(existsSync(join(project, 'out', 'stale.txt')))
  },
)

basics('a hit leaves no staging directories behind', async () => {
  const { project, run } = setup()
  await run()
  await run()
  assert.equal(readdirSync(project).sort(), ['out', 'package.json', 'report.txt', 'runs.log', 'src'])
})

basics.run()

// ---

const keys = suite('cairn run: what the key covers')
keys.after(removeTempDirs)

keys('changing an input file gives a miss; restoring its content gives the first hit back', async () => {
  const { project, run, runs } = setup()
  const first = expectOutcome(await run(), 'miss')
  writeFileSync(join(project, 'src', 'a.txt'), 'ALPHA\n')
  const second = expectOutcome(await run(), 'miss')
  assert.is.not(second, first)
  assert.ok(readFileSync(join(project, 'out', 'bundle.txt'), 'utf8').startsWith('ALPHA\n'))
  writeFileSync(join(project, 'src', 'a.txt'), 'alpha\n')
  assert.is(expectOutcome(await run(), 'hit'), first)
  assert.ok(readFileSync(join(project, 'out', 'bundle.txt'), 'utf8').startsWith('alpha\n'))
  assert.is(runs(), 2)
})

keys('adding an input file that the glob matches gives a miss', async () => {
  const { project, run } = setup()
  const first = expectOutcome(await run(), 'miss')
  writeFileSync(join(project, 'src', 'c.txt'), 'gamma\n')
  assert.is.not(expectOutcome(await run(), 'miss'), first)
})

keys('an --env variable is in the key; an unlisted one is not', async () => {
  const { run, runs } = setup()
  const flags = ['--env', 'FLAVOR']
  const first = expectOutcome(await run({ flags, env: { FLAVOR: 'sweet' } }), 'miss')
  assert.is(expectOutcome(await run({ flags, env: { FLAVOR: 'sweet', UNRELATED: 'x' } }), 'hit'), first)
  assert.is(expectOutcome(await run({ flags, env: { FLAVOR: 'sweet', UNRELATED: 'y' } }), 'hit'), first)
  const sour = await run({ flags, env: { FLAVOR: 'sour' } })
  assert.is.not(expectOutcome(sour, 'miss'), first)
  assert.is(sour.stdout, 'built 2 sources (sour)\n')
  // Unset differs from set-to-empty and from any value.
  const unset = expectOutcome(await run({ flags }), 'miss')
  assert.is.not(expectOutcome(await run({ flags, env: { FLAVOR: '' } }), 'miss'), unset)
  assert.is(runs(), 4)
})

keys('changing an argument of the command gives a miss', async () => {
  const { run } = setup()
  const first = expectOutcome(await run({ args: ['--fast'] }), 'miss')
  assert.is.not(expectOutcome(await run({ args: ['--slow'] }), 'miss'), first)
  assert.is(expectOutcome(await run({ args: ['--fast'] }), 'hit'), first)
  // Arguments are not simply joined: ["a b"] and ["a", "b"] differ.
  const joined = expectOutcome(await run({ args: ['x y'] }), 'miss')
  assert.is.not(expectOutcome(await run({ args: ['x', 'y'] }), 'miss'), joined)
})

keys('changing --key-extra gives a miss', async () => {
  const { run } = setup()
  const first = expectOutcome(await run({ flags: ['--key-extra', 'node-20'] }), 'miss')
  assert.is.not(expectOutcome(await run({ flags: ['--key-extra', 'node-22'] }), 'miss'), first)
  assert.is.not(expectOutcome(await run(), 'miss'), first)
  assert.is(expectOutcome(await run({ flags: ['--key-extra', 'node-20'] }), 'hit'), first)
})

keys('a second checkout of the project in another place hits, and gets identical outputs', async () => {
  const { base, project, run, runs } = setup()
  const first = expectOutcome(await run(), 'miss')
  const built = snapshot(project, BUILD_OUTPUTS)
  const elsewhere = join(base, 'somewhere', 'else', 'checkout')
  mkdirSync(join(base, 'somewhere', 'else'), { recursive: true })
  copyProject(project, elsewhere)
  rmSync(join(elsewhere, 'out'), { recursive: true })
  rmSync(join(elsewhere, 'report.txt'))
  assert.is(expectOutcome(await run({ cwd: elsewhere }), 'hit'), first)
  assert.is(runs(elsewhere), 1, 'the copy of the run log shows only the first run')
  assert.equal(snapshot(elsewhere, BUILD_OUTPUTS), built)
})

keys('a command given absolute paths into its checkout hits from a checkout elsewhere', async () => {
  const { base, project, store } = setup()
  copyFileSync(BUILD_SCRIPT, join(project, 'build.js'))
  // The script, its run log and an --env value all name paths inside the checkout.
  const build = (checkout: string) =>
    cairn(
      [
        'run',
        '--store',
        store,
        '--inputs',
        'src/*.txt',
        '--outputs',
        ...BUILD_OUTPUTS,
        '--env',
        'FLAVOR',
        '--',
        process.execPath,
        join(checkout, 'build.js'),
        join(checkout, 'runs.log'),
      ],
      { cwd: checkout, env: { FLAVOR: join(checkout, 'flavour') } },
    )
  const first = expectOutcome(await build(project), 'miss')
  const elsewhere = copyProject(project, join(base, 'moved', 'checkout'))
  rmSync(join(elsewhere, 'out'), { recursive: true })
  assert.is(expectOutcome(await build(elsewhere), 'hit'), first)
  assert.equal(snapshot(elsewhere, BUILD_OUTPUTS), snapshot(project, BUILD_OUTPUTS))
})

keys('the working directory relative to the project root is in the key', async () => {
  const { project, store } = setup()
  for (const sub of ['one', 'two']) {
    mkdirSync(join(project, sub, 'src'), { recursive: true })
    writeFileSync(join(project, sub, 'src', 'a.txt'), 'same\n')
  }
  const args = (cwd: string) =>
    cairn(
      [
        'run',
        '--store',
        store,
        '--inputs',
        'src',
        '--outputs',
        'out',
        'report.txt',
        '--',
        process.execPath,
        BUILD_SCRIPT,
        'runs.log',
      ],
      { cwd },
    )
  const one = expectOutcome(await args(join(project, 'one')), 'miss')
  assert.is.not(expectOutcome(await args(join(project, 'two')), 'miss'), one)
})

keys.run()

// ---

const failures = suite('cairn run: failures, verification, switches')
failures.after(removeTempDirs)

failures(
  'a failing command is not cached: its exit code is returned and the next run runs it again',
  async () => {
    const { run, runs } = setup()
    const failed = await run({ env: { FAIL: '1' } })
    assert.is(failed.code, 3)
    assert.match(failed.stderr, /failing on purpose/)
    assert.match(failed.stderr, /^cairn: miss [0-9a-f]{8} \(the command exited with 3; not cached\)$/m)
    // FAIL is not in the key, so this is the same key: it must still be a miss.
    expectOutcome(await run(), 'miss')
    assert.is(runs(), 2)
  },
)

failures('a command that does not leave every declared output is not cached', async () => {
  const { project, store, runs } = setup()
  // The build step never writes missing.txt.
  const run = () =>
    cairn(
      [
        'run',
        '--store',
        store,
        '--inputs',
        'src/*.txt',
        '--outputs',
        'out',
        'missing.txt',
        '--',
        process.execPath,
        BUILD_SCRIPT,
        'runs.log',
      ],
      { cwd: project },
    )
  const result = await run()
  assert.is(result.code, 0)
  assert.match(result.stderr, /not stored: the declared output "missing.txt" does not exist/)
  expectOutcome(await run(), 'miss')
  assert.is(runs(), 2)
})

failures('a command that cannot be started exits 127 with one clear line', async () => {
  const { project, store } = setup()
  const result = await cairn(
    [
      'run',
      '--store',
      store,
      '--inputs',
      'src/*.txt',
      '--outputs',
      'out',
      '--',
      'no-such-command-cairn-test',
    ],
    { cwd: project },
  )
  assert.is(result.code, 127)
  assert.match(result.stderr, /^cairn: cannot run "no-such-command-cairn-test": command not found$/m)
  assert.not.match(result.stderr, /\n\s+at /, 'no stack trace')
})

failures('--verify on a hit of a reproducible step runs it again and exits 0', async () => {
  const { run, runs } = setup()
  expectOutcome(await run(), 'miss')
  const verified = await run({ flags: ['--verify'] })
  assert.is(verified.code, 0, verified.stderr)
  assert.match(verified.stderr, /^cairn: verify [0-9a-f]{8}: the outputs match the cached ones \(5 files\)$/m)
  expectOutcome(verified, 'hit')
  assert.is(runs(), 2)
  const byEnv = await run({ env: { CAIRN_VERIFY: '1' } })
  assert.is(byEnv.code, 0, byEnv.stderr)
  assert.is(runs(), 3)
})

failures(
  '--verify reports every differing file of a step that is not reproducible, and exits 1',
  async () => {
    const { run } = setup()
    expectOutcome(await run({ env: { STAMP: '1' } }), 'miss')
    const verified = await run({ flags: ['--verify'], env: { STAMP: '1', FLAVOR: 'changed' } })
    assert.is(verified.code, 1, verified.stderr)
    assert.match(
      verified.stderr,
      /^cairn: verify [0-9a-f]{8}: 2 differences from the cached outputs; this step is not reproducible:$/m,
    )
    assert.match(verified.stderr, /^cairn: {3}out\/bundle\.txt: content differs/m)
    assert.match(verified.stderr, /^cairn: {3}out\/stamp\.txt: content differs/m)
  },
)

/**
 * `cairn run --outputs out` of a step given as a Node script (`node -e`), in a fresh project:
 * for steps that do what the build script does not (keep an existing output directory).
 */
function scriptStep(script: string) {
  const { base, project, store } = setup()
  const run = (flags: string[] = []) =>
    cairn(
      [
        'run',
        '--store',
        store,
        '--inputs',
        'src/*.txt',
        '--outputs',
        'out',
        ...flags,
        '--',
        process.execPath,
        '-e',
        script,
      ],
      { cwd: project },
    )
  return { base, project, run }
}

/** Names under `dir` left by a verify run's moving aside (`.<name>.cairn-verify-…`). */
function leftAside(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes('.cairn-'))
}

failures(
  '--verify runs the step without its outputs on disk: a step that skips existing outputs is caught',
  async () => {
    // Writes a random stamp, unless one is there: not reproducible, which only a clean run shows.
    const { project, run } = scriptStep(
      "const fs = require('fs'); if (!fs.existsSync('out/stamp')) { fs.mkdirSync('out', { recursive: true }); fs.writeFileSync('out/stamp', String(Math.random())) }",
    )
    expectOutcome(await run(), 'miss')
    const cached = readFileSync(join(project, 'out', 'stamp'), 'utf8')
    const verified = await run(['--verify'])
    assert.is(verified.code, 1, verified.stderr)
    assert.match(verified.stderr, /^cairn: verify [0-9a-f]{8}: 1 difference from the cached outputs/m)
    assert.match(verified.stderr, /^cairn: {3}out\/stamp: content differs/m)
    assert.is(outcome(verified.stderr)?.result, 'hit', 'the hit line is printed too')
    assert.is(readFileSync(join(project, 'out', 'stamp'), 'utf8'), cached, 'the cached outputs are restored')
    assert.equal(leftAside(project), [])
  },
)

failures(
  '--verify ignores a stale file in an output directory, and leaves the tree as a hit does',
  async () => {
    const { project, run } = scriptStep(
      "const fs = require('fs'); fs.mkdirSync('out', { recursive: true }); fs.writeFileSync('out/a.txt', 'a')",
    )
    expectOutcome(await run(), 'miss')
    writeFileSync(join(project, 'out', 'stale.txt'), 'left over from an older build\n')
    const verified = await run(['--verify'])
    assert.is(verified.code, 0, verified.stderr)
    assert.match(
      verified.stderr,
      /^cairn: verify [0-9a-f]{8}: the outputs match the cached ones \(1 file\)$/m,
    )
    assert.match(verified.stderr, /^cairn: hit [0-9a-f]{8} \(restored 1 file, /m)
    assert.equal(readdirSync(join(project, 'out')), ['a.txt'], 'the stale file is gone, as after a hit')
    assert.equal(leftAside(project), [])
    const quiet = await run(['--verify', '--quiet'])
    assert.is(quiet.code, 0, quiet.stderr)
    assert.is(quiet.stderr, '', '--quiet silences the hit and verify lines')
  },
)

failures('CAIRN_DISABLE=1 runs the command without looking up or storing', async () => {
  const { run, runs } = setup()
  const disabled = await run({ env: { CAIRN_DISABLE: '1' } })
  assert.is(disabled.code, 0)
  assert.is(outcome(disabled.stderr), undefined)
  assert.is(disabled.stdout, 'built 2 sources (plain)\n')
  expectOutcome(await run(), 'miss')
  const again = await run({ env: { CAIRN_DISABLE: '1' } })
  assert.is(outcome(again.stderr), undefined)
  assert.is(runs(), 3)
  assert.is((await run({ env: { CAIRN_DISABLE: '1', FAIL: '1' } })).code, 3)
})

failures('--quiet silences the hit and miss lines, not the replayed output', async () => {
  const { run } = setup()
  const miss = await run({ flags: ['--quiet'] })
  assert.is(miss.code, 0)
  assert.is(miss.stderr, 'note: args were []\n')
  const hit = await run({ flags: ['-q'] })
  assert.is(hit.code, 0)
  assert.is(hit.stderr, 'note: args were []\n')
  assert.is(hit.stdout, 'built 2 sources (plain)\n')
})

failures('an input glob that matches nothing is bad usage (exit 2) unless --allow-empty', async () => {
  const { project, store, runs } = setup()
  const base = [
    'run',
    '--store',
    store,
    '--inputs',
    'src/*.txt',
    'nothing/*.c',
    '--outputs',
    'out',
    'report.txt',
  ]
  const bad = await cairn([...base, '--', process.execPath, BUILD_SCRIPT, 'runs.log'], { cwd: project })
  assert.is(bad.code, 2)
  assert.match(bad.stderr, /^cairn: --inputs "nothing\/\*\.c" matches no file/m)
  assert.match(bad.stderr, /^usage: cairn run /m)
  assert.is(runs(), 0, 'the command did not run')
  const allowed = await cairn([...base, '--allow-empty', '--', process.execPath, BUILD_SCRIPT, 'runs.log'], {
    cwd: project,
  })
  expectOutcome(allowed, 'miss')
})

failures(
  'a hit whose output content was pruned is a miss that runs and stores again, never a failure',
  async () => {
    const { run, runs, store } = setup()
    expectOutcome(await run(), 'miss')
    const listed = await cairn(['ls', '--json', '--store', store])
    const entries = JSON.parse(listed.stdout) as { key: string; size: number; metadata: unknown }[]
    const blob = entries.find((entry) => entry.size === 64 * 1024)
    assert.ok(blob, 'the large output is an entry of its own')
    assert.is((await cairn(['rm', '--store', store, blob?.key ?? ''])).code, 0)
    expectOutcome(await run(), 'miss')
    assert.is(runs(), 2)
    expectOutcome(await run(), 'hit')
  },
)

/** `cairn run` of the build step without --store: the store is found from the environment. */
const RUN_WITHOUT_STORE = [
  'run',
  '--inputs',
  'src/*.txt',
  '--outputs',
  'out',
  '--',
  process.execPath,
  BUILD_SCRIPT,
  'runs.log',
]

failures('with no --store the store is $CAIRN_DIR', async () => {
  const { project, base } = setup()
  const dir = join(base, 'from-env')
  expectOutcome(await cairn(RUN_WITHOUT_STORE, { cwd: project, env: { CAIRN_DIR: dir } }), 'miss')
  assert.ok(existsSync(join(dir, 'cairn-store.json')))
  expectOutcome(await cairn(RUN_WITHOUT_STORE, { cwd: project, env: { CAIRN_DIR: dir } }), 'hit')
})

failures('with no --store and no CAIRN_DIR the store is under $XDG_CACHE_HOME', async () => {
  const { project, base } = setup()
  const cache = join(base, 'xdg')
  expectOutcome(await cairn(RUN_WITHOUT_STORE, { cwd: project, env: { XDG_CACHE_HOME: cache } }), 'miss')
  assert.ok(existsSync(join(cache, 'cairn', 'cairn-store.json')))
})

failures.run()

// ---

const together = suite('cairn run: several at once')
together.after(removeTempDirs)

together('two runs of the same step in two checkouts at once both succeed with correct outputs', async () => {
  const { base, project, run, store } = setup()
  const other = copyProject(project, join(base, 'second-checkout'))
  // Both overlap in the command, so both miss and both store: the first writer wins.
  const env = { SLEEP_MS: '300' }
  const [first, second] = await Promise.all([run({ env }), run({ env, cwd: other })])
  assert.is(first?.code, 0, first?.stderr)
  assert.is(second?.code, 0, second?.stderr)
  assert.is(first?.stdout, 'built 2 sources (plain)\n')
  assert.is(second?.stdout, 'built 2 sources (plain)\n')
  const built = snapshot(project, BUILD_OUTPUTS)
  assert.equal(snapshot(other, BUILD_OUTPUTS), built)
  // The store holds one good entry for the step: a third checkout hits it.
  const third = copyProject(project, join(base, 'third-checkout'))
  rmSync(join(third, 'out'), { recursive: true })
  expectOutcome(await run({ cwd: third }), 'hit')
  assert.equal(snapshot(third, BUILD_OUTPUTS), built)
  assert.is((await cairn(['verify', '--store', store])).code, 0)
})

together(
  'two hits restoring into one checkout at once both succeed and leave one complete copy',
  async () => {
    const { project, run, runs } = setup()
    expectOutcome(await run(), 'miss')
    const built = snapshot(project, BUILD_OUTPUTS)
    rmSync(join(project, 'out'), { recursive: true })
    const results = await Promise.all([run(), run(), run()])
    for (const result of results) expectOutcome(result, 'hit')
    assert.is(runs(), 1)
    assert.equal(snapshot(project, BUILD_OUTPUTS), built)
    assert.equal(readdirSync(project).sort(), ['out', 'package.json', 'report.txt', 'runs.log', 'src'])
  },
)

together.run()

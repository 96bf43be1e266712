// Review of issue 18's `cairn run`: defects an adversarial reviewer found, each with real
// processes and real git repositories.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CAIRN_BIN, type CliResult, cairn } from './fixtures/cli-harness.js'
import { git, gitRepository, outcomeOf, runStep, writeFiles } from './fixtures/run-project.js'
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

/** `cairn run --store <store> <flags> -- sh -c <script>` started in `cwd`: the child, and its end. */
function startStep(
  cwd: string,
  store: string,
  flags: readonly string[],
  script: string,
): { child: ChildProcess; done: Promise<CliResult> } {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('CAIRN_')) env[name] = value
  const child = spawn(
    process.execPath,
    [CAIRN_BIN, 'run', '--store', store, ...flags, '--', 'sh', '-c', script],
    {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk))
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk))
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out)
      const stderr = Buffer.concat(err).toString('utf8')
      resolve({
        code: code ?? (signal === null ? null : -1),
        stdout: stdoutBytes.toString('utf8'),
        stderr,
        stdoutBytes,
      })
    })
  })
  return { child, done }
}

/** Waits until `condition()` holds (polled; bounded only by the test runner's patience). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(10)
}

/** Hidden names cairn leaves beside outputs (`.dist.cairn-aside-…`, `.dist.cairn-running`). */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes('.cairn-'))
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

const outputs = suite('cairn run review: outputs on a miss')
outputs.after(removeTempDirs)

outputs(
  'a tool whose state is outside the declared outputs writes nothing: the old output is put back, nothing stored',
  async () => {
    const base = tempDir('cairn-run-review-')
    const store = join(base, 'store')
    const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'one' })
    // Like tsc's incremental build with tsBuildInfoFile: ".cache/tsbuildinfo": up to date as far
    // as its state file says, whatever is in dist.
    const tool =
      '[ -f .cache/tsbuildinfo ] || { mkdir -p dist .cache && cat src/a.ts > dist/a.js && touch .cache/tsbuildinfo; }'
    const flags = ['--inputs', 'src', '--outputs', 'dist']
    const first = await runStep(repo, store, flags, tool)
    assert.is(first.code, 0, first.stderr)
    writeFiles(repo, { 'src/a.ts': 'two' })
    const second = await runStep(repo, store, flags, tool)
    assert.is(second.code, 0, second.stderr)
    assert.match(second.stderr, /did not write the declared output "dist"/)
    assert.match(
      second.stderr,
      /declare the tool's state file \(e\.g\. \.cache\/tsbuildinfo\) as an output, or use --keep-outputs/,
    )
    assert.is(readFileSync(join(repo, 'dist/a.js'), 'utf8'), 'one')
    assert.equal(leftovers(repo), [])
    // Nothing was stored under the new key: it is a miss again.
    const third = await runStep(repo, store, flags, tool)
    assert.is(outcomeOf(third), 'miss', third.stderr)
  },
)

outputs(
  'a command that exits 0 after the SIGINT cairn passed on is not stored; the outputs go back; exit 130',
  async () => {
    const base = tempDir('cairn-run-review-')
    const store = join(base, 'store')
    const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'one' })
    writeFiles(repo, { 'dist/old.js': 'old' })
    const script =
      'trap "exit 0" INT; mkdir -p dist && echo partial > dist/a.js && touch started; while :; do sleep 0.05; done'
    const flags = ['--inputs', 'src', '--outputs', 'dist']
    const { child, done } = startStep(repo, store, flags, script)
    await until(() => existsSync(join(repo, 'started')))
    child.kill('SIGINT')
    const result = await done
    assert.is(result.code, 130, result.stderr)
    assert.match(result.stderr, /interrupted by SIGINT; not cached/)
    assert.equal(readdirSync(join(repo, 'dist')), ['old.js'])
    assert.equal(leftovers(repo), [])
    const again = await runStep(repo, store, ['--explain', ...flags], 'mkdir -p dist && touch dist/a.js')
    assert.is(outcomeOf(again), 'miss', again.stderr)
  },
)

outputs.run()

const small = suite('cairn run review: small things')
small.after(removeTempDirs)

small(
  '--explain compares only with the same command in the same directory; else says there is nothing',
  async () => {
    const base = tempDir('cairn-run-review-')
    const store = join(base, 'store')
    const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'one' })
    const flags = ['--explain', '--inputs', 'src', '--outputs', 'dist']
    const other = await runStep(repo, store, flags, 'mkdir -p dist && echo other > dist/a.js')
    assert.is(outcomeOf(other), 'miss', other.stderr)
    const mine = await runStep(repo, store, flags, 'mkdir -p dist && echo mine > dist/a.js')
    assert.is(mine.code, 0, mine.stderr)
    assert.match(mine.stderr, /nothing to compare with/)
    assert.not.match(mine.stderr, /command changed/)
  },
)

small('CAIRN_DISABLE=1 --explain says the cache is disabled', async () => {
  const base = tempDir('cairn-run-review-')
  const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'one' })
  const result = await runStep(
    repo,
    join(base, 'store'),
    ['--explain', '--inputs', 'src', '--outputs', 'dist'],
    BUILD,
    {
      CAIRN_DISABLE: '1',
    },
  )
  assert.is(result.code, 0, result.stderr)
  assert.match(result.stderr, /the cache is disabled/)
})

small('the run lines give sizes in the unit their magnitude calls for', async () => {
  const base = tempDir('cairn-run-review-')
  const store = join(base, 'store')
  const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'one' })
  const flags = ['--inputs', 'src', '--outputs', 'dist']
  const script = 'mkdir -p dist && printf 12345 > dist/a.js'
  const miss = await runStep(repo, store, flags, script)
  assert.match(miss.stderr, /stored 1 file, 5 B in/)
  const hit = await runStep(repo, store, flags, script)
  assert.match(hit.stderr, /restored 1 file, 5 B in/)
})

small.run()

const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0

const colours = suite('cairn run review: colours on a miss')
colours.after(removeTempDirs)

colours(
  'on a miss with a terminal on stderr, stdout redirected to a file gets no ANSI; the store keeps them',
  async () => {
    if (!HAS_SCRIPT) {
      console.log('  (skipped: script(1) is not installed)')
      return
    }
    const base = tempDir('cairn-run-review-')
    const store = join(base, 'store')
    const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'one' })
    // A sequence cut in two by a pause between writes must be stripped whole.
    const step = `mkdir -p dist; printf '\\033['; sleep 0.1; printf '31mred\\033[0m\\n'; printf '\\033[32mgreen\\033[0m\\n' >&2`
    const args = ['run', '--store', store, '--inputs', 'src', '--outputs', 'dist', '--', 'sh', '-c', step]
    const quoted = [process.execPath, CAIRN_BIN, ...args]
      .map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`)
      .join(' ')
    const env: NodeJS.ProcessEnv = {}
    for (const [name, value] of Object.entries(process.env)) {
      if (!name.startsWith('CAIRN_') && name !== 'FORCE_COLOR' && name !== 'CLICOLOR_FORCE') env[name] = value
    }
    const onTerminal = spawnSync('script', ['-q', '-e', '-c', `${quoted} > miss.txt`, '/dev/null'], {
      cwd: repo,
      env,
      encoding: 'utf8',
    })
    assert.is(onTerminal.status, 0, onTerminal.stdout)
    assert.match(onTerminal.stdout, /cairn: miss/)
    assert.ok(onTerminal.stdout.includes('\x1b[32mgreen'), JSON.stringify(onTerminal.stdout))
    assert.is(readFileSync(join(repo, 'miss.txt'), 'utf8'), 'red\n')
    // Stored as captured: a hit replays the colours to a terminal.
    const hit = spawnSync('script', ['-q', '-e', '-c', quoted, '/dev/null'], {
      cwd: repo,
      env,
      encoding: 'utf8',
    })
    assert.match(hit.stdout, /cairn: hit/)
    assert.ok(hit.stdout.includes('\x1b[31mred\x1b[0m'), JSON.stringify(hit.stdout))
    const piped = await cairn(args, { cwd: repo })
    assert.is(piped.stdout, 'red\n')
  },
)

colours.run()

const stops = suite('cairn run review: stopping cairn')
stops.after(removeTempDirs)

/** Hidden copies cairn left beside dist (staging, moved aside, its claim). */
function besideDist(repo: string): string[] {
  return readdirSync(repo).filter((name) => name.startsWith('.dist.cairn-'))
}

/** A step writing `mib` MiB into dist (random bytes: nothing to share), then exiting. */
function bigStep(mib: number): string {
  return `echo $$ > pid; mkdir -p dist && head -c ${mib * 1024 * 1024} /dev/urandom > dist/big.bin && echo x > ran`
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

stops('SIGINT while a hit restores: no staging copy is left, exit 130', async () => {
  const base = tempDir('cairn-run-review-')
  const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'one' })
  // The restore must still be running when the staging copy is seen: grow it until it is.
  for (let mib = 32; ; mib *= 2) {
    const store = join(base, `store-${mib}`)
    const flags = ['--inputs', 'src', '--outputs', 'dist']
    const miss = await runStep(repo, store, flags, bigStep(mib))
    assert.is(outcomeOf(miss), 'miss', miss.stderr)
    const { child, done } = startStep(repo, store, flags, bigStep(mib))
    let ended = false
    void done.then(() => {
      ended = true
    })
    await until(() => ended || besideDist(repo).some((name) => name.includes('cairn-stage-')))
    if (ended) {
      assert.ok(mib < 1024, 'the restore was never seen running')
      continue
    }
    child.kill('SIGINT')
    const result = await done
    assert.is(result.code, 130, result.stderr)
    assert.equal(besideDist(repo), [])
    return
  }
})

stops('SIGINT while a miss stores: nothing is left beside the outputs, exit 130', async () => {
  const base = tempDir('cairn-run-review-')
  const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'one' })
  for (let mib = 32; ; mib *= 2) {
    // Each try starts from what the first one found (a retry must not see the last try's marks).
    rmSync(join(repo, 'ran'), { force: true })
    rmSync(join(repo, 'pid'), { force: true })
    rmSync(join(repo, 'dist'), { recursive: true, force: true })
    writeFiles(repo, { 'dist/old.js': 'old' })
    const { child, done } = startStep(
      repo,
      join(base, `store-${mib}`),
      ['--inputs', 'src', '--outputs', 'dist'],
      bigStep(mib),
    )
    let ended = false
    void done.then(() => {
      ended = true
    })
    await until(() => ended || existsSync(join(repo, 'ran')))
    const pid = Number(readFileSync(join(repo, 'pid'), 'utf8'))
    // The command has exited: cairn reads the outputs and copies them into the store.
    await until(() => ended || !isAlive(pid))
    if (ended) {
      assert.ok(mib < 1024, 'the store phase was never reached')
      continue
    }
    child.kill('SIGINT')
    const result = await done
    if (result.stderr.includes('cairn: miss')) {
      // It had finished storing before the signal came: try with more to store.
      assert.ok(mib < 1024, 'the store phase was never caught')
      continue
    }
    assert.is(result.code, 130, result.stderr)
    assert.equal(besideDist(repo), [])
    assert.ok(existsSync(join(repo, 'dist')))
    return
  }
})

stops(
  'after a miss was killed (SIGKILL), the next run takes over its claim and puts back what it moved aside',
  async () => {
    const base = tempDir('cairn-run-review-')
    const store = join(base, 'store')
    const repo = gitRepository(join(base, 'repo'), { 'src/a.ts': 'one' })
    writeFiles(repo, { 'dist/old.js': 'old' })
    const flags = ['--inputs', 'src', '--outputs', 'dist']
    const { child, done } = startStep(repo, store, flags, 'touch started; while :; do sleep 0.05; done')
    await until(() => existsSync(join(repo, 'started')))
    child.kill('SIGKILL')
    await done
    assert.ok(
      besideDist(repo).some((name) => name.includes('cairn-aside-')),
      besideDist(repo).join(' '),
    )
    assert.not.ok(existsSync(join(repo, 'dist')))
    // The next run of another step in the same place finds the stale claim: it puts dist back
    // before moving it aside itself, and its command sees no stale copy.
    const next = await runStep(
      repo,
      store,
      ['--explain', ...flags],
      '[ ! -e dist ] && mkdir dist && echo new > dist/new.js',
    )
    assert.is(next.code, 0, next.stderr)
    assert.match(
      next.stderr,
      /died here; cleaned up what it left: put \.dist\.cairn-aside-[0-9a-f]+ back as dist/,
    )
    assert.equal(besideDist(repo), [])
    assert.equal(readdirSync(join(repo, 'dist')), ['new.js'])
  },
)

stops.run()

const ignores = suite('cairn run review: what git ignores, when git cannot answer for every input')
ignores.after(removeTempDirs)

ignores('an input under a symlinked directory does not make every ignored file count', async () => {
  const base = tempDir('cairn-run-review-')
  const repo = gitRepository(join(base, 'repo'), { '.gitignore': '*.log\n', 'src/a.ts': 'a' })
  writeFiles(repo, { 'src/debug.log': 'x' })
  writeFiles(base, { 'shared/b.ts': 'b' })
  symlinkSync(join(base, 'shared'), join(repo, 'linked'))
  const result = await runStep(
    repo,
    join(base, 'store'),
    ['--explain', '--inputs', 'src', 'linked', '--outputs', 'dist'],
    BUILD,
  )
  assert.is(result.code, 0, result.stderr)
  assert.equal(inputsOf(result.stderr), ['linked/b.ts', 'src/a.ts'])
  assert.not.match(result.stderr, /cannot ask git/)
})

ignores('an input in a submodule does not make every ignored file count', async () => {
  const base = tempDir('cairn-run-review-')
  const sub = gitRepository(join(base, 'sub'), { 'lib.ts': 'lib' })
  const repo = gitRepository(join(base, 'repo'), { '.gitignore': '*.log\n', 'src/a.ts': 'a' })
  git(repo, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', sub, 'vendor/sub')
  writeFiles(repo, { 'src/debug.log': 'x' })
  const result = await runStep(
    repo,
    join(base, 'store'),
    ['--explain', '--inputs', 'src', 'vendor/sub/lib.ts', '--outputs', 'dist'],
    BUILD,
  )
  assert.is(result.code, 0, result.stderr)
  assert.equal(inputsOf(result.stderr), ['src/a.ts', 'vendor/sub/lib.ts'])
  assert.not.match(result.stderr, /cannot ask git/)
})

ignores(
  "a checkout git refuses (owned by another user) gets one warning line naming git's error",
  async () => {
    if (process.getuid?.() !== 0) {
      console.log('  (skipped: needs root to give the checkout to another user)')
      return
    }
    const base = tempDir('cairn-run-review-')
    const repo = gitRepository(join(base, 'repo'), { '.gitignore': '*.log\n', 'src/a.ts': 'a' })
    writeFiles(repo, { 'src/debug.log': 'x' })
    mkdirSync(join(repo, 'dist'))
    chownSync(repo, 4242, 4242)
    const result = await runStep(
      repo,
      join(base, 'store'),
      ['--explain', '--inputs', 'src', '--outputs', 'dist'],
      BUILD,
      {
        HOME: base,
        GIT_CONFIG_NOSYSTEM: '1',
      },
    )
    assert.is(result.code, 0, result.stderr)
    const warnings = result.stderr.split('\n').filter((line) => line.includes('cannot ask git'))
    assert.is(warnings.length, 1, result.stderr)
    assert.match(warnings[0] as string, /dubious ownership/)
  },
)

ignores.run()

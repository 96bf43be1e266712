// Issue 18, items 7 and 8: a terminal's colours (FORCE_COLOR=1 and CLICOLOR_FORCE=1 when cairn's
// output is a terminal, a real pseudo-terminal made by script(1); ANSI stripped when a hit replays
// to a pipe), sizes in one unit system, stats naming its largest entries, and the loser of two
// racing misses saying so. Real processes.

import { spawn, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CAIRN_BIN, cairn } from './fixtures/cli-harness.js'
import { outcomeOf, runStep, writeFiles } from './fixtures/run-project.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0

/** Runs `cairn <args>` in `cwd` with a pseudo-terminal as its stdout and stderr (script -q -e -c). */
function cairnOnTerminal(
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  const quoted = [process.execPath, CAIRN_BIN, ...args]
    .map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`)
    .join(' ')
  const childEnv: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('CAIRN_') && name !== 'FORCE_COLOR' && name !== 'CLICOLOR_FORCE')
      childEnv[name] = value
  }
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', quoted, '/dev/null'], {
      cwd,
      env: { ...childEnv, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const out: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.on('error', reject)
    child.on('close', () => resolve(Buffer.concat(out).toString('utf8')))
  })
}

const COLOUR = `printf '\\033[31mred\\033[0m %s %s\\n' "\${FORCE_COLOR-unset}" "\${CLICOLOR_FORCE-unset}"`

const colours = suite('cairn run: a terminal')
colours.after(removeTempDirs)

colours(
  'on a terminal the command runs with FORCE_COLOR=1 CLICOLOR_FORCE=1; a hit strips ANSI for a pipe, replays it to a terminal',
  async () => {
    if (!HAS_SCRIPT) {
      console.log('  (skipped: script(1) is not installed)')
      return
    }
    const base = tempDir('cairn-run-terminal-')
    const project = join(base, 'p')
    writeFiles(project, { 'package.json': '{}', 'src/a.txt': 'a' })
    const store = join(base, 'store')
    const args = [
      'run',
      '--store',
      store,
      '--inputs',
      'src',
      '--outputs',
      'out',
      '--',
      'sh',
      '-c',
      `mkdir -p out && ${COLOUR}`,
    ]
    const miss = await cairnOnTerminal(args, project)
    assert.ok(miss.includes('\x1b[31mred\x1b[0m 1 1'), JSON.stringify(miss))
    assert.match(miss, /cairn: miss/)
    const piped = await cairn(args, { cwd: project })
    assert.is(outcomeOf(piped), 'hit', piped.stderr)
    assert.is(piped.stdout, 'red 1 1\n')
    const onTerminal = await cairnOnTerminal(args, project)
    assert.match(onTerminal, /cairn: hit/)
    assert.ok(onTerminal.includes('\x1b[31mred\x1b[0m 1 1'), JSON.stringify(onTerminal))
    // Not on a terminal: nothing is forced. Set by the user: left as set.
    const plain = await cairn(
      [
        'run',
        '--store',
        store,
        '--inputs',
        'src',
        '--outputs',
        'out2',
        '--',
        'sh',
        '-c',
        `mkdir -p out2 && ${COLOUR}`,
      ],
      { cwd: project, env: { FORCE_COLOR: undefined, CLICOLOR_FORCE: undefined } },
    )
    // A miss passes the output through as the command wrote it.
    assert.is(plain.stdout, '\x1b[31mred\x1b[0m unset unset\n')
    const userSet = await cairnOnTerminal(
      [
        'run',
        '--store',
        store,
        '--inputs',
        'src',
        '--outputs',
        'out3',
        '--',
        'sh',
        '-c',
        `mkdir -p out3 && ${COLOUR}`,
      ],
      project,
      { FORCE_COLOR: '0' },
    )
    assert.ok(userSet.includes('red\x1b[0m 0 1'), JSON.stringify(userSet))
  },
)

const small = suite('cairn: small things')
small.after(removeTempDirs)

small(
  'stats and gc print sizes in the same units; stats names the run and the output file of its largest entries',
  async () => {
    const base = tempDir('cairn-run-terminal-')
    const project = join(base, 'p')
    writeFiles(project, { 'package.json': '{}', 'src/a.txt': 'a' })
    const store = join(base, 'store')
    const miss = await runStep(
      project,
      store,
      ['--inputs', 'src', '--outputs', 'out'],
      'mkdir -p out && head -c 300000 /dev/zero > out/big.bin',
    )
    assert.is(outcomeOf(miss), 'miss', miss.stderr)
    assert.match(miss.stderr, / (?:B|KiB|MiB) in/)
    const stats = await cairn(['stats', '--store', store])
    assert.is(stats.code, 0, stats.stderr)
    assert.match(stats.stdout, /KiB/)
    assert.not.match(stats.stdout, /\bkB\b|\bMB\b/)
    assert.match(stats.stdout, /file: out\/big\.bin/)
    assert.match(stats.stdout, /run: sh -c/)
    const json = JSON.parse((await cairn(['stats', '--store', store, '--json'])).stdout) as { runs: number }
    assert.is(json.runs, 1)
    const gc = await cairn(['gc', '--store', store, '--max-size', '10GB', '--dry-run'])
    assert.match(gc.stdout + gc.stderr, /KiB/)
  },
)

small('when two misses race, the one whose copy was not kept says so', async () => {
  const base = tempDir('cairn-run-terminal-')
  const gate = join(base, 'gate')
  mkdirSync(gate)
  const first = join(base, 'one')
  writeFiles(first, { 'package.json': '{}', 'src/a.txt': 'a' })
  const second = join(base, 'two')
  cpSync(first, second, { recursive: true })
  const store = join(base, 'store')
  // Each command waits until both have started, so both are misses that store the same key.
  const step = `touch ${gate}/$$; while [ "$(ls ${gate} | wc -l)" -lt 2 ]; do sleep 0.02; done; mkdir -p out && echo built > out/x`
  const [a, b] = await Promise.all([
    runStep(first, store, ['--inputs', 'src', '--outputs', 'out'], step),
    runStep(second, store, ['--inputs', 'src', '--outputs', 'out'], step),
  ])
  const lines = [a.stderr, b.stderr]
  assert.is(
    lines.filter((line) => /cairn: miss [0-9a-f]{8} \(stored 1 file/.test(line)).length,
    1,
    lines.join('\n'),
  )
  assert.is(
    lines.filter((line) => /another run stored this key first/.test(line)).length,
    1,
    lines.join('\n'),
  )
})

colours.run()
small.run()

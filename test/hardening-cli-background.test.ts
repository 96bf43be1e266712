// `cairn run` finishes when its command exits, not when the command's pipes close: a process the
// command leaves running in the background keeps them open (issue #13, item 14). Real
// processes: the bundled CLI runs `sh -c 'sleep 30 & ...'`, and the test checks, by the
// background process's pid, that cairn was done while it still ran.

import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cairn, expectOutcome, makeProject } from './fixtures/cli-harness.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

/** True while `pid` is a running (not zombie) `sleep`. */
function sleepRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // `pid (comm) state ...`: the command name is in parentheses, the state right after.
    const match = /^\d+ \((.*)\) (\S)/.exec(stat)
    return match?.[1] === 'sleep' && match[2] !== 'Z'
  } catch {
    return false
  }
}

/** The pid the command wrote to bg.pid, if it did. */
function backgroundPid(project: string): number | undefined {
  try {
    return Number(readFileSync(join(project, 'bg.pid'), 'utf8').trim())
  } catch {
    return undefined
  }
}

function stopBackground(project: string): void {
  const pid = backgroundPid(project)
  if (pid !== undefined && sleepRunning(pid)) process.kill(pid, 'SIGKILL')
}

/** `cairn run` of `sh -c <script>` with out.txt as output, in a fresh project. */
function setup() {
  const base = tempDir('cairn-cli-background-')
  const project = makeProject(join(base, 'checkout'))
  const store = join(base, 'store')
  const run = (script: string) =>
    cairn(['run', '--store', store, '--allow-empty', '--outputs', 'out.txt', '--', 'sh', '-c', script], {
      cwd: project,
    })
  return { project, store, run }
}

/** The commandMs of the one manifest in `store`. */
async function recordedMs(store: string): Promise<number> {
  const opened = await openStore(store)
  const manifests = []
  for await (const entry of opened.entries()) {
    const metadata = entry.metadata as { cairnRun?: number } | null
    if (metadata?.cairnRun !== undefined) manifests.push(entry.key)
  }
  assert.is(manifests.length, 1)
  const data = (await opened.get(manifests[0] as string))?.data
  return (JSON.parse(data?.toString('utf8') ?? '{}') as { commandMs: number }).commandMs
}

const background = suite('cairn run: a command that leaves a process behind')
background.after(removeTempDirs)

background(
  'finishes while the background process still holds its stdout, stores "hi" and the command\'s duration',
  async () => {
    const { project, store, run } = setup()
    try {
      const started = performance.now()
      const miss = await run('sleep 30 & echo $! > bg.pid; echo hi; echo built > out.txt')
      const elapsed = performance.now() - started
      const pid = backgroundPid(project)
      assert.ok(pid !== undefined && pid > 0, 'the command started its background process')
      assert.ok(sleepRunning(pid as number), 'cairn exited while the background sleep still ran')
      expectOutcome(miss, 'miss')
      assert.is(miss.stdout, 'hi\n')
      assert.ok(
        (await recordedMs(store)) <= elapsed,
        "the recorded duration is the command's, not the sleep's",
      )

      rmSync(join(project, 'out.txt'))
      const hit = await run('sleep 30 & echo $! > bg.pid; echo hi; echo built > out.txt')
      expectOutcome(hit, 'hit')
      assert.is(hit.stdout, 'hi\n', 'the stored stdout is replayed')
      assert.is(readFileSync(join(project, 'out.txt'), 'utf8'), 'built\n')
    } finally {
      stopBackground(project)
    }
  },
)

background('output written just before the command exits is kept whole', async () => {
  const { project, run } = setup()
  try {
    // About 1.3 MB, far more than a pipe holds: the last of it is still in the pipe when sh exits.
    const script = 'sleep 30 & echo $! > bg.pid; seq 1 200000; echo built > out.txt'
    const miss = await run(script)
    expectOutcome(miss, 'miss')
    const expected = `${Array.from({ length: 200000 }, (_, i) => i + 1).join('\n')}\n`
    assert.is(miss.stdout.length, expected.length)
    assert.ok(miss.stdout === expected)
    rmSync(join(project, 'out.txt'))
    const hit = await run(script)
    expectOutcome(hit, 'hit')
    assert.ok(hit.stdout === expected, 'the whole output was stored')
  } finally {
    stopBackground(project)
  }
})

background.run()

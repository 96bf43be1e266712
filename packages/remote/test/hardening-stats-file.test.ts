// Issue 13, item 2: remote-stats.jsonl is a file in a store that co-users may write. What is
// there must never make `cairn` write outside the store, truncate a file, or hang.

import { execFileSync, spawn } from 'node:child_process'
import { lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type RemoteStats, readRemoteStats, recordRemoteStats, remoteStatsPath } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, tempDir } from './helpers.js'

const counters: RemoteStats = {
  hits: 1,
  misses: 2,
  errors: 0,
  bytesDown: 100,
  bytesUp: 0,
  uploads: 1,
  uploadsFailed: 0,
}

const VICTIM_TEXT = 'export PATH=/usr/bin\n'

/** A file outside the store that an attacker would like this process to write. */
function victimFile(): string {
  const path = join(tempDir('cairn-victim-'), '.bashrc')
  writeFileSync(path, VICTIM_TEXT)
  return path
}

const stats = suite('remote-stats.jsonl that a co-user prepared')
stats.after(removeTempDirs)

stats('a symlink there: its target is not appended to; the counters are skipped, said once', async () => {
  const store = tempDir()
  const victim = victimFile()
  symlinkSync(victim, remoteStatsPath(store))
  const lines: string[] = []
  await recordRemoteStats(remoteStatsPath(store), counters, (line) => lines.push(line))
  await recordRemoteStats(remoteStatsPath(store), counters, (line) => lines.push(line))
  assert.is(readFileSync(victim, 'utf8'), VICTIM_TEXT)
  assert.ok(lstatSync(remoteStatsPath(store)).isSymbolicLink())
  assert.is(lines.length, 1)
  assert.match(lines[0] as string, 'not a regular file')
  // Reading does not follow it either: the victim's text is not summed (nor read).
  assert.equal(await readRemoteStats(remoteStatsPath(store)), {
    ...counters,
    hits: 0,
    misses: 0,
    bytesDown: 0,
    uploads: 0,
  })
})

stats('compaction does not write through a symlink planted at a predictable temp name', async () => {
  const store = tempDir()
  const path = remoteStatsPath(store)
  // Past the compaction size, so this record rewrites the file through a temp file.
  writeFileSync(path, `${JSON.stringify(counters)}\n`.repeat(12_000))
  const victim = victimFile()
  // The old temp name was remote-stats.jsonl.<pid>.tmp: a co-user can guess it.
  symlinkSync(victim, `${path}.${process.pid}.tmp`)
  await recordRemoteStats(path, counters, () => {})
  assert.is(readFileSync(victim, 'utf8'), VICTIM_TEXT)
  assert.ok(lstatSync(path).isFile())
  assert.is((await readRemoteStats(path)).hits, 12_001)
  // Only the planted link is left beside the file: the random temp name was renamed away.
  assert.equal(
    readdirSync(store).filter((name) => name.endsWith('.tmp')),
    [`remote-stats.jsonl.${process.pid}.tmp`],
  )
})

stats('a FIFO there: recording and reading finish at once instead of waiting for a writer', async () => {
  const store = tempDir()
  execFileSync('mkfifo', [remoteStatsPath(store)])
  // In a child process: the old code blocked in open(2) forever, and a thread blocked there
  // cannot be cancelled; the child is killed if it has not finished within 60 s.
  const script = `
    const { recordRemoteStats, readRemoteStats } = await import(${JSON.stringify(new URL('../index.js', import.meta.url).href)})
    const lines = []
    await recordRemoteStats(${JSON.stringify(remoteStatsPath(store))}, ${JSON.stringify(counters)}, (line) => lines.push(line))
    const read = await readRemoteStats(${JSON.stringify(remoteStatsPath(store))})
    console.log(JSON.stringify({ lines, hits: read.hits }))
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  )
  clearTimeout(guard)
  assert.is(signal, null, 'the child hung on the FIFO and was killed')
  assert.is(code, 0)
  const result = JSON.parse(out) as { lines: string[]; hits: number }
  assert.is(result.lines.length, 1)
  assert.match(result.lines[0] as string, 'not a regular file')
  assert.is(result.hits, 0)
})

stats.run()

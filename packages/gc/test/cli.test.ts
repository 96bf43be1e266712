import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gcMain, type PruneReport } from '@cairn/gc'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { bytesOf, capture, keyOf, removeTempDirs, setLastUse, tempDir } from './helpers.js'

/** Runs gcMain in-process and collects its exit code and output. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = capture()
  const stderr = capture()
  const code = await gcMain(argv, { stdout, stderr, env: {} })
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}

async function storeWith(count: number): Promise<string> {
  const dir = tempDir()
  const store = await openStore(dir)
  for (let i = 0; i < count; i++) {
    store.putSync(keyOf(i), bytesOf(i, 6000))
    setLastUse(dir, keyOf(i), Date.now() - (count - i) * 60_000)
  }
  return dir
}

const usage = suite('cairn-gc: usage')
usage.after(removeTempDirs)

usage('--help prints usage with examples on stdout and exits 0', async () => {
  for (const flag of ['--help', '-h']) {
    const { code, stdout, stderr } = await run(flag)
    assert.is(code, 0)
    assert.ok(stdout.startsWith('Usage: cairn-gc <store-dir>'))
    assert.ok(stdout.includes('--max-size'))
    assert.ok(stdout.includes('crontab'))
    assert.is(stderr, '')
  }
})

usage('bad usage exits 2 with a message and the usage line on stderr, and touches nothing', async () => {
  const dir = await storeWith(3)
  const cases: [string[], string][] = [
    [['--max-size', '1GB'], 'missing <store-dir>'],
    [[dir], 'at least one of --max-size'],
    [[dir, '--max-size', '10 parsecs'], '--max-size'],
    [[dir, '--max-age', '30'], '--max-age'],
    [[dir, '--max-entries', 'many'], '--max-entries'],
    [[dir, '--max-entries', '1', '--bogus'], '--bogus'],
    [[dir, '--max-size'], '--max-size'],
    [[dir, '--policy', 'cache_size=lots'], 'cache_size=lots'],
    [[dir, dir, '--max-entries', '0'], 'one <store-dir>'],
  ]
  for (const [argv, says] of cases) {
    const { code, stdout, stderr } = await run(...argv)
    assert.is(code, 2, argv.join(' '))
    assert.is(stdout, '')
    assert.ok(stderr.includes(says), `${JSON.stringify(stderr)} should mention ${says}`)
    assert.ok(stderr.includes('Usage: cairn-gc'))
  }
  const store = await openStore(dir)
  for (let i = 0; i < 3; i++) assert.ok(store.getSync(keyOf(i)), 'nothing was pruned')
})

usage('a directory that is not a store exits 1 with the reason on stderr', async () => {
  const dir = tempDir()
  writeFileSync(join(dir, 'file.txt'), 'x')
  const { code, stdout, stderr } = await run(dir, '--max-entries', '0')
  assert.is(code, 1)
  assert.is(stdout, '')
  assert.ok(stderr.includes('ERR_CAIRN_NOT_A_STORE'))
  assert.ok(existsSync(join(dir, 'file.txt')))
})

usage.run()

// ---

const output = suite('cairn-gc: output')
output.after(removeTempDirs)

output('--json prints the report as JSON and nothing else on stdout', async () => {
  const dir = await storeWith(5)
  const { code, stdout } = await run(dir, '--max-entries', '2', '--json')
  assert.is(code, 0)
  const report = JSON.parse(stdout) as PruneReport
  assert.is(report.skipped, false)
  assert.equal(report.scanned, { entries: 5, bytes: 30_000 })
  assert.equal(report.removed, { entries: 3, bytes: 18_000 })
  assert.equal(report.kept, { entries: 2, bytes: 12_000 })
  assert.is(typeof report.durationMs, 'number')
})

output('the human summary is one line; --quiet prints nothing; --dry-run removes nothing', async () => {
  const dir = await storeWith(4)
  const dry = await run(dir, '--max-size', '6000', '--dry-run')
  assert.is(dry.code, 0)
  assert.is(dry.stdout.split('\n').length, 2, 'one line and its newline')
  assert.match(
    dry.stdout,
    /scanned 4 entries \(23\.4 KiB\), would remove 3, kept 1 \(5\.86 KiB\), 17\.6 KiB would be freed; .* \(dry run\)/,
  )
  const quiet = await run(dir, '--max-size', '6000', '--quiet')
  assert.is(quiet.code, 0)
  assert.is(quiet.stdout + quiet.stderr, '')
  const store = await openStore(dir)
  assert.is(store.getSync(keyOf(0)), undefined)
  assert.ok(store.getSync(keyOf(3)))
})

output('the summary says what was freed, even when nothing was', async () => {
  const dir = await storeWith(3)
  const keepAll = await run(dir, '--max-entries', '5')
  assert.match(keepAll.stdout, /removed 0, kept 3 \(17\.6 KiB\), 0 B freed; /)
  const pruned = await run(dir, '--max-entries', '1')
  assert.match(
    pruned.stdout,
    /scanned 3 entries \(17\.6 KiB\), removed 2, kept 1 \(5\.86 KiB\), 11\.7 KiB freed; /,
  )
})

output('a skipped prune exits 0 and says why', async () => {
  const dir = await storeWith(2)
  assert.is((await run(dir, '--max-entries', '5', '--interval', '1h')).code, 0)
  const skipped = await run(dir, '--max-entries', '5', '--interval', '1h')
  assert.is(skipped.code, 0)
  assert.match(skipped.stdout, /skipped: the last prune was less than 1h ago/)
  const json = await run(dir, '--max-entries', '5', '--interval', '1h', '--json')
  assert.equal((JSON.parse(json.stdout) as PruneReport).reason, 'interval')
})

output('--policy and flags combine, the flags winning', async () => {
  const dir = await storeWith(6)
  const { code, stdout } = await run(
    dir,
    '--policy',
    'cache_size_files=1:prune_after=1d',
    '--max-entries',
    '4',
    '--json',
  )
  assert.is(code, 0)
  assert.is((JSON.parse(stdout) as PruneReport).kept.entries, 4)
})

output('foreign names are reported on stderr', async () => {
  const dir = await storeWith(1)
  writeFileSync(join(dir, 'stray.txt'), 'x')
  const { code, stderr } = await run(dir, '--max-entries', '5')
  assert.is(code, 0)
  assert.match(stderr, /left alone 1 name.*stray\.txt/)
})

output('the bin starts with a node shebang and sets its exit code', () => {
  const bin = fileURLToPath(new URL('../bin.js', import.meta.url))
  // tsc does not set the executable bit; package managers do when they link a bin.
  assert.is(readFileSync(bin, 'utf8').split('\n')[0], '#!/usr/bin/env node')
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' })
  assert.is(help.status, 0)
  assert.ok(help.stdout.includes('Usage: cairn-gc'))
  const bad = spawnSync(process.execPath, [bin, '--max-age', '1d'], { encoding: 'utf8' })
  assert.is(bad.status, 2)
})

output.run()

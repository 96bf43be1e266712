// `cairn run` hit overhead: a hit restoring 100 files totalling 10 MB (100,000 random bytes
// each) against `cp -r` of the same files, in the same run, on the same disk, interleaved so
// that both see the same machine load. The hit is measured as a user sees it (the whole `cairn`
// process, Node's start-up included) and as the restore time its `cairn: hit` line reports;
// `node -e ''` is timed too, so the start-up share is visible.

import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { printTable } from './lib.mjs'

const FILES = 100
const FILE_BYTES = 100_000
const CAIRN = fileURLToPath(new URL('../packages/cli/dist/cairn.mjs', import.meta.url))

/** Wall time of a child process in ms, and its stderr; throws if it fails. */
function timed(command, args, cwd, env = process.env) {
  const started = performance.now()
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
  const ms = performance.now() - started
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`)
  return { ms, stderr: result.stderr }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

export async function benchCli({ quick = false } = {}) {
  const rounds = quick ? 5 : 11
  const base = mkdtempSync(join(tmpdir(), 'cairn-bench-cli-'))
  try {
    const project = join(base, 'project')
    mkdirSync(join(project, 'data'), { recursive: true })
    writeFileSync(join(project, 'package.json'), '{}\n')
    for (let i = 0; i < FILES; i++) {
      writeFileSync(join(project, 'data', `file-${String(i).padStart(3, '0')}.bin`), randomBytes(FILE_BYTES))
    }
    const store = join(base, 'store')
    const run = [
      'run',
      '--store',
      store,
      '--inputs',
      'data',
      '--outputs',
      'out',
      '--',
      'cp',
      '-r',
      'data',
      'out',
    ]
    const miss = timed(process.execPath, [CAIRN, ...run], project)
    if (!/^cairn: miss /m.test(miss.stderr)) throw new Error(`expected a miss: ${miss.stderr}`)

    const samples = { hit: [], restore: [], cp: [], node: [] }
    for (let round = 0; round < rounds; round++) {
      rmSync(join(project, 'out'), { recursive: true, force: true })
      const hit = timed(process.execPath, [CAIRN, ...run], project)
      const line = /^cairn: hit [0-9a-f]{8} \(restored (\d+) files, [\d.]+ MiB in (\d+) ms\)$/m.exec(
        hit.stderr,
      )
      if (!line || Number(line[1]) !== FILES)
        throw new Error(`expected a hit of ${FILES} files: ${hit.stderr}`)
      samples.hit.push(hit.ms)
      samples.restore.push(Number(line[2]))
      rmSync(join(project, 'copy'), { recursive: true, force: true })
      samples.cp.push(timed('cp', ['-r', 'data', 'copy'], project).ms)
      samples.node.push(timed(process.execPath, ['-e', ''], project).ms)
    }
    const probe = 'file-042.bin'
    if (!readFileSync(join(project, 'out', probe)).equals(readFileSync(join(project, 'data', probe)))) {
      throw new Error('the hit restored different bytes')
    }

    const m = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]))
    const ms = (value) => `${value.toFixed(1)} ms`
    console.log(
      `cairn run hit vs cp -r: ${FILES} files × ${FILE_BYTES.toLocaleString('en-US')} bytes, median of ${rounds}`,
    )
    printTable(
      ['operation', 'median', 'vs cp -r'],
      [
        ['cairn run, hit (whole process)', ms(m.hit), `${(m.hit / m.cp).toFixed(2)}×`],
        ['  of which restore (its hit line)', ms(m.restore), `${(m.restore / m.cp).toFixed(2)}×`],
        ["node -e '' (start-up alone)", ms(m.node), `${(m.node / m.cp).toFixed(2)}×`],
        ['cp -r', ms(m.cp), '1.00×'],
      ],
    )
    return {
      files: FILES,
      bytes: FILES * FILE_BYTES,
      rounds,
      missMs: miss.ms,
      medianMs: m,
      hitOverCp: m.hit / m.cp,
      restoreOverCp: m.restore / m.cp,
    }
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
}

const MANY_FILES = 10_000
const MANY_FILE_BYTES = 10_000

/**
 * `cairn run` hit over 10,000 unchanged input files (100 MB) whose outputs are one small file: the
 * cost of computing the key. With the stat cache (issue #14) no input is read; the floor is
 * `node -e 0` plus `find <inputs> -printf '%s %T@\n'` (a stat of each file), interleaved with the
 * hit runs, medians. The run without the cache (CAIRN_NO_STAT_CACHE=1) is the "before". One hit
 * also runs under `strace -f -e trace=open,openat` to count the opens of input files.
 */
export async function benchCliManyInputs({ quick = false } = {}) {
  const rounds = quick ? 5 : 11
  const base = mkdtempSync(join(tmpdir(), 'cairn-bench-cli-inputs-'))
  try {
    const project = join(base, 'project')
    const data = join(project, 'data')
    for (let dir = 0; dir < 100; dir++) {
      mkdirSync(join(data, String(dir).padStart(2, '0')), { recursive: true })
    }
    writeFileSync(join(project, 'package.json'), '{}\n')
    const bytes = randomBytes(MANY_FILE_BYTES + MANY_FILES)
    for (let i = 0; i < MANY_FILES; i++) {
      const dir = String(i % 100).padStart(2, '0')
      writeFileSync(
        join(data, dir, `file-${String(i).padStart(5, '0')}.bin`),
        bytes.subarray(i, i + MANY_FILE_BYTES),
      )
    }
    // Files changed within the racy margin (1 s) are not cached: let the newest settle first.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const store = join(base, 'store')
    const run = [
      'run',
      '--store',
      store,
      '--inputs',
      'data',
      '--outputs',
      'out',
      '--',
      'sh',
      '-c',
      'mkdir -p out && echo done > out/done',
    ]
    const miss = timed(process.execPath, [CAIRN, ...run], project)
    if (!/^cairn: miss /m.test(miss.stderr)) throw new Error(`expected a miss: ${miss.stderr}`)
    const debug = { ...process.env, CAIRN_DEBUG: '1' }
    const noCache = { ...process.env, CAIRN_NO_STAT_CACHE: '1' }
    const samples = { hit: [], uncached: [], node: [], find: [] }
    let hashed
    for (let round = 0; round < rounds; round++) {
      const hit = timed(process.execPath, [CAIRN, ...run], project, debug)
      if (!/^cairn: hit /m.test(hit.stderr)) throw new Error(`expected a hit: ${hit.stderr}`)
      hashed = /hashed (\d+) of/.exec(hit.stderr)?.[1]
      samples.hit.push(hit.ms)
      samples.node.push(timed(process.execPath, ['-e', '0'], project).ms)
      samples.find.push(timed('find', ['data', '-printf', '%s %T@\n'], project).ms)
      samples.uncached.push(timed(process.execPath, [CAIRN, ...run], project, noCache).ms)
    }
    const log = join(base, 'hit.strace')
    const traced = spawnSync(
      'strace',
      ['-f', '-qq', '-e', 'trace=open,openat', '-o', log, process.execPath, CAIRN, ...run],
      {
        cwd: project,
        stdio: 'ignore',
      },
    )
    const inputOpens =
      traced.status === 0
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((line) => line.includes(`"${data}/`) && !line.includes('O_DIRECTORY')).length
        : 'n/a'
    const m = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]))
    const floor = m.node + m.find
    const ms = (value) => `${value.toFixed(1)} ms`
    console.log(
      `cairn run hit over ${MANY_FILES.toLocaleString('en-US')} unchanged inputs × ${MANY_FILE_BYTES.toLocaleString('en-US')} bytes, median of ${rounds} (inputs hashed by the hit: ${hashed}; opens of input files under strace: ${inputOpens})`,
    )
    printTable(
      ['operation', 'median', 'vs node -e 0 + find'],
      [
        ['cairn run, hit, stat cache (whole process)', ms(m.hit), `${(m.hit / floor).toFixed(2)}×`],
        ['cairn run, hit, CAIRN_NO_STAT_CACHE=1', ms(m.uncached), `${(m.uncached / floor).toFixed(2)}×`],
        ["node -e 0 + find -printf '%s %T@'", ms(floor), '1.00×'],
        ['  of which node -e 0', ms(m.node), `${(m.node / floor).toFixed(2)}×`],
        ['  of which find', ms(m.find), `${(m.find / floor).toFixed(2)}×`],
      ],
    )
    return {
      files: MANY_FILES,
      bytes: MANY_FILES * MANY_FILE_BYTES,
      rounds,
      medianMs: m,
      hitOverFloor: m.hit / floor,
      inputOpens,
      hashed,
    }
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchCli({ quick: process.argv.includes('--quick') })
  await benchCliManyInputs({ quick: process.argv.includes('--quick') })
}

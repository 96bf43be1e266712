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
function timed(command, args, cwd) {
  const started = performance.now()
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
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

if (process.argv[1] === fileURLToPath(import.meta.url))
  await benchCli({ quick: process.argv.includes('--quick') })

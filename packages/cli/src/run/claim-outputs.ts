import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { errnoOf } from '@cairn/store/protocol'
import type { DeclaredOutput } from './declared-outputs.js'

/**
 * Claims a step's declared outputs in one checkout for the length of a miss: a file
 * `.<first output>.cairn-running` beside the first declared output, created exclusively,
 * holding this process's pid. Resolves to the function that releases it, or to 'busy' when a
 * live process holds it.
 *
 * Why: a miss moves the declared outputs aside before the command runs. Two misses of one step
 * in one checkout at once would move each other's half-written outputs aside, and one could
 * then store a tree missing files its command wrote. The second one runs its command
 * unclaimed and stores nothing instead. A claim left by a process that died (its pid is gone
 * on this host) is taken over. Where the file cannot be created at all (a read-only parent),
 * the outputs cannot be moved aside either, and nothing is claimed.
 */
export function claimOutputs(outputs: readonly DeclaredOutput[]): (() => void) | 'busy' {
  const first = outputs[0]
  if (first === undefined) return () => {}
  const path = join(dirname(first.absolute), `.${basename(first.absolute)}.cairn-running`)
  const mine = String(process.pid)
  for (let attempt = 0; attempt < 2; attempt++) {
    // Written under a temp name, then linked into place: a claim appears with its pid in it.
    // Created in place and then written, a second run could read it empty in between, take it
    // for a dead process's and take it over (both misses then ran unclaimed).
    const temp = `${path}.${mine}-${randomBytes(4).toString('hex')}`
    try {
      writeFileSync(temp, mine, { flag: 'wx', mode: 0o644 })
      linkSync(temp, path)
      return () => {
        if (holder(path) === mine) rmSync(path, { force: true })
      }
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') return () => {}
    } finally {
      rmSync(temp, { force: true })
    }
    const pid = Number(holder(path))
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) return 'busy'
    rmSync(path, { force: true })
  }
  return 'busy'
}

function holder(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').slice(0, 32)
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoOf(error) !== 'ESRCH'
  }
}

import { randomBytes } from 'node:crypto'
import { linkSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { errnoOf } from '@cairn/store/protocol'
import type { DeclaredOutput } from './declared-outputs.js'
import { isPresent } from './is-present.js'

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
 * on this host) is taken over, and the hidden copies it left beside the outputs are cleaned up
 * (`onTakeover` is told what was done). Where the file cannot be created at all (a read-only parent),
 * the outputs cannot be moved aside either, and nothing is claimed.
 */
export function claimOutputs(
  outputs: readonly DeclaredOutput[],
  onTakeover: (cleaned: string[]) => void = () => {},
): (() => void) | 'busy' {
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
      if (attempt > 0) {
        const cleaned = cleanLeftovers(outputs)
        if (cleaned.length > 0) onTakeover(cleaned)
      }
      return () => {
        if (holder(path) === mine) rmSync(path, { force: true })
      }
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') return () => {}
    } finally {
      rmSync(temp, { force: true })
    }
    const held = holder(path)
    // Empty: its creator has not written its pid yet (create and write are two steps), unless
    // it died in between long ago. Taking it over would let two misses move each other's outputs.
    if (held === '' && !olderThan(path, EMPTY_CLAIM_MS)) return 'busy'
    const pid = Number(held)
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) return 'busy'
    rmSync(path, { force: true })
  }
  return 'busy'
}

/** How old an empty claim must be to count as left by a process that died before writing it. */
const EMPTY_CLAIM_MS = 10_000

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms
  } catch {
    return true
  }
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

/**
 * After taking over the claim of a run that died (SIGKILL, a power cut): its hidden copies
 * beside each declared output, `.<name>.cairn-aside-…` (moved aside for its command) and
 * `.<name>.cairn-stage-…` (a restore being built), would otherwise stay in the checkout for good.
 * An aside whose output is missing is put back (the dead run's command may not have written
 * it); the rest are removed. Returns one phrase per copy, for the line that says so.
 */
function cleanLeftovers(outputs: readonly DeclaredOutput[]): string[] {
  const done: string[] = []
  for (const output of outputs) {
    const dir = dirname(output.absolute)
    const prefix = `.${basename(output.absolute)}.cairn-`
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      continue
    }
    for (const name of names.sort()) {
      const aside = name.startsWith(`${prefix}aside-`)
      if (!aside && !name.startsWith(`${prefix}stage-`)) continue
      const path = join(dir, name)
      try {
        if (aside && !isPresent(output.absolute)) {
          renameSync(path, output.absolute)
          done.push(`put ${name} back as ${output.path}`)
        } else {
          rmSync(path, { recursive: true, force: true })
          done.push(`removed ${name}`)
        }
      } catch {
        // Left for the next takeover; never a reason to fail the run.
      }
    }
  }
  return done
}

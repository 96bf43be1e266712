import { closeSync, constants, fstatSync, lstatSync, openSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'

/** A marker younger than this (by the filesystem's clock) is a transform still running. */
export const BUSY_FRESH_MS = 30_000
/** The longest a process waits for another's transform of one key before doing it itself. */
export const BUSY_WAIT_MS = 10_000
const POLL_MS = 20

const sleeper = new Int32Array(new SharedArrayBuffer(4))
/** Filesystem clock minus this process's clock, learnt from the first marker this process makes. */
let fsClockOffset = 0
/** After one wait ran out, this process stops waiting: a stuck marker costs one wait at most. */
let waitsRanOut = false

export type Claim<R> = { hit: R } | { release: () => void }

/**
 * On a miss: makes `<store>/tmp/jest-<key>.busy` (O_EXCL) so that another Jest process missing
 * the same key at the same time waits for this one's entry instead of transforming the file
 * too. If the marker exists and is fresh, polls `check` (a store lookup) every 20 ms for up to
 * 10 s, then transforms anyway: a marker left by a crashed process is stale after 30 s, and
 * nothing ever waits without a bound. Any error making the marker means no marker (the put
 * reports store errors). The GC treats files in tmp/ as debris after its temp grace.
 */
export function claimOrWait<R>(storeDir: string, key: string, check: () => R | undefined): Claim<R> {
  const marker = join(storeDir, 'tmp', `jest-${key}.busy`)
  const started = Date.now()
  for (;;) {
    if (Date.now() - started >= BUSY_WAIT_MS) return { release: () => {} }
    const made = tryCreate(marker)
    if (made) {
      const release = () => {
        try {
          unlinkSync(marker)
        } catch {}
      }
      // The other process may have put the entry and removed its marker since our lookup.
      const hit = check()
      if (hit !== undefined) {
        release()
        return { hit }
      }
      return { release }
    }
    if (made === undefined || waitsRanOut) return { release: () => {} }
    // Someone else's marker: wait for their entry while it is fresh and the wait lasts.
    if (!isFresh(marker)) {
      try {
        unlinkSync(marker)
      } catch {
        return { release: () => {} }
      }
      continue
    }
    while (Date.now() - started < BUSY_WAIT_MS) {
      Atomics.wait(sleeper, 0, 0, POLL_MS)
      const hit = check()
      if (hit !== undefined) return { hit }
      if (!exists(marker)) break
    }
    if (Date.now() - started >= BUSY_WAIT_MS) {
      waitsRanOut = true
      return { release: () => {} }
    }
  }
}

/** true: made; false: it exists; undefined: cannot make markers here. */
function tryCreate(path: string): boolean | undefined {
  let fd: number
  try {
    fd = openSync(
      path,
      constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      0o644,
    )
  } catch (error) {
    return (error as { code?: unknown }).code === 'EEXIST' ? false : undefined
  }
  try {
    fsClockOffset = fstatSync(fd).mtimeMs - Date.now()
  } catch {
  } finally {
    closeSync(fd)
  }
  return true
}

function isFresh(path: string): boolean {
  try {
    const stat = lstatSync(path)
    return stat.isFile() && Date.now() + fsClockOffset - stat.mtimeMs < BUSY_FRESH_MS
  } catch {
    return false
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

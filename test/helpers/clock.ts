// Waiting for the clock, by condition rather than by a fixed sleep.

import { lstatSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** The latest mtime of anything under `dir` (itself included), ms. */
function newestMtime(dir: string): number {
  let newest = lstatSync(dir).mtimeMs
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : lstatSync(path).mtimeMs)
  }
  return newest
}

/**
 * Resolves once the clock has moved past every mtime under `dir`, both Date.now() and the
 * filesystem's own stamps (taken from a coarse clock, and whole seconds on some filesystems): a
 * prune with a zero grace keeps files modified at or after its scan's start (the writers' side of
 * the content handshake), so a test that needs it to see every file as old calls this first.
 * A fixed sleep assumes a clock step; this waits for one, however long.
 */
export async function clockPast(dir: string): Promise<void> {
  const newest = newestMtime(dir)
  const probeDir = mkdtempSync(join(dirname(dir), '.clock-'))
  const probe = join(probeDir, 'probe')
  /** The filesystem's "now": the mtime of a file written just now; Infinity if none fits. */
  const fsNow = () => {
    try {
      writeFileSync(probe, 'x')
      return statSync(probe).mtimeMs
    } catch {
      return Number.POSITIVE_INFINITY // a full disk: Date.now() alone, the GC's own clock
    }
  }
  const deadline = Date.now() + 60_000
  try {
    for (;;) {
      if (Date.now() > newest && fsNow() > newest) return
      if (Date.now() > deadline) throw new Error(`the clock did not pass ${newest} within 60 s`)
      await sleep(5)
    }
  } finally {
    rmSync(probeDir, { recursive: true, force: true })
  }
}

import { constants } from 'node:os'

/** The signals a user or a CI runner sends to stop a job. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

const cleanups: (() => void)[] = []

function onSignal(signal: NodeJS.Signals): void {
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup()
    } catch {
      // The others must still run; the next run's claim takeover cleans what is left.
    }
  }
  process.exit(128 + (constants.signals[signal] ?? 0))
}

/**
 * Registers `cleanup` to run (synchronously, latest first) if cairn gets SIGINT, SIGTERM or
 * SIGHUP, after which cairn exits with 128 + n; returns the function that unregisters it. Why:
 * Ctrl-C while a hit restores or a miss stores would otherwise leave hidden staging and
 * moved-aside copies (`.dist.cairn-stage-…`, `.dist.cairn-aside-…`) in the checkout for good.
 * Never registered while the command runs: then stop signals are passed on to it, and its exit
 * decides cairn's (see runCommand).
 */
export function onStop(cleanup: () => void): () => void {
  if (cleanups.length === 0) for (const signal of STOP_SIGNALS) process.on(signal, onSignal)
  cleanups.push(cleanup)
  return () => {
    const index = cleanups.lastIndexOf(cleanup)
    if (index !== -1) cleanups.splice(index, 1)
    if (cleanups.length === 0) for (const signal of STOP_SIGNALS) process.off(signal, onSignal)
  }
}

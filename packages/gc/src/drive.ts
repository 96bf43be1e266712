/**
 * Runs many small protocols (one per file to remove) against the real disk with bounded memory:
 * in batches of {@link BATCH}, each batch either with synchronous calls (concurrency 1: fastest
 * on a local disk, where each call is a few µs) or with p-limit holding `concurrency` in flight
 * (network filesystems, where each call waits on a round trip). Queuing a million p-limit calls
 * at once costs about 1.2 GiB in closures; a batch costs a few hundred KB. Between batches the
 * event loop runs, so a build tool that embeds the GC keeps its timers and signals.
 */

import { type Protocol, runAsync, runSync } from '@cairn/store/protocol'
import pLimit from 'p-limit'

const BATCH = 1024

/**
 * Runs `protocolAt(item)` for each of `items`, calling `done(item, result)` as each finishes and
 * `progress(finished)` after each batch. A failure rejects once its batch has settled.
 */
export async function runEach<T>(
  items: ArrayLike<number>,
  protocolAt: (item: number) => Protocol<T>,
  done: (item: number, result: T) => void,
  options: { concurrency: number; clock: () => number; progress?: (finished: number) => void },
): Promise<void> {
  const { concurrency, clock, progress } = options
  const limit = concurrency > 1 ? pLimit(concurrency) : undefined
  for (let start = 0; start < items.length; start += BATCH) {
    const end = Math.min(items.length, start + BATCH)
    if (limit === undefined) {
      for (let at = start; at < end; at++) {
        const item = items[at] as number
        done(item, runSync(protocolAt(item), clock))
      }
    } else {
      const pending: Promise<void>[] = []
      for (let at = start; at < end; at++) {
        const item = items[at] as number
        pending.push(limit(async () => done(item, await runAsync(protocolAt(item), clock))))
      }
      // allSettled first, so no protocol is still running when a failure is thrown.
      const settled = await Promise.allSettled(pending)
      for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason
    }
    progress?.(end)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

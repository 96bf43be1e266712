/**
 * Keeps the store within its budget while the server runs: `prune` from @cairn/gc at least once
 * a `periodMs` (a minute), and as soon as the bytes written since the last prune pass 10 % of
 * `maxBytes`. One prune at a time; a trigger during a prune runs one more after it. Prunes run
 * beside the requests (async, the scan yielding between shards) and take gc.lock as `cairn gc`
 * does, so a cron job on the same directory only finds it busy now and then.
 */

import { type PruneReport, prune } from '@cairn/gc'

/** What the GC keeps; at least one is set. */
export interface GcBudget {
  /** Content bytes to keep at most. */
  maxBytes?: number
  /** Ms since an entry's last use after which it goes. */
  maxAge?: number
}

export interface GcSchedulerOptions {
  /** Called with each prune's report. */
  onReport?: (report: PruneReport) => void
  /** Called when a prune fails; the next trigger tries again. */
  onError?: (error: unknown) => void
  /** Ms between prunes when nothing triggers one sooner. Default 60,000. */
  periodMs?: number
  /** Passed to prune: a root server may prune a store another user owns. */
  allowForeignOwner?: boolean
}

/** Share of `maxBytes` written since the last prune that starts the next at once. */
export const WRITE_TRIGGER_SHARE = 0.1

export class GcScheduler {
  readonly #dir: string
  readonly #budget: GcBudget
  readonly #options: GcSchedulerOptions
  #written = 0
  #running: Promise<void> | undefined
  #again = false
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(dir: string, budget: GcBudget, options: GcSchedulerOptions = {}) {
    this.#dir = dir
    this.#budget = budget
    this.#options = options
  }

  /** Starts the periodic prunes, with one right away. */
  start(): void {
    this.#timer = setInterval(() => this.trigger(), this.#options.periodMs ?? 60_000)
    this.#timer.unref()
    this.trigger()
  }

  /** Counts bytes just stored; past 10 % of the size budget, a prune starts. */
  noteWritten(bytes: number): void {
    this.#written += bytes
    const { maxBytes } = this.#budget
    if (maxBytes !== undefined && this.#written > maxBytes * WRITE_TRIGGER_SHARE) this.trigger()
  }

  /** Starts a prune now, or right after the one running. Resolves when that prune is done. */
  trigger(): Promise<void> {
    if (this.#stopped) return Promise.resolve()
    if (this.#running) {
      this.#again = true
      return this.#running
    }
    this.#written = 0
    this.#running = this.#prune().finally(() => {
      this.#running = undefined
      if (this.#again && !this.#stopped) {
        this.#again = false
        void this.trigger()
      }
    })
    return this.#running
  }

  /** Stops scheduling; resolves when a prune in progress has finished. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    await this.#running
  }

  async #prune(): Promise<void> {
    try {
      const report = await prune(
        this.#dir,
        {
          ...(this.#budget.maxBytes === undefined ? {} : { maxBytes: this.#budget.maxBytes }),
          ...(this.#budget.maxAge === undefined ? {} : { maxAge: this.#budget.maxAge }),
        },
        this.#options.allowForeignOwner ? { allowForeignOwner: true } : {},
      )
      this.#options.onReport?.(report)
    } catch (error) {
      this.#options.onError?.(error)
    }
  }
}

/** The line a server logs for a prune that removed something. */
export function describePrune(report: PruneReport): string {
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`
  return `cairn serve: gc removed ${count(report.removed.entries, 'entry', 'entries')} (${count(report.removed.bytes, 'byte', 'bytes')}), kept ${count(report.kept.entries, 'entry', 'entries')} (${count(report.kept.bytes, 'byte', 'bytes')})`
}

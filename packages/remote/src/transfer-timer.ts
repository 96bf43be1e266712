/**
 * Bounds one content transfer two ways, and aborts `signal` at whichever comes first:
 *
 * - idle: no answer, or no new chunk of a body, for `idleMs` (a stalled server is given up
 *   after `timeoutMs`, not after the whole deadline);
 * - deadline: the whole request takes longer than `totalMs` (see transferDeadlineMs). Without
 *   it, a server trickling one byte just inside every idle wait keeps a lookup going for as
 *   long as it likes: one byte every 900 ms held a 1,000 ms timeout for 6.4 s over 8 bytes.
 */
export class TransferTimer {
  readonly signal: AbortSignal
  readonly #controller = new AbortController()
  readonly #idle: NodeJS.Timeout
  readonly #deadline: NodeJS.Timeout

  constructor(idleMs: number, totalMs: number) {
    this.signal = this.#controller.signal
    this.#idle = setTimeout(() => this.#abort(`no progress within ${idleMs} ms`), idleMs)
    this.#deadline = setTimeout(() => this.#abort(`not finished within ${totalMs} ms`), totalMs)
  }

  /** Progress was made: the idle wait starts again (the deadline does not move). */
  refresh(): void {
    this.#idle.refresh()
  }

  /** The request is over, one way or another. */
  clear(): void {
    clearTimeout(this.#idle)
    clearTimeout(this.#deadline)
  }

  #abort(why: string): void {
    this.clear()
    this.#controller.abort(new DOMException(why, 'TimeoutError'))
  }
}

/**
 * The longest a transfer of `bytes` may take in all: `timeoutMs` for the answer, plus the
 * bytes at `minBytesPerSecond`. A healthy 1 GiB download at the default 256 KiB/s floor has
 * 68 minutes; an 8-byte body that trickles has about `timeoutMs`.
 */
export function transferDeadlineMs(timeoutMs: number, minBytesPerSecond: number, bytes: number): number {
  // setTimeout holds at most 2^31-1 ms (24.8 days); longer is "no deadline" in practice.
  return Math.min(timeoutMs + Math.ceil((bytes * 1000) / minBytesPerSecond), 0x7fff_ffff)
}

/**
 * Aborts a request when the server makes no progress for `ms`: no answer, or no new chunk of a
 * body. A fixed deadline (`AbortSignal.timeout`) is right for a record of a few hundred bytes,
 * and http.ts uses it for those; for content it would fail a 1 GB transfer that is moving
 * steadily, or wait the full deadline on one that stalled at the start.
 */
export class IdleTimer {
  readonly signal: AbortSignal
  readonly #controller = new AbortController()
  readonly #timer: NodeJS.Timeout

  constructor(ms: number) {
    this.signal = this.#controller.signal
    this.#timer = setTimeout(() => {
      this.#controller.abort(new DOMException(`no progress within ${ms} ms`, 'TimeoutError'))
    }, ms)
  }

  /** Progress was made: the wait starts again. */
  refresh(): void {
    this.#timer.refresh()
  }

  /** The request is over, one way or another. */
  clear(): void {
    clearTimeout(this.#timer)
  }
}

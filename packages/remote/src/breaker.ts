/**
 * A circuit breaker: after `threshold` failed requests in a row, the remote is not contacted
 * for `cooldownMs`. Without it, a build with a thousand cache lookups against a dead server
 * would pay the timeout a thousand times; with it, it pays about `threshold` timeouts (fewer
 * when requests overlap) and then runs at local speed.
 *
 * After the cooldown the breaker is half-open: requests go out again, and the first failure
 * opens it for another cooldown, while a success closes it.
 */
export class CircuitBreaker {
  readonly threshold: number
  readonly cooldownMs: number
  readonly #now: () => number
  #failures = 0
  #openUntil = 0
  #halfOpen = false

  constructor(options: { threshold: number; cooldownMs: number; now: () => number }) {
    this.threshold = options.threshold
    this.cooldownMs = options.cooldownMs
    this.#now = options.now
  }

  /** Whether a request may go out now. */
  allows(): boolean {
    if (this.#openUntil === 0) return true
    if (this.#now() < this.#openUntil) return false
    this.#openUntil = 0
    this.#halfOpen = true
    return true
  }

  /** 'open' while requests are held back. */
  get state(): 'closed' | 'open' | 'half-open' {
    if (this.#openUntil !== 0 && this.#now() < this.#openUntil) return 'open'
    return this.#halfOpen || this.#openUntil !== 0 ? 'half-open' : 'closed'
  }

  /** The server answered (any expected answer, a 404 included). */
  succeeded(): void {
    this.#failures = 0
    this.#halfOpen = false
  }

  /** A request failed. Returns true when this failure opened the breaker. */
  failed(): boolean {
    if (this.#openUntil !== 0) return false // already open: requests in flight when it opened
    this.#failures += 1
    if (!this.#halfOpen && this.#failures < this.threshold) return false
    this.#openUntil = this.#now() + this.cooldownMs
    this.#halfOpen = false
    this.#failures = 0
    return true
  }
}

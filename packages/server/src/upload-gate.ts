/**
 * A counting gate for uploads: at most `limit` stream into the store at once per process; the
 * rest wait their turn without reading their bodies, so TCP flow control holds their clients back
 * instead of the server holding open temp files and buffers for all of them.
 */
export class UploadGate {
  readonly #limit: number
  #active = 0
  readonly #waiting: Array<() => void> = []

  constructor(limit: number) {
    this.#limit = limit
  }

  /** Resolves with the function that releases the slot (call it once) when a slot is free. */
  async acquire(): Promise<() => void> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    else this.#active += 1
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#waiting.shift()
      // The slot passes straight to the next waiter, so #active stays counted for it.
      if (next) next()
      else this.#active -= 1
    }
  }
}

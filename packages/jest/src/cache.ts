import type { Hasher } from '@cairn/hash'
import { openStoreSync, type Store } from '@cairn/store'
import { warnOnce } from './warn.js'

/**
 * One store directory as the transformer uses it: opened on first use, and never a reason for
 * a test run to fail. Any error (the store cannot be created, a read fails) turns it off for
 * this process with one warning; a failed write (read-only store, full disk) turns writes off
 * and keeps serving hits.
 */
export class TransformCache {
  readonly dir: string
  readonly #hashers: readonly Hasher[]
  #store: Store | undefined
  #broken = false
  #writable = true

  constructor(dir: string, hashers: readonly Hasher[]) {
    this.dir = dir
    this.#hashers = hashers
  }

  /** The store is open and writable: a miss here will be put (so others may wait for it). */
  get writable(): boolean {
    return !this.#broken && this.#writable && this.#store !== undefined
  }

  get(key: string): string | undefined {
    const store = this.#open()
    if (store === undefined) return undefined
    try {
      return store.getSync(key)?.data.toString('utf8')
    } catch (error) {
      this.#broken = true
      warnOnce(`cannot read the store at ${this.dir}`, error)
      return undefined
    }
  }

  put(key: string, text: string): void {
    if (!this.#writable) return
    const store = this.#open()
    if (store === undefined) return
    try {
      store.putSync(key, text)
    } catch (error) {
      this.#writable = false
      warnOnce(`cannot write to the store at ${this.dir}`, error)
    }
  }

  #open(): Store | undefined {
    if (this.#broken) return undefined
    if (this.#store !== undefined) return this.#store
    try {
      // 'hash': an entry damaged in place (same size) is a miss, removed, never served. Entries
      // are small transform outputs, so hashing each hit costs little next to reading it.
      this.#store = openStoreSync(this.dir, this.#hashers, { verify: 'hash' })
      return this.#store
    } catch (error) {
      this.#broken = true
      warnOnce(`cannot open the store at ${this.dir}`, error)
      return undefined
    }
  }
}

import type { Hasher } from '@cairn/hash'
import type { Layout } from './layout.js'

/** How entries and content reach their final names (decided when the store is created). */
export type PublishMode = 'link' | 'copy'

/** Counters for this process, as `Store.stats()` reports them. */
export interface StoreStats {
  hits: number
  misses: number
  puts: number
  published: number
  corrupt: number
}

/** Everything a protocol needs to know about its store; built once by openStore. */
export interface StoreContext {
  readonly layout: Layout
  readonly hasher: Hasher
  /** Hex length of the store algorithm's digests. */
  readonly digestLength: number
  readonly verify: 'size' | 'hash'
  readonly touchInterval: number
  readonly durable: boolean
  readonly publishMode: PublishMode
  /** Decides the Windows-only miss rules; injectable for the model checker. */
  readonly platform: NodeJS.Platform
  readonly stats: StoreStats
}

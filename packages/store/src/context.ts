import type { Hasher } from '@cairn/hash'
import type { Layout } from './layout.js'
import type { StoreGuard } from './safety.js'

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
  /**
   * Set when users other than this process's can write the store (safety.ts): every step that
   * creates, links, renames or unlinks a name first re-checks the directories on its way.
   * Undefined: a store only its owner (or root) can write, on the fast path with no extra calls.
   */
  readonly guard?: StoreGuard | undefined
  /**
   * The uid of the store directory's owner when this process is root, that owner is another user
   * and the caller did not opt in (`allowForeignOwner`): writes are refused with
   * ERR_CAIRN_FOREIGN_OWNER, and reads change nothing (no touch, no cleaning of corrupt files).
   */
  readonly foreignOwner?: number | undefined
}

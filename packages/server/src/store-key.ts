import type { Hasher } from '@cairn/hash'
import type { CacheName } from './route.js'

/**
 * Version of the mapping below. It is part of every key, so a change to the mapping changes
 * every key instead of letting two meanings share one store.
 */
export const STORE_KEY_VERSION = 1

/**
 * The store key of a cache name: the store's hash of (mapping version, protocol, namespace,
 * name). Protocols and namespaces never see each other's entries, and no client-chosen name can
 * reach the store's own key space unhashed.
 */
export function storeKey(hasher: Hasher, target: CacheName): string {
  return hasher.key(['cairn serve', STORE_KEY_VERSION, target.protocol, target.namespace, target.name])
}

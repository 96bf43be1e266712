import { type CacheStore, RemoteStore } from '@cairn/remote'
import { openStore, type Store } from '@cairn/store'

/**
 * Removes a blob whose content file was found damaged (its bytes no longer hash to its name),
 * and the manifest naming it, so that the run that follows as a miss stores correct bytes: the
 * store deduplicates content by digest, so a damaged content file left in place would be kept
 * by the next put of the same digest. The store's own hash check finds and removes it (a second
 * handle on the store with `verify: 'hash'`), with its usual care: the file judged is the file
 * removed, never a symbolic link followed. Best effort: a failure leaves at worst a miss.
 */
export async function removeDamagedBlob(
  store: CacheStore,
  digest: string,
  manifestKey: string,
  allowForeignOwner: boolean,
): Promise<void> {
  const local: Store = store instanceof RemoteStore ? store.local : (store as Store)
  try {
    await store.delete(manifestKey)
    const checking = await openStore(local.dir, { verify: 'hash', allowForeignOwner })
    checking.getSync(digest)
  } catch {
    // Nothing more to do: the next hit checks the bytes again.
  }
}

/**
 * `openStore` with the remote option the remote issue's contract names:
 * `openStore(dir, { remote: { url, ... } })` gives a store with a remote tier, and without
 * `remote` it is exactly `@cairn/store`'s openStore. So a build tool imports one function from
 * here and lets configuration decide whether the cache is shared.
 */

import { openStore as openLocalStore, type Store, type StoreOptions } from '@cairn/store'
import type { RemoteOptions } from './options.js'
import { openRemoteStore, type RemoteStore } from './remote-store.js'

export function openStore(
  dir: string,
  options: StoreOptions & { remote: RemoteOptions },
): Promise<RemoteStore>
export function openStore(dir: string, options?: StoreOptions & { remote?: undefined }): Promise<Store>
export function openStore(
  dir: string,
  options?: StoreOptions & { remote?: RemoteOptions | undefined },
): Promise<Store | RemoteStore>
export function openStore(
  dir: string,
  options: StoreOptions & { remote?: RemoteOptions | undefined } = {},
): Promise<Store | RemoteStore> {
  const { remote, ...storeOptions } = options
  return remote === undefined
    ? openLocalStore(dir, storeOptions)
    : openRemoteStore(dir, { ...storeOptions, remote })
}

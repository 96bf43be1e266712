import { type EntryInfo, Layout, type Store } from '@cairn/store'
import { lstat, runSync } from '@cairn/store/protocol'

/** An entry with the time it was last used. */
export interface UsedEntry extends EntryInfo {
  /**
   * The entry record's mtime: creation, then refreshed by hits at most once per the store's
   * touch interval (an hour by default), so it may lag the true last use by that much. It is
   * what the GC orders entries by.
   */
  lastUsed: Date
}

/**
 * Every whole entry of a store with its last use, shard by shard. Entries removed during the
 * walk are skipped. Reading info does not count as a use, so listing changes no times.
 */
export async function* entriesWithUse(store: Store): AsyncIterable<UsedEntry> {
  const layout = new Layout(store.dir)
  for await (const info of store.entries()) {
    let mtimeMs: number
    try {
      mtimeMs = runSync(lstat(layout.entryPath(info.key))).mtimeMs
    } catch {
      continue
    }
    yield { ...info, lastUsed: new Date(mtimeMs) }
  }
}

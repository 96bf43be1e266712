/**
 * The store's low-level protocol pieces, for @cairn/gc, the `cairn` CLI and the model checker:
 * the filesystem steps, the drivers that run them, the marker and the read rules. Build tools
 * should use `openStore` from the package root instead; these carry no stability promise
 * beyond this workspace.
 */

export type { PublishMode, StoreContext, StoreStats } from './context.js'
export { deleteEntry, removeEntryFile } from './delete.js'
export { errnoOf, ioError } from './errors.js'
export { performSync, runAsync, runSync, toFileStat } from './fs.js'
export { type Marker, openOrCreate, readMarker } from './marker.js'
export { NO_LINKS, putEntry, unlinkQuietly, writeTemp } from './publish.js'
export {
  COPY_MODE_GRACE_MS,
  type MissReason,
  openContent,
  openForReading,
  type ReadOutcome,
  readEntry,
  removeCorrupt,
} from './read.js'
export { encodeRecord } from './record.js'
export { readCanonicalHeader } from './record-header.js'
export {
  assessStore,
  checkDirectories,
  foreignOwnerError,
  type GuardContext,
  guardFor,
  isUnsafePath,
  refuseForeignOwner,
  type StoreGuard,
  type StoreSafety,
  unlinkInStore,
} from './safety.js'
export * from './steps.js'
export { removeUnusedContent, type SweepResult } from './sweep.js'

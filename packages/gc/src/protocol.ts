/**
 * The GC's removal steps as protocols (`@cairn/gc/protocol`), for the model checker
 * (packages/model), which runs them interleaved with the store's readers and writers one
 * filesystem step at a time over simulated POSIX and Windows filesystems. `prune` runs the very
 * same generators against the real filesystem.
 */

export { filesystemNow } from './clock.js'
export { acquireLock, currentPidSpace, type LockOwner, lockContext, releaseLock } from './lock.js'
export { type RemoveOutcome, removeContentIfUnused, removeDebris, removeEntryIfUnused } from './remove.js'

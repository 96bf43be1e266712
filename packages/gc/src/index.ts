export { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type GcIo, gcMain } from './cli.js'
export { LOCK_STALE_MS } from './lock.js'
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_TEMP_GRACE_MS,
  type Policy,
  type Progress,
  parseDuration,
  parsePolicy,
  parseSize,
} from './policy.js'
export { type LogicalBytes, type PruneOptions, type PruneReport, prune, type Tally } from './prune.js'
export {
  isRunMetadata,
  MANIFEST_MAX_BYTES,
  memberKeys,
  parseMembers,
  type RunMembers,
  readRunMembers,
} from './run-manifest.js'
export type { Foreign } from './scan.js'
export { INDEX_HEADER_BYTES, INDEX_RACY_MS, INDEX_VERSION } from './scan-index.js'

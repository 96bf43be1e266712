export type { RemoteFlags } from './env.js'
export { remoteOptionsFromEnv } from './env.js'
export { RemoteFailure, type RemoteFailureCode } from './failure.js'
export { parseRemoteHeaders } from './headers.js'
export { openStore } from './open-store.js'
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_COOLDOWN_MS,
  DEFAULT_FAILURE_THRESHOLD,
  DEFAULT_MAX_ENTRY_BYTES,
  DEFAULT_MIN_BYTES_PER_SECOND,
  DEFAULT_TIMEOUT_MS,
  type RemoteOptions,
  type RemoteStoreOptions,
} from './options.js'
export { REDACTED } from './redact.js'
export {
  decodeRemoteRecord,
  encodeRemoteRecord,
  REMOTE_FORMAT_VERSION,
  REMOTE_RECORD_MAX_BYTES,
  type RemoteRecord,
  type RemoteRecordProblem,
} from './remote-record.js'
export { type CacheStore, openRemoteStore, RemoteStore } from './remote-store.js'
export type { RemoteStats } from './stats.js'
export {
  REMOTE_STATS_FILE,
  readRemoteStats,
  recordRemoteStats,
  remoteStatsPath,
  type StatsFileGuard,
} from './stats-file.js'

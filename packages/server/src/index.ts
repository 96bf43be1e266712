export {
  type Access,
  credentialOf,
  parseTokenFile,
  type Standing,
  type TokenGrant,
  TokenSet,
} from './auth.js'
export {
  budgetOf,
  type CacheServer,
  type CacheServerOptions,
  createCacheServer,
  DEFAULT_MAX_ENTRY_SIZE,
  isLoopback,
  type ListenAddress,
  QUERY_MAX_HASHES,
  SERVER_TOUCH_INTERVAL_MS,
} from './cache-server.js'
export { type GcBudget, GcScheduler, type GcSchedulerOptions, WRITE_TRIGGER_SHARE } from './gc-scheduler.js'
export { Metrics, type MetricsSnapshot, renderMetrics, sumSnapshots } from './metrics.js'
export type { CacheName, Protocol, Route } from './route.js'
export { readyLine, type ServeIo, type ServeOptions, SHUTDOWN_GRACE_MS, serve } from './serve.js'
export { STORE_KEY_VERSION, storeKey } from './store-key.js'

export { availableCodecs, type Codec, canDecode, decodeContent, decodeContentStream } from './codec.js'
export type { CompressionOption } from './compression.js'
export type { StoreStats } from './context.js'
export { CairnError, type CairnErrorCode } from './errors.js'
export { CONTENT_FRAME_HEADER_BYTES, type ContentFrameHeader, readContentFrameHeader } from './frame.js'
export {
  CACHEDIR_TAG_FILE,
  CONTENT_DIR,
  ENTRIES_DIR,
  GC_INDEX_FILE,
  GC_LOCK_FILE,
  GC_STAMP_FILE,
  isValidKey,
  Layout,
  MARKER_FILE,
  REMOTE_STATS_FILE,
  ROOT_NAMES,
  RUN_STAT_CACHE_DIR,
  SHARDS,
  STORE_FORMAT_VERSION,
  TMP_DIR,
} from './layout.js'
export { encodeMetadata, METADATA_MAX_DEPTH } from './metadata.js'
export { originalContent } from './original-content.js'
export type { PutResult } from './publish.js'
export {
  decodeRecord,
  type EntryRecord,
  INLINE_MAX_BYTES,
  type JsonValue,
  METADATA_MAX_BYTES,
  RECORD_MAX_BYTES,
} from './record.js'
export {
  type Entry,
  type EntryInfo,
  openStore,
  openStoreSync,
  type PutData,
  type PutOptions,
  Store,
  type StoreOptions,
} from './store.js'
export { defaultStoreDir, type StoreDirContext, storeDirContext } from './store-dir.js'

export {
  ENCODING_VERSION,
  encodeCanonical,
  encodeWtf8,
  KEY_VALUE_MAX_DEPTH,
  type KeyValue,
} from './encode.js'
export { UnsupportedValueError } from './errors.js'
export {
  ALGORITHMS,
  type Algorithm,
  createHasher,
  DIGEST_LENGTH,
  type DigestStream,
  FILE_CHUNK_SIZE,
  type Hasher,
  hashFile,
  hashKey,
} from './hasher.js'

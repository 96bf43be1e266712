import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { encodeCanonical, type KeyValue } from './encode.js'
import { hex128, loadXxhash, XXH128_SEEDS } from './xxhash.js'

/** The digest algorithms Cairn supports. */
export type Algorithm = 'xxh128' | 'sha256'

/** Every algorithm, in the order they are documented. */
export const ALGORITHMS: readonly Algorithm[] = ['xxh128', 'sha256']

/** Length in hex characters of each algorithm's digests. */
export const DIGEST_LENGTH: Readonly<Record<Algorithm, number>> = { xxh128: 32, sha256: 64 }

/** An incremental digest: feed chunks with `update`, then read the hex digest once. */
export interface DigestStream {
  /** Adds bytes (a string is added as its UTF-8 bytes). */
  update(chunk: Uint8Array | string): void
  /** Returns the lowercase hex digest of everything added. Call it once. */
  digest(): string
}

/**
 * Computes keys and content digests with one algorithm. All methods are safe to call
 * concurrently; a hasher holds no per-call state.
 */
export interface Hasher {
  readonly algorithm: Algorithm
  /** The key of a value: the digest of its canonical encoding ({@link encodeCanonical}). */
  key(value: KeyValue): string
  /** The digest of raw bytes; a string is hashed as its UTF-8 bytes. */
  bytes(data: Uint8Array | string): string
  /**
   * The digest of a file's contents, read in chunks of {@link FILE_CHUNK_SIZE} bytes, so
   * memory stays bounded whatever the file's size. Rejects with the fs error (its `code`,
   * e.g. `ENOENT`, and a message naming the path) when the file cannot be read.
   */
  file(path: string): Promise<string>
  /** A fresh incremental digest. */
  stream(): DigestStream
}

/** How many bytes `Hasher.file` reads at a time. */
export const FILE_CHUNK_SIZE = 256 * 1024

/**
 * Creates a hasher. The default algorithm, `xxh128`, is fast and detects accidents; it is not
 * collision-resistant against an attacker, who could craft content whose digest matches
 * another's. `sha256` is, and is what servers that check digests (bazel-remote) expect. Neither
 * makes a store safe to share with writers you do not trust: a writer can always store its own
 * bytes under a key (docs/DESIGN.md, "Trust").
 *
 * @throws {TypeError} with `code: 'ERR_CAIRN_INVALID_OPTION'` for an unknown algorithm.
 */
export async function createHasher(options: { algorithm?: Algorithm } = {}): Promise<Hasher> {
  const algorithm = options.algorithm ?? 'xxh128'
  if (!ALGORITHMS.includes(algorithm)) {
    throw Object.assign(
      new TypeError(`Unknown hash algorithm ${JSON.stringify(algorithm)}: expected 'xxh128' or 'sha256'.`),
      { code: 'ERR_CAIRN_INVALID_OPTION' },
    )
  }
  const newStream = algorithm === 'sha256' ? sha256Stream : await xxh128StreamFactory()
  const digestBytes = algorithm === 'sha256' ? sha256Bytes : await xxh128BytesFunction()
  return {
    algorithm,
    key: (value) => digestBytes(encodeCanonical(value)),
    bytes: (data) => digestBytes(typeof data === 'string' ? Buffer.from(data, 'utf8') : data),
    file: (path) => digestFile(path, newStream()),
    stream: newStream,
  }
}

async function xxh128BytesFunction(): Promise<(data: Uint8Array) => string> {
  const { h64Raw } = await loadXxhash()
  const [seedHigh, seedLow] = XXH128_SEEDS
  return (data) => hex128(h64Raw(data, seedHigh), h64Raw(data, seedLow))
}

async function xxh128StreamFactory(): Promise<() => DigestStream> {
  const { create64 } = await loadXxhash()
  const [seedHigh, seedLow] = XXH128_SEEDS
  return () => {
    const high = create64(seedHigh)
    const low = create64(seedLow)
    return {
      update(chunk) {
        high.update(chunk)
        low.update(chunk)
      },
      digest: () => hex128(high.digest(), low.digest()),
    }
  }
}

function sha256Bytes(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

function sha256Stream(): DigestStream {
  const hash = createHash('sha256')
  return {
    update(chunk) {
      hash.update(chunk)
    },
    digest: () => hash.digest('hex'),
  }
}

async function digestFile(path: string, stream: DigestStream): Promise<string> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.allocUnsafe(FILE_CHUNK_SIZE)
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      stream.update(buffer.subarray(0, bytesRead))
    }
    return stream.digest()
  } finally {
    await handle.close()
  }
}

let defaultHasher: Promise<Hasher> | undefined

function getDefaultHasher(): Promise<Hasher> {
  defaultHasher ??= createHasher()
  return defaultHasher
}

/** The xxh128 key of a value, with a process-wide default hasher. */
export async function hashKey(value: KeyValue): Promise<string> {
  return (await getDefaultHasher()).key(value)
}

/** The xxh128 digest of a file's contents, with a process-wide default hasher. */
export async function hashFile(path: string): Promise<string> {
  return (await getDefaultHasher()).file(path)
}

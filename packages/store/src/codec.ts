/**
 * The codecs a content file may be compressed with, over node:zlib: gzip and brotli everywhere,
 * zstd where node:zlib has it (Node 22.15 and later). On Node 20 zstd is unavailable: of the npm
 * packages that bring it, @mongodb-js/zstd and zstd-napi download a prebuilt addon at install
 * (prebuild-install), and @mongodb-js/zstd has no synchronous API for getSync; fzstd only
 * decompresses; @bokuweb/zstd-wasm (WASM in the package, checked 0.0.27) loads asynchronously,
 * has no streaming decoder for getStream, and decompresses into an allocation sized by the
 * frame's own header, which a damaged or hostile file sets (no bound from the entry's size).
 *
 * Every decompression is bounded by the entry's recorded size: a file that would decompress to
 * more (a bomb) or less is corrupt, found after at most size + 1 bytes of output.
 */

import type { Readable } from 'node:stream'
import { Transform } from 'node:stream'
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { CairnError } from './errors.js'
import type { CONTENT_FRAME_HEADER_BYTES } from './frame.js'

/** How an entry's content is stored: `none` is the raw bytes. */
export type Codec = 'none' | 'gzip' | 'brotli' | 'zstd'

/** A codec that compresses (every one but `none`). */
export type CompressingCodec = Exclude<Codec, 'none'>

/** The levels each codec accepts, and the one used when none is given. */
export const CODEC_LEVELS: Readonly<Record<CompressingCodec, { min: number; max: number; default: number }>> =
  {
    // zlib's own default; 9 gains a few % for several times the CPU.
    gzip: { min: 1, max: 9, default: 6 },
    // brotli's default of 11 compresses ~50× slower than 5 for ~10 % more; 5 is near gzip's speed.
    brotli: { min: 0, max: 11, default: 5 },
    // zstd's own default.
    zstd: { min: 1, max: 19, default: 3 },
  }

/** node:zlib's zstd functions, present from Node 22.15 on; Node 20's types do not know them. */
interface ZstdZlib {
  zstdCompressSync(data: Uint8Array, options: object): Buffer
  zstdCompress(
    data: Uint8Array,
    options: object,
    callback: (error: Error | null, result: Buffer) => void,
  ): void
  zstdDecompressSync(data: Uint8Array, options: object): Buffer
  createZstdCompress(options: object): Transform
  createZstdDecompress(options: object): Transform
  constants: { ZSTD_c_compressionLevel: number }
}

const zstd: ZstdZlib | undefined =
  typeof (zlib as unknown as Partial<ZstdZlib>).zstdDecompressSync === 'function'
    ? (zlib as unknown as ZstdZlib)
    : undefined

/** The codecs this process can write and read: always none, gzip and brotli; zstd on Node 22.15+. */
export function availableCodecs(): Codec[] {
  return zstd ? ['none', 'gzip', 'brotli', 'zstd'] : ['none', 'gzip', 'brotli']
}

/** Whether this process can decompress `codec`. An entry it cannot is a miss, not corruption. */
export function canDecode(codec: Codec): boolean {
  return codec !== 'zstd' || zstd !== undefined
}

function brotliParams(level: number, size: number): object {
  return {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: level,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size,
    },
  }
}

function zstdParams(z: ZstdZlib, level: number): object {
  return { params: { [z.constants.ZSTD_c_compressionLevel]: level } }
}

function requireZstd(): ZstdZlib {
  if (zstd === undefined) throw zstdUnavailable()
  return zstd
}

/** The error for asking for zstd where node:zlib has none. */
export function zstdUnavailable(): CairnError {
  return new CairnError(
    'ERR_CAIRN_INVALID_OPTION',
    `zstd needs Node 22.15 or later (this is Node ${process.versions.node}); use 'gzip' or 'brotli'.`,
  )
}

/** `data` compressed with `codec` at `level` (already validated), synchronously. No frame. */
export function compressSync(codec: CompressingCodec, level: number, data: Uint8Array): Buffer {
  switch (codec) {
    case 'gzip':
      return zlib.gzipSync(data, { level })
    case 'brotli':
      return zlib.brotliCompressSync(data, brotliParams(level, data.length))
    case 'zstd': {
      const z = requireZstd()
      return z.zstdCompressSync(data, zstdParams(z, level))
    }
  }
}

const gzipAsync = promisify(zlib.gzip)
const brotliAsync = promisify(zlib.brotliCompress)

/** {@link compressSync} on the thread pool. */
export function compressAsync(codec: CompressingCodec, level: number, data: Uint8Array): Promise<Buffer> {
  switch (codec) {
    case 'gzip':
      return gzipAsync(data, { level })
    case 'brotli':
      return brotliAsync(data, brotliParams(level, data.length))
    case 'zstd': {
      const z = requireZstd()
      return new Promise((resolve, reject) =>
        z.zstdCompress(data, zstdParams(z, level), (error, result) =>
          error ? reject(error) : resolve(result),
        ),
      )
    }
  }
}

/** A compressing stream for `codec` at `level`; `size` is the input's size, a hint. */
export function createCompressor(codec: CompressingCodec, level: number, size: number): Transform {
  switch (codec) {
    case 'gzip':
      return zlib.createGzip({ level })
    case 'brotli':
      return zlib.createBrotliCompress(brotliParams(level, size))
    case 'zstd': {
      const z = requireZstd()
      return z.createZstdCompress(zstdParams(z, level))
    }
  }
}

/**
 * The original bytes of a compressed content stream held whole in memory (a framed content
 * file after its {@link CONTENT_FRAME_HEADER_BYTES}-byte header), which must decode to exactly
 * `size` bytes. Returns undefined when it does not: a decoder error (damaged or truncated
 * stream), more output than `size` (stopped at size + 1 bytes, so a bomb costs no more memory
 * than the entry), or less. Throws nothing for bad bytes; `codec` must be decodable here
 * ({@link canDecode}), else it throws ERR_CAIRN_INVALID_OPTION.
 */
export function decodeContent(codec: CompressingCodec, stream: Uint8Array, size: number): Buffer | undefined {
  // maxOutputLength must be at least 1; one byte past the size is how a longer output shows.
  const options = { maxOutputLength: size + 1 }
  let out: Buffer
  try {
    switch (codec) {
      case 'gzip':
        out = zlib.gunzipSync(stream, options)
        break
      case 'brotli':
        out = zlib.brotliDecompressSync(stream, options)
        break
      case 'zstd':
        out = requireZstd().zstdDecompressSync(stream, options)
        break
    }
  } catch {
    return undefined
  }
  return out.length === size ? out : undefined
}

/**
 * The original bytes of a compressed content stream, as a stream in bounded memory
 * (backpressure holds the decoder). `source` is a framed content file from offset
 * {@link CONTENT_FRAME_HEADER_BYTES} on (e.g. `createReadStream('', { fd, start: 16 })` of a
 * descriptor whose first 16 bytes passed readContentFrameHeader); `size` is the entry's size.
 * The result fails with CairnError ERR_CAIRN_CORRUPT when the stream does not decode, is
 * truncated, or decodes to more bytes than `size` (it stops there: a bomb) or fewer; it never
 * emits a byte past `size`. An error of `source` itself fails it as it is. Destroying the result
 * destroys `source`. `onCorrupt` (optional) runs before the error is delivered, e.g. to remove
 * the content file. With a codec this process cannot decode (zstd before Node 22.15) it throws
 * ERR_CAIRN_INVALID_OPTION at once: check {@link canDecode} first, since such an entry is not
 * corrupt.
 */
export function decodeContentStream(
  source: Readable,
  codec: CompressingCodec,
  size: number,
  onCorrupt: () => Promise<void> = async () => {},
): Readable {
  let decoder: Transform
  switch (codec) {
    case 'gzip':
      decoder = zlib.createGunzip()
      break
    case 'brotli':
      decoder = zlib.createBrotliDecompress()
      break
    case 'zstd':
      if (zstd === undefined) throw zstdUnavailable()
      decoder = zstd.createZstdDecompress({})
      break
  }
  let seen = 0
  let failed = false
  // Every corrupt-content failure goes through here: `onCorrupt` (the store removes the file)
  // runs before the caller sees the error, so a caller that saw it finds the file gone.
  const corrupt = (what: string, cause?: unknown): Promise<CairnError> => {
    failed = true
    const error = corruptStream(what, cause)
    return onCorrupt().then(
      () => error,
      () => error,
    )
  }
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length
      if (seen <= size) return callback(null, chunk)
      corrupt(`decompresses to more than its ${size} bytes`).then(callback)
    },
    flush(callback) {
      if (seen === size) return callback()
      corrupt(`decompresses to ${seen} bytes, not ${size}`).then(callback)
    },
  })
  // Wired by hand rather than with pipeline, which would hand the caller zlib's own error
  // ("incorrect header check") before onCorrupt has run.
  source.once('error', (error) => counter.destroy(error))
  decoder.once('error', (error) => {
    if (!failed)
      corrupt(`does not decode (${error.message})`, error).then((wrapped) => counter.destroy(wrapped))
  })
  counter.once('close', () => {
    source.destroy()
    decoder.destroy()
  })
  // Nothing is read until the caller reads: a stream handed out and not yet subscribed to must
  // not fail (an 'error' with no listener would crash the process) or read ahead.
  const read = counter._read.bind(counter)
  let started = false
  counter._read = (size: number) => {
    if (!started) {
      started = true
      source.pipe(decoder).pipe(counter)
    }
    read(size)
  }
  return counter
}

function corruptStream(what: string, cause?: unknown): CairnError {
  return new CairnError(
    'ERR_CAIRN_CORRUPT',
    `The compressed content ${what}: the content file is damaged. Treat this read as a miss.`,
    { cause },
  )
}

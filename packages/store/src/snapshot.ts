/**
 * Copies of a caller's buffer for the async `put`, so that the bytes hashed are exactly the bytes
 * written. `put` awaits other steps (the existing-entry check, the temp file's creation) between
 * hashing and writing; a caller that reuses its buffer in between would otherwise store other
 * bytes under the digest, and every later put deduplicating against that digest would serve them
 * (issue 13, item 5). `putSync` needs no copy: nothing else runs between its hash and its write.
 *
 * Copying into memory the process has already touched keeps this cheap. Measured here (1 MiB,
 * one run): a fresh `Buffer.from` copy cost 265 µs, mostly page faults, and 943 µs inside a put
 * loop; a copy into a reused 1 MiB slab cost 31 µs; the put itself about 6 ms. So buffers from
 * SMALL_COPY_BYTES up to a slab are copied whole into a pooled slab, and larger ones a slab at a
 * time as they are written (the stream path, which hashes each chunk it writes), so memory stays
 * bounded by one slab per put in flight.
 */

/** One slab: the largest buffer copied whole, and the chunk size for larger ones. */
export const SLAB_BYTES = 1 << 20

/** Below this a plain copy is as cheap as a pooled one (Node pools small allocations itself). */
const SMALL_COPY_BYTES = 64 << 10

/** Slabs kept for reuse once their put settles: 4 MiB at most stay allocated. */
const POOL_MAX = 4

const pool: Buffer[] = []

/** A private copy of a buffer, and the way to give its memory back when the put settles. */
export interface Snapshot {
  bytes: Uint8Array
  release(): void
}

/** Copies `data` (at most SLAB_BYTES) into memory only the put holds. */
export function snapshotOf(data: Uint8Array): Snapshot {
  if (data.length < SMALL_COPY_BYTES) return { bytes: Buffer.from(data), release: () => {} }
  const slab = takeSlab()
  slab.set(data)
  return { bytes: slab.subarray(0, data.length), release: () => returnSlab(slab) }
}

/**
 * Yields `data` a slab at a time, each chunk a copy in one reused slab. The consumer must be done
 * with a chunk before it asks for the next (the stream writer awaits each write first).
 */
export async function* slabCopies(data: Uint8Array): AsyncGenerator<Uint8Array> {
  const slab = takeSlab()
  try {
    for (let offset = 0; offset < data.length; offset += SLAB_BYTES) {
      const end = Math.min(offset + SLAB_BYTES, data.length)
      slab.set(data.subarray(offset, end))
      yield slab.subarray(0, end - offset)
    }
  } finally {
    returnSlab(slab)
  }
}

function takeSlab(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES)
}

function returnSlab(slab: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(slab)
}

/**
 * The scan's memory: what a prune knows about every entry and content file, in typed-array
 * columns rather than one object per file. A JavaScript object per entry with its key and digest
 * strings costs about 300 bytes; here an entry costs about 70 bytes and a distinct content about
 * 60, so a million entries fit in well under 200 MB with Node itself (the target is 300 MB of
 * peak RSS for the whole process). Digests are interned once in {@link ContentTable}: entries
 * refer to their content by number, which is also how shared content is counted once.
 */

/** An entry whose record decoded; its content is not checked yet (`classifyEntries` in scan.ts). */
export const ENTRY_DECODED = 0
/** A whole entry: record decoded, content inline or present with the record's size. */
export const ENTRY_VALID = 1
/** A record that does not decode, is not a regular file, or whose content is missing or wrong. */
export const ENTRY_CORRUPT = 2
/** Bad, but young enough to be a copy still being written (copy-mode stores): left alone. */
export const ENTRY_YOUNG = 3

/** No file was seen at this content's name. */
export const FILE_NONE = 0
/** A regular file. */
export const FILE_REGULAR = 1
/** A symlink, FIFO, socket or device: not content, removed as such (never followed). */
export const FILE_OTHER = 2
/** A directory: never removed, reported as foreign. */
export const FILE_DIRECTORY = 3

const INITIAL_CAPACITY = 1024

/** Entries as the scan found them, numbered in scan order (shard by shard). */
export class EntryTable {
  count = 0
  /** The record file's mtime as scanned: the entry's last use. */
  mtime = new Float64Array(INITIAL_CAPACITY)
  /** The record file's inode, so the re-check before removal notices a re-published entry. */
  ino = new Float64Array(INITIAL_CAPACITY)
  /** Content size from the record (0 when the record did not decode). */
  size = new Float64Array(INITIAL_CAPACITY)
  /**
   * Bytes the content takes on disk, from the record: the content file's size (smaller than
   * `size` when it is compressed), or `size` for inline content. 0 when the record did not decode.
   */
  stored = new Float64Array(INITIAL_CAPACITY)
  /** Index into the ContentTable, or -1 when the record did not decode. */
  content = new Int32Array(INITIAL_CAPACITY)
  /** ENTRY_* */
  state = new Uint8Array(INITIAL_CAPACITY)
  /** 1 when the content is inline in the record. */
  inline = new Uint8Array(INITIAL_CAPACITY)
  /** The record file's ctime and size as scanned, for the scan index (scan-index.ts). */
  ctime = new Float64Array(INITIAL_CAPACITY)
  recordSize = new Uint32Array(INITIAL_CAPACITY)
  /** 1 when what the columns say came from the scan index rather than from reading the record. */
  indexed = new Uint8Array(INITIAL_CAPACITY)
  /** Keys as Latin-1 text end to end; key i ends at keyEnd[i] and starts where key i-1 ends. */
  #keyText = Buffer.allocUnsafe(INITIAL_CAPACITY * 32)
  #keyEnd = new Uint32Array(INITIAL_CAPACITY)

  add(
    key: string,
    stat: { mtimeMs: number; ino: number; ctimeMs: number; size: number },
    content: number,
    size: number,
    stored: number,
    inline: boolean,
    state: number,
  ): number {
    const index = this.count
    if (index === this.mtime.length) this.#grow()
    const start = index === 0 ? 0 : (this.#keyEnd[index - 1] as number)
    if (start + key.length > this.#keyText.length) {
      const text = Buffer.allocUnsafe(Math.max(this.#keyText.length * 2, start + key.length))
      this.#keyText.copy(text, 0, 0, start)
      this.#keyText = text
    }
    this.#keyText.write(key, start, 'latin1')
    this.#keyEnd[index] = start + key.length
    this.mtime[index] = stat.mtimeMs
    this.ino[index] = stat.ino
    this.ctime[index] = stat.ctimeMs
    this.recordSize[index] = stat.size
    this.indexed[index] = 0
    this.size[index] = size
    this.stored[index] = stored
    this.content[index] = content
    this.inline[index] = inline ? 1 : 0
    this.state[index] = state
    this.count = index + 1
    return index
  }

  key(index: number): string {
    const start = index === 0 ? 0 : (this.#keyEnd[index - 1] as number)
    return this.#keyText.toString('latin1', start, this.#keyEnd[index] as number)
  }

  keyLength(index: number): number {
    const start = index === 0 ? 0 : (this.#keyEnd[index - 1] as number)
    return (this.#keyEnd[index] as number) - start
  }

  /** Copies key `index` as Latin-1 bytes into `target` at `offset`. */
  keyInto(index: number, target: Buffer, offset: number): void {
    const start = index === 0 ? 0 : (this.#keyEnd[index - 1] as number)
    this.#keyText.copy(target, offset, start, this.#keyEnd[index] as number)
  }

  /** The key's shard, 0 to 255: its first two hex characters. */
  shardOf(index: number): number {
    const start = index === 0 ? 0 : (this.#keyEnd[index - 1] as number)
    return hexValue(this.#keyText[start] as number) * 16 + hexValue(this.#keyText[start + 1] as number)
  }

  #grow(): void {
    const capacity = this.mtime.length * 2
    this.mtime = grown(this.mtime, new Float64Array(capacity))
    this.ino = grown(this.ino, new Float64Array(capacity))
    this.size = grown(this.size, new Float64Array(capacity))
    this.stored = grown(this.stored, new Float64Array(capacity))
    this.content = grown(this.content, new Int32Array(capacity))
    this.state = grown(this.state, new Uint8Array(capacity))
    this.inline = grown(this.inline, new Uint8Array(capacity))
    this.ctime = grown(this.ctime, new Float64Array(capacity))
    this.recordSize = grown(this.recordSize, new Uint32Array(capacity))
    this.indexed = grown(this.indexed, new Uint8Array(capacity))
    this.#keyEnd = grown(this.#keyEnd, new Uint32Array(capacity))
  }
}

/**
 * Every digest the scan met, from entry records and from content file names, interned: each
 * digest is stored once, as bytes, and numbered. An open-addressing hash table over the digest
 * bytes finds a digest's number; digests are already uniformly spread, and FNV-1a over all their
 * bytes keeps a hostile store from piling them into one slot chain by choosing the first bytes.
 */
export class ContentTable {
  count = 0
  readonly digestLength: number
  /** Logical content size, from the first valid entry that refers to it; -1 until then. */
  size = new Float64Array(INITIAL_CAPACITY)
  /**
   * Bytes on disk, from the same entry: the content file's size (compressed or not), or the size
   * of inline content. What byte budgets count.
   */
  stored = new Float64Array(INITIAL_CAPACITY)
  /** FILE_* for what is at content/<cd>/<digest>. */
  fileKind = new Uint8Array(INITIAL_CAPACITY)
  fileSize = new Float64Array(INITIAL_CAPACITY)
  /** The content file's mtime as scanned, for the sweep handshake (removeUnusedContent). */
  fileMtime = new Float64Array(INITIAL_CAPACITY)
  /** Valid entries that refer to it. */
  refs = new Uint32Array(INITIAL_CAPACITY)
  readonly #bytes: number
  #pool: Buffer
  /** Slot -> digest number + 1 (0: empty). Kept at most half full. */
  #slots = new Uint32Array(INITIAL_CAPACITY * 2)
  readonly #scratch: Buffer

  /** @param digestLength hex length of the store algorithm's digests (even). */
  constructor(digestLength: number) {
    this.digestLength = digestLength
    this.#bytes = digestLength / 2
    this.#pool = Buffer.allocUnsafe(INITIAL_CAPACITY * this.#bytes)
    this.#scratch = Buffer.allocUnsafe(this.#bytes)
    this.size.fill(-1)
  }

  /** The number of `hex` (lowercase, digestLength long), adding it if it is new. */
  intern(hex: string): number {
    this.#scratch.write(hex, 0, this.#bytes, 'hex')
    return this.#internScratch()
  }

  /** As {@link intern}, for a digest given as bytes at `offset` of `source`. */
  internBytes(source: Buffer, offset: number): number {
    source.copy(this.#scratch, 0, offset, offset + this.#bytes)
    return this.#internScratch()
  }

  /** Copies digest `index`'s bytes into `target` at `offset`. */
  digestInto(index: number, target: Buffer, offset: number): void {
    const start = index * this.#bytes
    this.#pool.copy(target, offset, start, start + this.#bytes)
  }

  #internScratch(): number {
    const scratch = this.#scratch
    const mask = this.#slots.length - 1
    for (let slot = hashOf(scratch) & mask; ; slot = (slot + 1) & mask) {
      const held = this.#slots[slot] as number
      if (held === 0) {
        const index = this.#append(scratch)
        if (this.count * 2 > this.#slots.length) this.#rehash()
        else this.#slots[slot] = index + 1
        return index
      }
      const start = (held - 1) * this.#bytes
      if (scratch.compare(this.#pool, start, start + this.#bytes) === 0) return held - 1
    }
  }

  /** The number of `hex` if it was interned, else undefined (nothing is added). */
  find(hex: string): number | undefined {
    if (hex.length !== this.digestLength || !/^[0-9a-f]+$/.test(hex)) return undefined
    const scratch = this.#scratch
    scratch.write(hex, 0, this.#bytes, 'hex')
    const mask = this.#slots.length - 1
    for (let slot = hashOf(scratch) & mask; ; slot = (slot + 1) & mask) {
      const held = this.#slots[slot] as number
      if (held === 0) return undefined
      const start = (held - 1) * this.#bytes
      if (scratch.compare(this.#pool, start, start + this.#bytes) === 0) return held - 1
    }
  }

  digest(index: number): string {
    const start = index * this.#bytes
    return this.#pool.toString('hex', start, start + this.#bytes)
  }

  #append(bytes: Buffer): number {
    const index = this.count
    if (index === this.size.length) this.#grow()
    bytes.copy(this.#pool, index * this.#bytes)
    this.count = index + 1
    return index
  }

  #grow(): void {
    const capacity = this.size.length * 2
    const size = new Float64Array(capacity)
    size.fill(-1)
    this.size = grown(this.size, size)
    this.stored = grown(this.stored, new Float64Array(capacity))
    this.fileKind = grown(this.fileKind, new Uint8Array(capacity))
    this.fileSize = grown(this.fileSize, new Float64Array(capacity))
    this.fileMtime = grown(this.fileMtime, new Float64Array(capacity))
    this.refs = grown(this.refs, new Uint32Array(capacity))
    const pool = Buffer.allocUnsafe(capacity * this.#bytes)
    this.#pool.copy(pool, 0, 0, this.count * this.#bytes)
    this.#pool = pool
  }

  /** Doubles the slot array and re-inserts every digest. */
  #rehash(): void {
    const slots = new Uint32Array(this.#slots.length * 2)
    const mask = slots.length - 1
    for (let index = 0; index < this.count; index++) {
      const start = index * this.#bytes
      let slot = hashOf(this.#pool.subarray(start, start + this.#bytes)) & mask
      while (slots[slot] !== 0) slot = (slot + 1) & mask
      slots[slot] = index + 1
    }
    this.#slots = slots
  }
}

function hexValue(code: number): number {
  return code <= 57 ? code - 48 : code - 87
}

/** FNV-1a, 32 bits. */
function hashOf(bytes: Uint8Array): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193)
  return hash >>> 0
}

function grown<T extends Float64Array | Uint32Array | Int32Array | Uint8Array>(from: T, to: T): T {
  to.set(from)
  return to
}

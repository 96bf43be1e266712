// Helpers for the compression tests: content that compresses, and entries written by hand
// (docs/FORMAT.md, "Entry record" and "Content"), to damage a framed entry in every way.

import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Codec } from '@cairn/store'

/** `size` bytes that compress well but not to nothing: random words from a small vocabulary. */
export function compressible(size: number, seed = randomBytes(8)): Buffer {
  const words = ['export', 'const', 'function', 'return', 'import', seed.toString('hex'), '{', '}', ';\n']
  const out = Buffer.alloc(size)
  let at = 0
  let state = seed.readUInt32BE(0) || 1
  while (at < size) {
    state = (state * 1103515245 + 12345) >>> 0
    at += out.write(`${words[state % words.length]} `, at)
  }
  return out
}

export function entryPath(dir: string, key: string): string {
  return join(dir, 'entries', key.slice(0, 2), key)
}

export function contentPath(dir: string, digest: string): string {
  return join(dir, 'content', digest.slice(0, 2), digest)
}

/** The 16-byte content frame header, written from docs/FORMAT.md rather than the store's code. */
export function frameHeader(codecId: number, size: number): Buffer {
  const header = Buffer.alloc(16)
  header.write('CRNZ', 0, 'latin1')
  header[4] = 1
  header[5] = codecId
  header.writeBigUInt64BE(BigInt(size), 8)
  return header
}

export const CODEC_IDS: Record<Exclude<Codec, 'none'>, number> = { gzip: 1, brotli: 2, zstd: 3 }

/** A version 02 entry record naming a framed content file. */
export function framedRecord(digest: string, size: number, codec: string, stored: number): Buffer {
  const header = Buffer.from(JSON.stringify({ digest, size, time: Date.now(), codec, stored }), 'utf8')
  const fixed = Buffer.alloc(12)
  fixed.write('CRNE', 0, 'latin1')
  fixed[4] = 2
  fixed.writeUInt32BE(header.length, 8)
  return Buffer.concat([fixed, header])
}

/** Writes (or overwrites) a file of the store, as a damaged disk or a hostile co-user could. */
export function writeStoreFile(path: string, bytes: Uint8Array): void {
  mkdirSync(join(path, '..'), { recursive: true })
  try {
    chmodSync(path, 0o644)
  } catch {
    // Not there yet.
  }
  writeFileSync(path, bytes)
}

export function readStoreFile(path: string): Buffer {
  return readFileSync(path)
}

// Small helpers for the GC's tests: temp stores, keys, last-use times, captured output.

import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, utimesSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { Layout } from '@cairn/store'
import * as assert from 'uvu/assert'

const made: string[] = []

/** A fresh empty directory under the system temp dir, removed by `removeTempDirs`. */
export function tempDir(prefix = 'cairn-gc-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** Key number `index`: 32 hex characters, spread over shards. */
export function keyOf(index: number): string {
  return createHash('sha256').update(`gc key ${index}`).digest('hex').slice(0, 32)
}

/** Distinct bytes for `index`, `size` long (above 4096 the store keeps them in a content file). */
export function bytesOf(index: number, size: number): Buffer {
  const out = Buffer.alloc(size)
  out.writeUInt32BE(index >>> 0, 0)
  return out.fill(index & 0xff, 4)
}

/** Sets the last-use time of entry `key` (its record's mtime), as a hit at `timeMs` would. */
export function setLastUse(dir: string, key: string, timeMs: number): void {
  utimesSync(new Layout(dir).entryPath(key), timeMs / 1000, timeMs / 1000)
}

/** Asserts that `action` throws or rejects with a CairnError of `code`; returns the error. */
export async function rejectsWith(action: () => unknown, code: string): Promise<Error & { code: string }> {
  try {
    await action()
  } catch (error) {
    assert.is((error as { code?: string }).code, code, `expected ${code}, got: ${(error as Error).message}`)
    assert.is((error as Error).name, 'CairnError')
    return error as Error & { code: string }
  }
  assert.unreachable(`expected a rejection with ${code}`)
  throw new Error('unreachable')
}

/** A writable stream that keeps what is written, for gcMain's stdout and stderr. */
export function capture(): Writable & { text: () => string } {
  let text = ''
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk)
      callback()
    },
  })
  return Object.assign(stream, { text: () => text })
}

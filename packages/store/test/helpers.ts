// Small helpers shared by the store's tests: temp directories and keys.

import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'

const made: string[] = []

/** A fresh empty directory under the system temp dir, removed by `removeTempDirs`. */
export function tempDir(prefix = 'cairn-store-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** A random valid key (32 lowercase hex characters, like an xxh128 key). */
export function randomKey(): string {
  return randomBytes(16).toString('hex')
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

import { readFileSync, statSync } from 'node:fs'
import { dirname, join, sep } from 'node:path'
import type { Hasher } from '@cairn/hash'

const digests = new Map<string, { stamp: string; digest: string | null }>()

/**
 * The digest of a file's contents, or null if it does not exist. Cached by size and mtime so a
 * config file read for every transformed file is read once per process (as Babel does); a
 * change made during a watch run changes the mtime and is read again.
 */
export function fileDigest(hasher: Hasher, path: string): string | null {
  let stamp: string
  try {
    const stats = statSync(path)
    stamp = `${stats.size}:${stats.mtimeMs}:${stats.ino}`
  } catch {
    return null
  }
  const known = digests.get(path)
  if (known?.stamp === stamp) return known.digest
  let digest: string | null
  try {
    digest = hasher.bytes(readFileSync(path))
  } catch {
    digest = null
  }
  digests.set(path, { stamp, digest })
  return digest
}

const packages = new Map<string, string | null>()

/**
 * `name@version` of the installed package that holds `file`, found in the nearest package.json
 * with both fields, or null if there is none. A package's version stands for its code: a
 * dependency is not edited in place.
 */
export function packageOf(file: string): string | null {
  let dir = dirname(file)
  const seen: string[] = []
  let found: string | null = null
  for (;;) {
    const cached = packages.get(dir)
    if (cached !== undefined) {
      found = cached
      break
    }
    seen.push(dir)
    const manifest = readManifest(join(dir, 'package.json'))
    if (manifest !== undefined) {
      found = manifest
      break
    }
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  for (const each of seen) packages.set(each, found)
  return found
}

function readManifest(path: string): string | undefined {
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown }
    if (typeof json.name === 'string' && typeof json.version === 'string')
      return `${json.name}@${json.version}`
  } catch {
    // No manifest here (or not one with a name and version): look further up.
  }
  return undefined
}

/** Whether `file` was installed by a package manager (its version then identifies it). */
export function isInstalled(file: string): boolean {
  return file.includes(`${sep}node_modules${sep}`)
}

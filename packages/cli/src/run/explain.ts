import type { CacheStore } from '@cairn/remote'
import { shortKey } from '../format.js'
import { parseAnyManifest, type RecordedKey } from './manifest.js'
import { runCommandOf, runCwdOf, runMetadata } from './run-metadata.js'

/** What `--explain` prints about the key it computed: one part per line. */
export function describeKey(key: string, root: string, parts: RecordedKey): string[] {
  const lines = [
    `key ${key}`,
    `  root: ${root}`,
    `  command: ${JSON.stringify(parts.command)}`,
    `  cwd: ${parts.cwd}`,
  ]
  for (const [path, digest] of parts.inputs) lines.push(`  input ${path} ${digest}`)
  for (const [name, digest] of Object.entries(parts.env)) lines.push(`  env ${name} ${digest ?? 'unset'}`)
  for (const output of parts.outputs) lines.push(`  output ${output}`)
  if (parts.keyExtra !== null) lines.push(`  key-extra: ${JSON.stringify(parts.keyExtra)}`)
  return lines
}

/** A run stored earlier that a miss is compared with. */
export interface PreviousRun {
  key: string
  time: Date
  parts: RecordedKey | undefined
}

/**
 * The last run stored of the same command line in the same working directory (relative to the
 * root), found by the metadata every run manifest carries; undefined if none. Another command's
 * run in that directory is not a fallback: its differences would explain nothing about this
 * step's miss. Only that one manifest is read (reading it counts as a use).
 */
export async function findPreviousRun(
  store: CacheStore,
  command: readonly string[],
  cwd: string,
): Promise<PreviousRun | undefined> {
  const line = runMetadata(command, cwd, 0, 0).command
  let best: { key: string; time: Date } | undefined
  for await (const info of store.entries()) {
    if (runCwdOf(info.metadata) !== cwd || runCommandOf(info.metadata) !== line) continue
    if (best === undefined || info.time.getTime() > best.time.getTime())
      best = { key: info.key, time: info.time }
  }
  if (best === undefined) return undefined
  const entry = await store.get(best.key)
  const parts = entry === undefined ? undefined : parseAnyManifest(entry.data)?.key
  return { ...best, parts }
}

/**
 * How the key parts `now` differ from an earlier run's, one line each: `changed: src/a.ts`,
 * `added: src/b.ts`, `removed: src/c.ts`, `env NODE_ENV changed`, ... Empty when every recorded
 * part is the same.
 */
export function keyDifferences(before: RecordedKey, now: RecordedKey): string[] {
  const lines: string[] = []
  if (JSON.stringify(before.command) !== JSON.stringify(now.command)) {
    lines.push(`command changed: ${JSON.stringify(before.command)} -> ${JSON.stringify(now.command)}`)
  }
  if (before.cwd !== now.cwd) lines.push(`cwd changed: ${before.cwd} -> ${now.cwd}`)
  const old = new Map(before.inputs)
  const fresh = new Map(now.inputs)
  const paths = [...new Set([...old.keys(), ...fresh.keys()])].sort()
  for (const path of paths) {
    const a = old.get(path)
    const b = fresh.get(path)
    if (a === undefined) lines.push(`added: ${path}`)
    else if (b === undefined) lines.push(`removed: ${path}`)
    else if (a !== b) lines.push(`changed: ${path}`)
  }
  const names = [...new Set([...Object.keys(before.env), ...Object.keys(now.env)])].sort()
  for (const name of names) {
    const inBefore = Object.hasOwn(before.env, name)
    const inNow = Object.hasOwn(now.env, name)
    if (!inBefore) lines.push(`env ${name} added`)
    else if (!inNow) lines.push(`env ${name} removed`)
    else if (before.env[name] !== now.env[name]) lines.push(`env ${name} changed`)
  }
  if (JSON.stringify(before.outputs) !== JSON.stringify(now.outputs)) {
    lines.push(`outputs changed: ${before.outputs.join(' ')} -> ${now.outputs.join(' ')}`)
  }
  if (before.keyExtra !== now.keyExtra) lines.push('key-extra changed')
  return lines
}

/** The lines `--explain` prints on a miss, after the key's parts. */
export function explainMiss(now: RecordedKey, previous: PreviousRun | undefined): string[] {
  if (previous === undefined) {
    return ['no earlier run of the same command in this directory is stored: nothing to compare with']
  }
  const head = `compared with the last stored run of the same command in this directory, ${shortKey(previous.key)} (${previous.time.toISOString()}):`
  if (previous.parts === undefined) return [head, 'that run did not record its key parts (an older cairn)']
  const lines = keyDifferences(previous.parts, now)
  return [head, ...(lines.length > 0 ? lines : ['no recorded part differs (the key format changed)'])]
}

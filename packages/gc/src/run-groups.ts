/**
 * Runs as groups: which entries a prune must keep or evict together. A `cairn run` manifest
 * (run-manifest.ts) names blob entries by their keys; the plan (plan.ts) then treats the
 * manifest and its blobs as one unit, ordered by the manifest's last use, and plans a blob only
 * through the runs that name it: it stays while any of them stays, and goes with the last.
 * prune.ts removes a run's manifest before its blobs, and keeps every blob of a manifest it could
 * not remove (a hit used it meanwhile), so no prune leaves a manifest whose files are gone.
 */

import type { Layout } from '@cairn/store'
import { readRunMembers } from './run-manifest.js'
import type { ScanResult } from './scan.js'
import { ENTRY_VALID } from './table.js'

/**
 * How long a run whose blobs are not all there is left alone, ms: the scan reads shard by shard,
 * so a run stored during the scan may show its manifest but not a blob it wrote before. Older
 * than this, such a run cannot be restored (a hit would be a miss), so its manifest goes.
 */
export const BROKEN_RUN_GRACE_MS = 10 * 60 * 1000

/** The run groups of a scanned store, in compressed-row columns indexed by entry number. */
export interface RunGroups {
  /** Entry i's members (if it is a manifest) are members[memberStart[i] .. memberStart[i + 1]). */
  memberStart: Uint32Array
  members: Uint32Array
  /** Entry i's manifests (if it is a blob some run names) are manifests[manifestStart[i] .. +1). */
  manifestStart: Uint32Array
  manifests: Uint32Array
  /** 1 for a blob named by a whole run: planned only through its runs. */
  memberOnly: Uint8Array
  /** 1 for a manifest older than {@link BROKEN_RUN_GRACE_MS} whose blobs are not all whole. */
  broken: Uint8Array
  /** Whole runs found. */
  runs: number
}

/**
 * Reads every manifest the scan found (entries whose metadata marks them, `scan.manifests`) and
 * resolves the keys it names to entry numbers. A blob's key is its content digest, so its entry
 * is the one whose key equals its content's digest (see {@link blobEntries}).
 */
export function findRunGroups(
  layout: Layout,
  scan: ScanResult,
  digestLength: number,
  now: number,
): RunGroups {
  const { entries, contents } = scan
  const count = entries.count
  const selfEntry = blobEntries(scan)
  const lists = new Map<number, number[]>()
  const broken = new Uint8Array(count)
  let runs = 0
  for (const manifest of scan.manifests) {
    if (entries.state[manifest] !== ENTRY_VALID) continue
    const members = readRunMembers(layout, entries.key(manifest), digestLength)
    if (members === undefined) continue
    const indices: number[] = []
    let whole = true
    for (const key of new Set([...members.files.map((file) => file.digest), ...members.logs])) {
      const content = contents.find(key)
      const entry = content === undefined ? -1 : (selfEntry[content] as number)
      if (entry < 0 || entries.state[entry] !== ENTRY_VALID) whole = false
      else if (entry !== manifest) indices.push(entry)
    }
    if (!whole && now - (entries.mtime[manifest] as number) > BROKEN_RUN_GRACE_MS) {
      broken[manifest] = 1
      continue
    }
    if (whole) runs += 1
    lists.set(manifest, indices)
  }
  const memberStart = new Uint32Array(count + 1)
  const manifestCounts = new Uint32Array(count + 1)
  let total = 0
  for (let index = 0; index < count; index++) {
    memberStart[index] = total
    const list = lists.get(index)
    if (list === undefined) continue
    total += list.length
    for (const member of list) manifestCounts[member] = (manifestCounts[member] as number) + 1
  }
  memberStart[count] = total
  const members = new Uint32Array(total)
  const manifestStart = new Uint32Array(count + 1)
  for (let index = 0, at = 0; index <= count; index++) {
    manifestStart[index] = at
    at += manifestCounts[index] as number
  }
  const manifests = new Uint32Array(total)
  const filled = new Uint32Array(count)
  const memberOnly = new Uint8Array(count)
  for (const [manifest, list] of lists) {
    let at = memberStart[manifest] as number
    for (const member of list) {
      members[at++] = member
      manifests[(manifestStart[member] as number) + (filled[member] as number)] = manifest
      filled[member] = (filled[member] as number) + 1
      memberOnly[member] = 1
    }
  }
  return { memberStart, members, manifestStart, manifests, memberOnly, broken, runs }
}

/**
 * Per content number, the entry whose key is that content's digest (a blob), or -1: how a key
 * a manifest names is found among the scanned entries without a map of every key.
 */
function blobEntries(scan: ScanResult): Int32Array {
  const { entries, contents } = scan
  const self = new Int32Array(contents.count).fill(-1)
  if (scan.manifests.length === 0) return self
  for (let index = 0; index < entries.count; index++) {
    const content = entries.content[index] as number
    if (content < 0 || entries.state[index] !== ENTRY_VALID) continue
    if (entries.key(index) === contents.digest(content)) self[content] = index
  }
  return self
}

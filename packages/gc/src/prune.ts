/**
 * `prune`: the whole GC run. In order, each step for a reason:
 *
 *   1. check the policy and that `dir` is a store (before anything is written);
 *   2. `interval`: read gc.stamp and skip if the last prune is recent, unless a budget is
 *      exceeded by more than 10%: what that prune kept plus the growth of a sample of shards
 *      since then (estimate.ts; a restored CI cache brings an old stamp back);
 *   3. take gc.lock, or report busy (a dry run writes nothing: it only checks that no live GC
 *      holds the lock, and reports busy as a real run would);
 *   4. scan (scan.ts), then plan (plan.ts, pure);
 *   5. remove the planned entries' records, each re-checked just before (remove.ts), and corrupt
 *      entries through the store's own reader, which judges and cleans them as a get would;
 *   6. sweep content no surviving entry refers to, through the store's handshake (sweep.ts),
 *      with a cutoff of the scan's start less {@link contentGrace} (10 s at most);
 *   7. remove temp debris older than `tempGrace`;
 *   8. read a sample of shards and write it into gc.stamp with the kept totals, release the lock.
 *
 * Records go before content, so a reader sees a whole entry or none: one that opened the record
 * before it went reads its content (still there: it is swept only after, and on POSIX an open
 * file stays readable), one that did not gets a miss.
 */

import { statfsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { createHasher, DIGEST_LENGTH } from '@cairn/hash'
import { CairnError, Layout } from '@cairn/store'
import {
  assessStore,
  COPY_MODE_GRACE_MS,
  errnoOf,
  foreignOwnerError,
  guardFor,
  ioError,
  lstat,
  type Marker,
  readEntry,
  readMarker,
  runSync,
  type StoreContext,
  type StoreGuard,
  stat,
} from '@cairn/store/protocol'
import { filesystemNow } from './clock.js'
import { runEach } from './drive.js'
import { growthSince, takeBaseline } from './estimate.js'
import { acquireLock, isLockHeld, lockContext, releaseLock } from './lock.js'
import { planPrune } from './plan.js'
import { type CheckedPolicy, checkPolicy, hasBudget, type Policy } from './policy.js'
import { type RemoveOutcome, removeContentIfUnused, removeDebris, removeEntryIfUnused } from './remove.js'
import { findRunGroups } from './run-groups.js'
import { FOREIGN_LISTED, type Foreign, type ScanResult, scanStore } from './scan.js'
import { INDEX_RACY_MS, writeScanIndex } from './scan-index.js'
import { readStamp, type Stamp, writeStamp } from './stamp.js'
import { ENTRY_CORRUPT, ENTRY_VALID, FILE_OTHER, FILE_REGULAR } from './table.js'

/** Entries and the content bytes they refer to, each content counted once. */
export interface Tally {
  entries: number
  /**
   * Bytes on disk: content files at their size (a compressed one at its compressed size) and
   * inline content at its size. What byte budgets count. {@link PruneReport.logicalBytes} has
   * the same contents' uncompressed sizes.
   */
  bytes: number
}

/** Uncompressed content bytes of each tally of a {@link PruneReport}. */
export interface LogicalBytes {
  scanned: number
  removed: number
  kept: number
}

/** What {@link prune} did (or, with `dryRun`, would do). */
export interface PruneReport {
  /** True when nothing was scanned or removed; `reason` says why. */
  skipped: boolean
  /** `interval`: the last completed prune is more recent than `policy.interval`. `busy`: another GC holds the lock. */
  reason?: 'interval' | 'busy'
  dryRun: boolean
  /** Wall time of the whole call, ms. */
  durationMs: number
  /**
   * Whole entries found, and the content bytes they refer to: entry sizes, each content
   * counted once however many entries share it; never disk blocks.
   */
  scanned: Tally
  /**
   * Entries removed, and the content bytes that removing them freed: the sizes of the contents
   * the removed entries referred to and no remaining entry does (each counted once), which are
   * gone from the disk when the prune returns (inline content goes with its record, a content
   * file in the sweep), except content written less than {@link contentGrace} before the scan,
   * which the next prune deletes. Content a writer reused during the prune (the handshake kept
   * it), or that a reader held open on Windows, is not counted. A dry run counts what a real
   * run would.
   */
  removed: Tally
  /** Entries that remain (including any used while the prune ran), and their content bytes. */
  kept: Tally
  /** Files removed from `tmp/`: debris of crashed writers, older than `tempGrace`. */
  temp: { removed: number }
  /** Entries removed because a reader would find them corrupt (torn record, missing content, ...). */
  corrupt: { removed: number }
  /**
   * Content files deleted because no entry refers to them: those of removed entries and orphans
   * (left by crashed writers, or young at an earlier prune), once older than {@link contentGrace}.
   * `bytes` is their file sizes.
   */
  content: { removed: number; bytes: number }
  /** Names the store format does not define, found and left alone; `paths` lists the first 20. */
  foreign: Foreign
  /**
   * The uncompressed sizes of the contents counted in `scanned.bytes`, `removed.bytes` and
   * `kept.bytes` (which are bytes on disk): equal to them in a store without compression; the
   * ratio of the two is what compression saves.
   */
  logicalBytes: LogicalBytes
  /** Time spent in each phase, ms. */
  phases: { scan: number; remove: number; sweep: number; temp: number }
  /**
   * The scan index (scan-index.ts): entry records the scan read (the rest it took from the
   * index), and the size of the `gc.index` this prune wrote (0: none, as in a dry run).
   */
  index: { recordsRead: number; bytes: number }
}

/**
 * How old unreferenced content must be before the sweep deletes it, ms: `tempGrace`, but at most
 * COPY_MODE_GRACE_MS (10 s). The content handshake (docs/DESIGN.md, "The GC handshake") keeps
 * content safe with a cutoff as late as the scan's start: a writer touches its content after
 * publishing the entry and republishes it if the touch finds it gone, and the sweep links back
 * content whose mtime changed since the scan (packages/model checks every interleaving). The
 * 10 s are for copy-mode stores (no hard links), whose writers publish content by copying it
 * in place. So the content of removed entries is freed by the same prune, not an hour later.
 */
export function contentGrace(tempGrace: number): number {
  return Math.min(tempGrace, COPY_MODE_GRACE_MS)
}

/** Options of {@link prune} that are not about what to keep. */
export interface PruneOptions {
  /**
   * Lets a root process prune a store whose directory another user owns. Default false: such a
   * prune throws ERR_CAIRN_FOREIGN_OWNER (a dry run is allowed), because that user could
   * redirect root's deletions with a symlink (Git's rule since CVE-2022-24765). Set it only if
   * you trust every user who can write the store. `cairn-gc --allow-foreign-owner` and
   * CAIRN_ALLOW_FOREIGN_OWNER=1 set it.
   */
  allowForeignOwner?: boolean
}

/** A budget must be exceeded by this factor for a prune to ignore a recent stamp. */
const OVER_BUDGET_FACTOR = 1.1

/**
 * Prunes the store in `dir` to `policy`: least recently used entries first, see
 * {@link Policy}. Safe while builds read and write the store, and beside another prune or
 * `store.delete` (see docs/DESIGN.md, "GC"). Builds never wait for it.
 *
 * In a store that other users can write, every removal, the lock and the stamp first check that
 * the directories on their way are still the store's real directories (safety.ts in
 * @cairn/store); a directory swapped for a symlink is left alone and reported in `foreign`.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_POLICY (before touching the disk), ERR_CAIRN_NOT_A_STORE
 *   (no store at `dir`), ERR_CAIRN_FORMAT (unreadable or newer marker), ERR_CAIRN_FOREIGN_OWNER
 *   (root, another user's store, no `allowForeignOwner`), ERR_CAIRN_UNSAFE_PATH (the store
 *   directory itself was swapped during the prune), ERR_CAIRN_IO (a failure that is not a race:
 *   permissions, a full disk). A failed prune writes no stamp.
 */
export async function prune(dir: string, policy: Policy, options: PruneOptions = {}): Promise<PruneReport> {
  const checked = checkPolicy(policy)
  if (typeof dir !== 'string' || dir === '') {
    throw new CairnError(
      'ERR_CAIRN_INVALID_OPTION',
      `prune needs a store directory path, got ${JSON.stringify(dir)}.`,
    )
  }
  const clock = checked.now
  const started = performance.now()
  const now = clock()
  const layout = new Layout(dir)
  const marker = openExisting(layout)
  const safety = assessStore(layout)
  if (safety?.foreignOwner !== undefined && options.allowForeignOwner !== true && !checked.dryRun)
    throw foreignOwnerError(layout.dir, safety.foreignOwner, 'prune')
  const guard = safety && guardFor(safety)
  const report = emptyReport(checked.dryRun)
  const finish = (): PruneReport => {
    report.durationMs = Math.round(performance.now() - started)
    return report
  }

  const stamp = checked.interval === undefined ? undefined : runSync(readStamp(layout))
  if (stamp !== undefined && isRecent(stamp.lastPrune, now, checked.interval as number)) {
    if (!isOverBudget(layout, DIGEST_LENGTH[marker.algorithm], checked, stamp)) {
      report.skipped = true
      report.reason = 'interval'
      return finish()
    }
  }

  // The lock is between processes, so it keeps real time even when a test sets `policy.now`;
  // its ages are judged by the filesystem's clock (clock.ts), which a real run reads here. A dry
  // run writes nothing, so it takes no lock and reads no filesystem clock, but reports busy when
  // a real run would.
  const fsNow = checked.dryRun ? Date.now() : runSync(filesystemNow({ layout, guard }))
  const lock = lockContext(layout, Date.now(), fsNow, guard)
  const owner = checked.dryRun ? (runSync(isLockHeld(lock)) ? 'busy' : undefined) : runSync(acquireLock(lock))
  if (owner === 'busy') {
    report.skipped = true
    report.reason = 'busy'
    return finish()
  }
  try {
    // Made only now: loading the hasher costs more than the whole skipped path above.
    const ctx = await storeContext(layout, marker, guard)
    await run(ctx, checked, report)
    if (owner !== undefined) {
      const baseline = runSync(takeBaseline(layout, ctx.digestLength), clock)
      const measured = { kept: { ...report.kept }, baseline }
      runSync(writeStamp(ctx, { lastPrune: clock(), measured }), clock)
    }
  } finally {
    if (owner !== undefined) runSync(releaseLock(layout, owner, guard))
  }
  if (guard !== undefined) reportSwapped(layout, guard, report.foreign)
  return finish()
}

/** Steps 4 to 7: scan, plan, remove, sweep, temp. Fills `report`. */
async function run(ctx: StoreContext, policy: CheckedPolicy, report: PruneReport): Promise<void> {
  const { dryRun, concurrency, onProgress, now: clock } = policy
  // Taken just before the scan reads anything: a file it sees with an mtime before this existed
  // before the scan started. Strict `<` below: an mtime equal to a cutoff stays. Read from the
  // store's filesystem (clock.ts), since every cutoff is compared with file times: a GC whose
  // clock runs ahead would otherwise take content confirmed during the scan for older than it.
  const now = dryRun || policy.nowGiven ? clock() : runSync(filesystemNow(ctx), clock)
  const tempCutoff = now - policy.tempGrace
  const contentCutoff = now - contentGrace(policy.tempGrace)
  // Records younger than this by the filesystem's clock are not put in the scan index
  // (scan-index.ts, "racily clean"); a test's `policy.now` is no clock for that.
  const indexCutoff = dryRun
    ? 0
    : (policy.nowGiven ? runSync(filesystemNow(ctx), clock) : now) - INDEX_RACY_MS
  let mark = performance.now()
  const lap = (): number => {
    const next = performance.now()
    const ms = Math.round(next - mark)
    mark = next
    return ms
  }

  const scan = await scanStore(ctx.layout, {
    digestLength: ctx.digestLength,
    publishMode: ctx.publishMode,
    now,
    tempCutoff,
    onShard: (done) => onProgress?.({ phase: 'scan', done }),
  })
  report.foreign = scan.foreign
  report.index.recordsRead = scan.recordsRead
  const { entries, contents } = scan
  // Runs are kept or evicted whole (run-groups.ts); a run that can no longer be restored is not
  // planned at all, so its manifest goes.
  const groups = findRunGroups(ctx.layout, scan, ctx.digestLength, now)
  const planned = new Int32Array(entries.count)
  for (let index = 0; index < entries.count; index++) {
    const valid = entries.state[index] === ENTRY_VALID && groups.broken[index] === 0
    planned[index] = valid ? (entries.content[index] as number) : -1
  }
  const plan = planPrune(
    {
      count: entries.count,
      lastUse: entries.mtime,
      content: planned,
      // Byte budgets count what the disk holds: compressed content by its compressed size.
      contentSize: contents.stored,
      contentCount: contents.count,
      groups,
    },
    {
      maxBytes: policy.maxBytes,
      maxEntries: policy.maxEntries,
      maxAge: policy.maxAge,
      maxDiskPercent: policy.maxDiskPercent,
      diskAvailable: policy.maxDiskPercent === undefined ? undefined : availableBytes(ctx.layout.dir),
      now,
    },
  )
  report.phases.scan = lap()

  // Which entries remain after this prune; their contents must stay. Starts as the plan says.
  const remains = new Uint8Array(entries.count).fill(1)
  const victims = select(
    entries.count,
    (index) => entries.state[index] === ENTRY_VALID && plan.keep[index] === 0,
  )
  const corrupt = select(entries.count, (index) => entries.state[index] === ENTRY_CORRUPT)
  const total = victims.length + corrupt.length
  if (dryRun) {
    for (const index of victims) remains[index] = 0
    for (const index of corrupt) remains[index] = 0
    report.corrupt.removed = corrupt.length
  } else {
    // Manifests first, then the entries they name, and only those every naming manifest of
    // which is gone: a manifest a hit used meanwhile stays, and so do its files. So a reader
    // never finds a manifest whose files are gone (at worst files whose manifest is gone).
    const isManifest = (index: number) =>
      groups.broken[index] === 1 ||
      (groups.memberStart[index + 1] as number) > (groups.memberStart[index] as number)
    const remove = (index: number) =>
      removeEntryIfUnused(ctx, entries.key(index), {
        mtimeMs: entries.mtime[index] as number,
        ino: entries.ino[index] as number,
      })
    const removed = (index: number, outcome: RemoveOutcome) => {
      if (outcome !== 'used') remains[index] = 0
    }
    const manifestVictims = victims.filter(isManifest)
    await runEach(manifestVictims, remove, removed, {
      concurrency,
      clock,
      progress: (done) => onProgress?.({ phase: 'remove', done, total }),
    })
    const namedByRemaining = (index: number) => {
      const end = groups.manifestStart[index + 1] as number
      for (let at = groups.manifestStart[index] as number; at < end; at++) {
        if (remains[groups.manifests[at] as number] === 1) return true
      }
      return false
    }
    const rest = victims.filter((index) => !isManifest(index) && !namedByRemaining(index))
    await runEach(rest, remove, removed, {
      concurrency,
      clock,
      progress: (done) => onProgress?.({ phase: 'remove', done: manifestVictims.length + done, total }),
    })
    // The store's reader judges each again now (a writer may have repaired it since the scan)
    // and removes what is still corrupt, exactly as a get would.
    await runEach(
      corrupt,
      (index) => readEntry(ctx, entries.key(index), 'info'),
      (index, outcome) => {
        if (outcome.found) return
        remains[index] = outcome.reason === 'absent' ? 0 : Number(entryStillThere(ctx, entries.key(index)))
        if (remains[index] === 0) report.corrupt.removed += 1
      },
      {
        concurrency,
        clock,
        progress: (done) => onProgress?.({ phase: 'remove', done: victims.length + done, total }),
      },
    )
  }
  const contentOf = tallyEntries(scan, remains, report)
  report.phases.remove = lap()

  await sweepContent(ctx, scan, contentOf, contentCutoff, policy, report)
  report.phases.sweep = lap()

  await removeTemp(ctx, scan, tempCutoff, policy, report)
  report.phases.temp = lap()

  // Written last, and only by a real prune (it holds gc.lock; a dry run writes nothing): the
  // rows of the entries that remain, so the next scan reads only what changed since this one.
  if (!dryRun) {
    const manifest = new Uint8Array(entries.count)
    for (const index of scan.manifests) manifest[index] = 1
    const bytes = runSync(
      writeScanIndex(ctx, {
        entries,
        digestInto: (id, target, offset) => contents.digestInto(id, target, offset),
        digestBytes: ctx.digestLength / 2,
        manifest,
        include: remains,
        ctimeCutoff: indexCutoff,
      }),
      clock,
    )
    report.index.bytes = bytes ?? 0
  }
}

/** Per content id, from {@link tallyEntries}: which contents stay, and which were freed. */
interface ContentUse {
  /** 1 when a remaining entry (whatever its state) refers to it: it stays. */
  referenced: Uint8Array
  /** 1 when it is counted in `removed.bytes`: a removed entry referred to it, none remaining does. */
  freed: Uint8Array
}

/**
 * Counts scanned, removed and kept from what remains, each content's bytes once per side; and
 * which contents the remaining entries still refer to, for the sweep.
 */
function tallyEntries(scan: ScanResult, remains: Uint8Array, report: PruneReport): ContentUse {
  const { entries, contents } = scan
  const seen = new Uint8Array(contents.count)
  const keptContent = new Uint8Array(contents.count)
  const referenced = new Uint8Array(contents.count)
  for (let index = 0; index < entries.count; index++) {
    const id = entries.content[index] as number
    if (id >= 0 && remains[index] === 1) referenced[id] = 1
  }
  const freed = new Uint8Array(contents.count)
  for (let index = 0; index < entries.count; index++) {
    if (entries.state[index] !== ENTRY_VALID) continue
    const id = entries.content[index] as number
    const size = contents.size[id] as number
    const stored = contents.stored[id] as number
    report.scanned.entries += 1
    if (seen[id] === 0) {
      seen[id] = 1
      report.scanned.bytes += stored
      report.logicalBytes.scanned += size
    }
    if (remains[index] === 1) {
      report.kept.entries += 1
      if (keptContent[id] === 0) {
        keptContent[id] = 1
        report.kept.bytes += stored
        report.logicalBytes.kept += size
      }
    } else if (referenced[id] === 0 && freed[id] === 0) {
      freed[id] = 1
      report.removed.bytes += stored
      report.logicalBytes.removed += size
    }
  }
  report.removed.entries = report.scanned.entries - report.kept.entries
  return { referenced, freed }
}

/**
 * Step 6: content files that no remaining entry refers to (whatever its state: a young or
 * unremovable entry keeps its content too) and whose mtime is before `cutoff` (the scan's start
 * less {@link contentGrace}) go through the store's handshake, which keeps any a writer
 * confirmed since the scan; such a content is then taken out of `removed.bytes` again.
 */
async function sweepContent(
  ctx: StoreContext,
  scan: ScanResult,
  { referenced, freed }: ContentUse,
  cutoff: number,
  policy: CheckedPolicy,
  report: PruneReport,
): Promise<void> {
  const { contents } = scan
  const unused = select(contents.count, (id) => {
    const kind = contents.fileKind[id]
    return (
      referenced[id] === 0 &&
      (kind === FILE_REGULAR || kind === FILE_OTHER) &&
      (contents.fileMtime[id] as number) < cutoff
    )
  })
  const count = (id: number) => {
    report.content.removed += 1
    if (contents.fileKind[id] === FILE_REGULAR) report.content.bytes += contents.fileSize[id] as number
  }
  if (policy.dryRun) {
    for (const id of unused) count(id)
    return
  }
  await runEach(
    unused,
    (id) => removeContentIfUnused(ctx, contents.digest(id), contents.fileMtime[id] as number, cutoff),
    (id, outcome) => {
      if (outcome === 'removed') count(id)
      else if (outcome === 'kept' && freed[id] === 1) {
        report.removed.bytes -= contents.stored[id] as number
        report.logicalBytes.removed -= contents.size[id] as number
      }
    },
    {
      concurrency: policy.concurrency,
      clock: policy.now,
      progress: (done) => policy.onProgress?.({ phase: 'sweep', done, total: unused.length }),
    },
  )
}

/** Step 7: everything in tmp/ is Cairn's own; what is older than the grace is debris. */
async function removeTemp(
  ctx: StoreContext,
  scan: ScanResult,
  cutoff: number,
  policy: CheckedPolicy,
  report: PruneReport,
): Promise<void> {
  const { debris } = scan
  if (policy.dryRun) {
    report.temp.removed = debris.length
    return
  }
  const { dir } = ctx.layout
  await runEach(
    Uint32Array.from(debris.keys()),
    (at) => removeDebris(ctx, join(dir, (debris[at] as { path: string }).path), cutoff),
    (_, outcome) => {
      if (outcome === 'removed' || outcome === 'gone') report.temp.removed += 1
    },
    {
      concurrency: policy.concurrency,
      clock: policy.now,
      progress: (done) => policy.onProgress?.({ phase: 'temp', done, total: debris.length }),
    },
  )
}

/** The store's marker; ERR_CAIRN_NOT_A_STORE when `dir` is missing or holds no store. */
function openExisting(layout: Layout): Marker {
  try {
    const info = runSync(stat(layout.dir))
    if (info.kind !== 'directory') throw notAStore(layout, 'it is not a directory')
  } catch (error) {
    if (error instanceof CairnError) throw error
    const code = errnoOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notAStore(layout, 'it does not exist')
    throw ioError(error, 'opening the store', layout.dir)
  }
  const marker = runSync(readMarker(layout))
  if (marker === undefined) throw notAStore(layout, 'it has no cairn-store.json marker')
  return marker
}

function notAStore(layout: Layout, why: string): CairnError {
  return new CairnError(
    'ERR_CAIRN_NOT_A_STORE',
    `${layout.dir} is not a Cairn store: ${why}. The GC prunes only stores, so a mistyped path never loses files: check the path.`,
    { path: layout.dir },
  )
}

/** Directories the guard found swapped during the prune: foreign, left alone. */
function reportSwapped(layout: Layout, guard: StoreGuard, foreign: Foreign): void {
  for (const path of guard.swapped) {
    const name = relative(layout.dir, path) || '.'
    if (foreign.paths.includes(name)) continue
    foreign.count += 1
    if (foreign.paths.length < FOREIGN_LISTED) foreign.paths.push(name)
  }
}

/** What the store's own protocols need; the GC never reads content, so the hasher is unused. */
async function storeContext(
  layout: Layout,
  marker: Marker,
  guard: StoreGuard | undefined,
): Promise<StoreContext> {
  return {
    guard,
    layout,
    hasher: await createHasher({ algorithm: marker.algorithm }),
    digestLength: DIGEST_LENGTH[marker.algorithm],
    verify: 'size',
    touchInterval: 0,
    durable: false,
    publishMode: marker.publish,
    platform: process.platform,
    stats: { hits: 0, misses: 0, puts: 0, published: 0, corrupt: 0 },
  }
}

/** A stamp in the future (a skewed clock, or one restored from elsewhere) does not count as recent. */
function isRecent(lastPrune: number | undefined, now: number, interval: number): boolean {
  return lastPrune !== undefined && lastPrune <= now && now - lastPrune < interval
}

/**
 * Whether the store exceeds a size or count budget by more than 10%: what lets budgets hold even
 * when a stamp (perhaps restored from a CI cache) says a prune just ran. The store's size is the
 * stamp's kept totals plus the growth of its sampled shards since (estimate.ts), so a store the
 * last prune brought within budget stays within it until something is added. A stamp without
 * those figures (an older version's) cannot tell, so a budget makes the prune run.
 */
function isOverBudget(layout: Layout, digestLength: number, policy: CheckedPolicy, stamp: Stamp): boolean {
  if (!hasBudget(policy)) return false
  if (stamp.measured === undefined) return true
  const { kept, baseline } = stamp.measured
  const needBytes = policy.maxBytes !== undefined || policy.maxDiskPercent !== undefined
  const growth = runSync(growthSince(layout, digestLength, baseline, needBytes), policy.now)
  const entries = kept.entries + growth.entries
  if (policy.maxEntries !== undefined && entries > policy.maxEntries * OVER_BUDGET_FACTOR) return true
  if (!needBytes) return false
  const bytes = kept.bytes + growth.bytes
  let byteBudget = policy.maxBytes
  if (policy.maxDiskPercent !== undefined) {
    const share = ((bytes + availableBytes(layout.dir)) * policy.maxDiskPercent) / 100
    byteBudget = byteBudget === undefined ? share : Math.min(byteBudget, share)
  }
  return byteBudget !== undefined && bytes > byteBudget * OVER_BUDGET_FACTOR
}

/** Bytes available to this user on the store's filesystem, for maxDiskPercent. */
function availableBytes(dir: string): number {
  try {
    const info = statfsSync(dir)
    return Number(info.bavail) * Number(info.bsize)
  } catch (error) {
    throw ioError(error, 'measuring free space for maxDiskPercent on', dir)
  }
}

function entryStillThere(ctx: StoreContext, key: string): boolean {
  try {
    runSync(lstat(ctx.layout.entryPath(key)))
    return true
  } catch {
    return false
  }
}

/** The numbers below `count` that `test` accepts, in a typed array (4 bytes each at 1M entries). */
function select(count: number, test: (index: number) => boolean): Uint32Array {
  let found = 0
  for (let index = 0; index < count; index++) if (test(index)) found += 1
  const out = new Uint32Array(found)
  let at = 0
  for (let index = 0; index < count; index++) if (test(index)) out[at++] = index
  return out
}

function emptyReport(dryRun: boolean): PruneReport {
  return {
    skipped: false,
    dryRun,
    durationMs: 0,
    scanned: { entries: 0, bytes: 0 },
    removed: { entries: 0, bytes: 0 },
    kept: { entries: 0, bytes: 0 },
    logicalBytes: { scanned: 0, removed: 0, kept: 0 },
    temp: { removed: 0 },
    corrupt: { removed: 0 },
    content: { removed: 0, bytes: 0 },
    foreign: { count: 0, paths: [] },
    phases: { scan: 0, remove: 0, sweep: 0, temp: 0 },
    index: { recordsRead: 0, bytes: 0 },
  }
}

/**
 * What a prune keeps: the {@link Policy} fields, their checks, and the two text forms of a policy
 * (LLVM's cache policy strings, and the sizes and durations the CLI reads).
 *
 * Zero means zero in every field (`maxBytes: 0` keeps nothing, `interval: 0` never skips); a
 * field that is absent sets no limit. LLVM's strings use 0 to mean "no limit" for some keys, so
 * {@link parsePolicy} translates those zeros into absent fields.
 */

import { CairnError } from '@cairn/store'

/** Progress of a prune, reported by {@link Policy.onProgress}. */
export interface Progress {
  /** `scan` (files examined), `remove` (entries), `sweep` (unreferenced content), `temp` (debris). */
  phase: 'scan' | 'remove' | 'sweep' | 'temp'
  done: number
  /** How many there are in this phase, when known (not during the scan). */
  total?: number
}

/** How a prune decides what goes. Every field is optional; an absent limit does not apply. */
export interface Policy {
  /**
   * Content bytes to keep at most: the sum of the sizes of the contents the kept entries refer
   * to, each content counted once however many entries share it (never disk blocks). 0 keeps
   * nothing.
   */
  maxBytes?: number
  /** Entries to keep at most. 0 keeps nothing. */
  maxEntries?: number
  /**
   * Ms since an entry's last use (its record's mtime, which the store refreshes on hits) after
   * which it goes, whatever the budgets say.
   */
  maxAge?: number
  /**
   * Percent, in (0, 100]: keep the store's content bytes under this share of (store content
   * bytes + space available on its filesystem), as LLVM's `cache_size=N%`. Applies with
   * {@link maxBytes} when both are set: the smaller budget wins.
   */
  maxDiskPercent?: number
  /**
   * Ms. Skip (report `skipped: true, reason: 'interval'`) when the last completed prune, as
   * recorded in `gc.stamp` at the store root, is more recent than this, unless a size or count
   * budget is exceeded by more than 10%: the stamp holds what that prune kept, and the growth
   * since is measured on a sample of shards. Default: no interval, every call prunes.
   */
  interval?: number
  /**
   * Ms. Files in `tmp/` older than this are debris from crashed writers and are removed. Must
   * exceed the longest write. Default 3,600,000 (1 hour). Content that no entry references has a
   * shorter grace, `min(tempGrace, 10 s)` (COPY_MODE_GRACE_MS): it is deleted when its mtime is
   * before the scan's start less that (an mtime equal to the cutoff stays), so the content of
   * the entries a prune removes is freed by that prune. The store's content handshake makes this
   * safe beside writers (docs/DESIGN.md, "The GC handshake"); the 10 s let copy-mode stores,
   * which publish content by copying it, finish a copy.
   */
  tempGrace?: number
  /**
   * Report what would go, delete nothing, write nothing (no lock, no stamp). Default false. A dry
   * run reports what a real run would: it skips on `interval`, and reports `busy` while another
   * GC holds a live (not stale) lock, which it checks but never takes.
   */
  dryRun?: boolean
  /**
   * Filesystem operations in flight while removing files (p-limit, fed one shard at a time).
   * Default 64. 1 runs the removal with synchronous calls, which is fastest on a local disk
   * (bench/gc.mjs). The scan always uses synchronous calls, shard by shard (scan.ts says why).
   */
  concurrency?: number
  /** Called after each shard of the scan and each batch of 1,024 removals; keep it cheap. */
  onProgress?: (progress: Progress) => void
  /**
   * The clock, in ms since the epoch. For tests: it replaces both this process's clock (the
   * interval and `gc.stamp`) and the store filesystem's clock, from which a prune otherwise reads
   * every cutoff it compares with file times (content and temp grace, `maxAge`: the mtime of a
   * file it creates in `tmp/`, so that a process clock running ahead of an NFS server's cannot
   * make fresh files look old). Default: Date.now and the filesystem's clock.
   */
  now?: () => number
}

/** A policy after {@link checkPolicy}: defaults filled in. */
export interface CheckedPolicy {
  maxBytes: number | undefined
  maxEntries: number | undefined
  maxAge: number | undefined
  maxDiskPercent: number | undefined
  interval: number | undefined
  tempGrace: number
  dryRun: boolean
  concurrency: number
  onProgress: ((progress: Progress) => void) | undefined
  now: () => number
  /** Whether `now` was given: then it is the filesystem's clock too (tests). */
  nowGiven: boolean
}

/** Default {@link Policy.tempGrace}: writes that take longer than an hour are not expected. */
export const DEFAULT_TEMP_GRACE_MS = 3_600_000

/** Default {@link Policy.concurrency}. */
export const DEFAULT_CONCURRENCY = 64

const POLICY_FIELDS: ReadonlySet<string> = new Set([
  'maxBytes',
  'maxEntries',
  'maxAge',
  'maxDiskPercent',
  'interval',
  'tempGrace',
  'dryRun',
  'concurrency',
  'onProgress',
  'now',
])

/**
 * Checks a policy object at the edge, before anything touches the disk, and fills in defaults.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_POLICY quoting the bad field and value.
 */
export function checkPolicy(policy: unknown): CheckedPolicy {
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    throw invalid(`A prune policy must be an object, got ${describe(policy)}.`)
  }
  for (const name of Object.keys(policy)) {
    if (!POLICY_FIELDS.has(name)) {
      throw invalid(
        `Unknown prune policy field ${JSON.stringify(name)}; expected one of ${[...POLICY_FIELDS].join(', ')}.`,
      )
    }
  }
  const given = policy as Record<string, unknown>
  const amount = (name: string, integer: boolean): number | undefined => {
    const value = given[name]
    if (value === undefined) return undefined
    if (
      typeof value !== 'number' ||
      Number.isNaN(value) ||
      value < 0 ||
      (integer && !isWholeOrInfinite(value))
    ) {
      throw invalid(
        `Prune policy ${name} is ${describe(value)}; expected ${integer ? 'a whole number' : 'a number'}, 0 or more.`,
      )
    }
    return value
  }
  const maxDiskPercent = amount('maxDiskPercent', false)
  if (maxDiskPercent !== undefined && !(maxDiskPercent > 0 && maxDiskPercent <= 100)) {
    throw invalid(
      `Prune policy maxDiskPercent is ${maxDiskPercent}; expected a percentage above 0, at most 100.`,
    )
  }
  const concurrency = given.concurrency ?? DEFAULT_CONCURRENCY
  if (typeof concurrency !== 'number' || !Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw invalid(`Prune policy concurrency is ${describe(concurrency)}; expected a whole number, 1 or more.`)
  }
  const dryRun = given.dryRun ?? false
  if (typeof dryRun !== 'boolean')
    throw invalid(`Prune policy dryRun is ${describe(dryRun)}; expected true or false.`)
  const onProgress = given.onProgress
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalid(`Prune policy onProgress is ${describe(onProgress)}; expected a function.`)
  }
  const now = given.now ?? Date.now
  if (typeof now !== 'function') {
    throw invalid(`Prune policy now is ${describe(now)}; expected a function returning ms since the epoch.`)
  }
  return {
    maxBytes: amount('maxBytes', false),
    maxEntries: amount('maxEntries', true),
    maxAge: amount('maxAge', false),
    maxDiskPercent,
    interval: amount('interval', false),
    tempGrace: amount('tempGrace', false) ?? DEFAULT_TEMP_GRACE_MS,
    dryRun,
    concurrency,
    onProgress: onProgress as ((progress: Progress) => void) | undefined,
    now: now as () => number,
    nowGiven: given.now !== undefined,
  }
}

/** True when the policy sets a size or count budget (the ones `interval` may be overruled for). */
export function hasBudget(
  policy: Pick<CheckedPolicy, 'maxBytes' | 'maxEntries' | 'maxDiskPercent'>,
): boolean {
  return (
    policy.maxBytes !== undefined || policy.maxEntries !== undefined || policy.maxDiskPercent !== undefined
  )
}

/**
 * Parses an LLVM cache pruning policy (the string ThinLTO linkers take as `--thinlto-cache-policy`),
 * so an existing policy carries over, for example
 * `prune_interval=1h:prune_after=7d:cache_size=75%:cache_size_bytes=10g:cache_size_files=100000`.
 *
 * Keys, separated by `:`: `prune_interval` ({@link Policy.interval}), `prune_after`
 * ({@link Policy.maxAge}), `cache_size=N%` ({@link Policy.maxDiskPercent}, N a whole number from
 * 0 to 100), `cache_size_bytes` ({@link Policy.maxBytes}: a whole number, optionally followed by
 * `k`, `m` or `g`, which multiply by 1024, 1024² and 1024³; LLVM lower-cases that letter, so `K`,
 * `M` and `G` mean the same) and `cache_size_files` ({@link Policy.maxEntries}). Durations are a
 * whole number and `s`, `m` or `h` as in LLVM, or `d` (days). Values are read as strictly as
 * LLVM reads them: no fractions, no spaces, no other units (`1.5g`, `10gb`, `1w`, `500ms`, `7D`
 * are refused); the CLI's own flags take the friendlier forms of {@link parseSize} and
 * {@link parseDuration}. As in LLVM, 0 disables `prune_after`, `cache_size`, `cache_size_bytes`
 * and `cache_size_files`: the field is left out; a trailing `:` is accepted, an empty part
 * elsewhere is not. LLVM's defaults for keys not given (a 20-minute interval, a week's expiry,
 * 75% of the disk) are not applied: state them in the string. A later key overrides an earlier one.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_POLICY quoting the bad part and saying what was expected.
 */
export function parsePolicy(text: string): Policy {
  if (typeof text !== 'string') throw invalid(`A policy string was expected, got ${describe(text)}.`)
  const policy: Policy = {}
  const parts = text === '' ? [] : text.split(':')
  // LLVM stops at the end of the string, so "a=1:" is one part; "a=1::b=2" has an empty key.
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop()
  for (const part of parts) {
    const equals = part.indexOf('=')
    if (equals < 0) {
      throw invalid(
        `Policy part ${JSON.stringify(part)} in ${JSON.stringify(text)} has no "=": expected key=value, e.g. prune_after=7d.`,
      )
    }
    const key = part.slice(0, equals)
    const value = part.slice(equals + 1)
    const bad = (expected: string) =>
      invalid(`Policy part ${JSON.stringify(part)} is invalid: ${key} takes ${expected}.`)
    switch (key) {
      case 'prune_interval':
        policy.interval = llvmDuration(value, bad)
        break
      case 'prune_after':
        setOrDelete(policy, 'maxAge', llvmDuration(value, bad))
        break
      case 'cache_size': {
        const match = /^(\d+)%$/.exec(value)
        const percent = match ? Number(match[1]) : Number.NaN
        if (!(percent >= 0 && percent <= 100)) throw bad('a whole percentage from 0% to 100%, e.g. 75%')
        setOrDelete(policy, 'maxDiskPercent', percent)
        break
      }
      case 'cache_size_bytes': {
        const match = /^(\d+)([kmg]?)$/i.exec(value)
        const bytes = match
          ? Number(match[1]) * (LLVM_SIZE_UNITS[(match[2] as string).toLowerCase()] ?? 1)
          : Number.NaN
        if (!Number.isSafeInteger(bytes)) {
          throw bad('a whole number of bytes, optionally followed by k, m or g (KiB, MiB, GiB), e.g. 10g')
        }
        setOrDelete(policy, 'maxBytes', bytes)
        break
      }
      case 'cache_size_files': {
        const files = /^\d+$/.test(value) ? Number(value) : Number.NaN
        if (!Number.isSafeInteger(files)) throw bad('a whole number of entries, e.g. 100000')
        setOrDelete(policy, 'maxEntries', files)
        break
      }
      default:
        throw invalid(
          `Policy part ${JSON.stringify(part)} has an unknown key ${JSON.stringify(key)}: expected prune_interval, prune_after, cache_size, cache_size_bytes or cache_size_files.`,
        )
    }
  }
  return policy
}

/** LLVM's "0 disables": a zero leaves the field out. */
function setOrDelete(
  policy: Policy,
  field: 'maxAge' | 'maxDiskPercent' | 'maxBytes' | 'maxEntries',
  value: number,
) {
  if (value === 0) delete policy[field]
  else policy[field] = value
}

/** `cache_size_bytes` letters, as LLVM's parseCachePruningPolicy multiplies them. */
const LLVM_SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }

/** `s`, `m`, `h` as LLVM's parseDuration reads them (lower case only), and `d`. */
const LLVM_DURATION_UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/** An LLVM duration in ms: a whole number and one of s, m, h, d. */
function llvmDuration(value: string, bad: (expected: string) => CairnError): number {
  const match = /^(\d+)([smhd])$/.exec(value)
  const ms = match ? Number(match[1]) * (LLVM_DURATION_UNITS[match[2] as string] as number) : Number.NaN
  if (!Number.isSafeInteger(ms)) throw bad('a duration: a whole number and one of s, m, h or d, e.g. 12h')
  return ms
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
}

/**
 * Parses a duration into ms: a number and a unit, `ms`, `s`, `m` (minutes), `h`, `d` or `w`,
 * e.g. `90s`, `12h`, `1.5d`, `30d`. A bare `0` is accepted; any other number needs a unit,
 * since `30` alone could mean seconds or days.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_POLICY quoting the text.
 */
export function parseDuration(text: string): number {
  const match = typeof text === 'string' ? /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text) : null
  const unit = match?.[2]?.toLowerCase() ?? ''
  const number = Number(match?.[1])
  if (match && unit === '' && number === 0) return 0
  const scale = DURATION_UNITS[unit]
  if (!match || scale === undefined) {
    throw invalid(
      `Invalid duration ${describe(text)}: expected a number and a unit (ms, s, m, h, d or w), e.g. 90s, 12h, 30d.`,
    )
  }
  return Math.round(number * scale)
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  // Bare letters multiply by 1024, as LLVM's cache_size_bytes reads them.
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  // SI: kB, MB, GB, TB are powers of 1000, as disk vendors and `df -H` count.
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
  // IEC: KiB, MiB, GiB, TiB are powers of 1024.
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
}

/**
 * Parses a size into bytes (rounded down to a whole byte): a number and an optional unit, case
 * ignored. No unit or `B`: bytes. `kB`, `MB`, `GB`, `TB`: powers of 1000. `KiB`, `MiB`, `GiB`,
 * `TiB`: powers of 1024. `k`, `m`, `g`, `t` alone: powers of 1024, as LLVM reads them. For
 * example `500MB` is 500,000,000, `10GiB` is 10,737,418,240 and `1.5g` is 1,610,612,736.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_POLICY quoting the text.
 */
export function parseSize(text: string): number {
  const match = typeof text === 'string' ? /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text) : null
  const scale = SIZE_UNITS[match?.[2]?.toLowerCase() ?? '?']
  if (!match || scale === undefined) {
    throw invalid(
      `Invalid size ${describe(text)}: expected a number and an optional unit: B, kB/MB/GB/TB (×1000), KiB/MiB/GiB/TiB or k/m/g/t (×1024), e.g. 500MB, 10GiB, 1.5g.`,
    )
  }
  const bytes = Math.floor(Number(match[1]) * scale)
  if (!Number.isSafeInteger(bytes)) throw invalid(`Invalid size ${describe(text)}: it is too large.`)
  return bytes
}

function isWholeOrInfinite(value: number): boolean {
  return Number.isSafeInteger(value) || value === Number.POSITIVE_INFINITY
}

function invalid(message: string): CairnError {
  return new CairnError('ERR_CAIRN_INVALID_POLICY', message)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') return String(value)
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`
  return typeof value
}

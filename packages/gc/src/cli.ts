/**
 * `cairn-gc`, the command line: argv to a {@link prune} call, a summary line, an exit code.
 * {@link gcMain} is the whole command and never throws, so the `cairn` CLI runs `cairn gc ...`
 * by calling it, and tests call it in-process.
 */

import { parseArgs } from 'node:util'
import { CairnError } from '@cairn/store'
import { type Policy, type Progress, parseDuration, parsePolicy, parseSize } from './policy.js'
import { type PruneReport, prune } from './prune.js'

/** Where gcMain writes and what it reads of its environment; each defaults to the process's own. */
export interface GcIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  /**
   * Read for `CI` (no progress line when it is set, even on a terminal) and
   * `CAIRN_ALLOW_FOREIGN_OWNER` (`1`: as --allow-foreign-owner).
   */
  env: NodeJS.ProcessEnv
}

/** Exit codes: 0 pruned or skipped, 1 the prune failed, 2 bad usage. */
export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

export const USAGE = `Usage: cairn-gc <store-dir> [--max-size 10GB] [--max-entries N] [--max-age 30d] [--interval 1h]
                [--temp-grace 1h] [--policy STRING] [--dry-run] [--json] [--quiet]
                [--allow-foreign-owner]`

export const HELP = `${USAGE}

Prunes a Cairn store to a budget, least recently used entries first. Safe to run while builds
read and write the store; a second cairn-gc on the same store reports "skipped: busy".

Budgets (at least one of --max-size, --max-entries, --max-age, --policy):
  --max-size SIZE          keep at most SIZE of content: 500MB, 10GiB, 1.5g (k/m/g = ×1024)
  --max-entries N          keep at most N entries
  --max-age DURATION       remove entries unused for longer, whatever the budget: 90s, 12h, 30d
  --policy STRING          an LLVM cache pruning policy, e.g.
                           prune_interval=1h:prune_after=7d:cache_size=75%:cache_size_bytes=10g
                           (the flags above override its parts)
Options:
  --interval DURATION      skip if the last completed prune is more recent, unless the store is
                           over a size or count budget by more than 10%
  --temp-grace DURATION    temp files older than this are debris of crashed writers (default 1h)
  --concurrency N          file operations in flight while removing (default 64; 1 = synchronous)
  --dry-run                report what would be removed; remove nothing
  --json                   print the report as JSON on stdout, and nothing else there
  --quiet                  print nothing but errors
  --allow-foreign-owner    as root, prune a store another user owns (refused by default: that
                           user could redirect root's deletions; CAIRN_ALLOW_FOREIGN_OWNER=1)
  -h, --help               print this help

Exit status: 0 pruned (or skipped), 1 the prune failed, 2 bad usage.

Examples:
  cairn-gc ~/.cache/cairn --max-size 10GB --max-age 30d
  cairn-gc /var/cache/cairn --policy 'prune_after=14d:cache_size=75%' --dry-run
  crontab: 17 * * * *  cairn-gc /var/cache/cairn --max-size 20GB --max-age 14d --quiet
`

const OPTIONS = {
  'max-size': { type: 'string' },
  'max-entries': { type: 'string' },
  'max-age': { type: 'string' },
  interval: { type: 'string' },
  'temp-grace': { type: 'string' },
  policy: { type: 'string' },
  concurrency: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  'allow-foreign-owner': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Bad usage: exit 2 with the message and the usage line. */
class UsageError extends Error {}

interface Command {
  dir: string
  policy: Policy
  json: boolean
  quiet: boolean
  allowForeignOwner: boolean
}

/**
 * Runs the `cairn-gc` command line (`argv` without the node and script names) and resolves to
 * its exit code: 0 pruned or skipped, 1 failed (message on stderr), 2 bad usage (message and
 * usage line on stderr). Never throws and never exits the process.
 */
export async function gcMain(argv: readonly string[], io: Partial<GcIo> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout
  const stderr = io.stderr ?? process.stderr
  const env = io.env ?? process.env
  let command: Command | 'help'
  try {
    command = parseCommand(argv)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    stderr.write(`cairn-gc: ${message}\n${USAGE}\nRun cairn-gc --help for more.\n`)
    return EXIT_USAGE
  }
  if (command === 'help') {
    stdout.write(HELP)
    return EXIT_OK
  }
  const progress =
    !command.quiet && (stderr as { isTTY?: boolean }).isTTY === true && !env.CI
      ? progressLine(stderr)
      : undefined
  let report: PruneReport
  try {
    report = await prune(
      command.dir,
      { ...command.policy, ...(progress ? { onProgress: progress.update } : {}) },
      { allowForeignOwner: command.allowForeignOwner || env.CAIRN_ALLOW_FOREIGN_OWNER === '1' },
    )
  } catch (error) {
    progress?.clear()
    const message = error instanceof Error ? error.message : String(error)
    const code = error instanceof CairnError ? ` (${error.code})` : ''
    stderr.write(`cairn-gc: ${message}${code}\n`)
    return EXIT_FAILED
  }
  progress?.clear()
  if (command.json) stdout.write(`${JSON.stringify(report)}\n`)
  else if (!command.quiet) stdout.write(`${summary(report, command.policy)}\n`)
  if (!command.quiet && report.foreign.count > 0) {
    const more = report.foreign.count > report.foreign.paths.length ? ', ...' : ''
    stderr.write(
      `cairn-gc: warning: left alone ${report.foreign.count} name(s) the store format does not define: ${report.foreign.paths.join(', ')}${more}\n`,
    )
  }
  return EXIT_OK
}

function parseCommand(argv: readonly string[]): Command | 'help' {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>
  >
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  } catch (error) {
    // parseArgs says which flag is unknown or lacks its value.
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  const { values, positionals } = parsed
  if (values.help) return 'help'
  if (positionals.length === 0) throw new UsageError('missing <store-dir>.')
  if (positionals.length > 1) {
    throw new UsageError(
      `expected one <store-dir>, got ${positionals.map((p) => JSON.stringify(p)).join(' ')}.`,
    )
  }
  const dir = positionals[0] as string
  if (
    values['max-size'] === undefined &&
    values['max-entries'] === undefined &&
    values['max-age'] === undefined &&
    values.policy === undefined
  ) {
    throw new UsageError('give a budget: at least one of --max-size, --max-entries, --max-age or --policy.')
  }
  const policy: Policy =
    values.policy === undefined ? {} : flag('--policy', () => parsePolicy(values.policy as string))
  if (values['max-size'] !== undefined)
    policy.maxBytes = flag('--max-size', () => parseSize(values['max-size'] as string))
  if (values['max-entries'] !== undefined)
    policy.maxEntries = wholeNumber('--max-entries', values['max-entries'], 0)
  if (values['max-age'] !== undefined)
    policy.maxAge = flag('--max-age', () => parseDuration(values['max-age'] as string))
  if (values.interval !== undefined)
    policy.interval = flag('--interval', () => parseDuration(values.interval as string))
  if (values['temp-grace'] !== undefined)
    policy.tempGrace = flag('--temp-grace', () => parseDuration(values['temp-grace'] as string))
  if (values.concurrency !== undefined)
    policy.concurrency = wholeNumber('--concurrency', values.concurrency, 1)
  if (values['dry-run']) policy.dryRun = true
  return {
    dir,
    policy,
    json: values.json === true,
    quiet: values.quiet === true,
    allowForeignOwner: values['allow-foreign-owner'] === true,
  }
}

/** Runs a parser of flag values, turning its policy error into bad usage that names the flag. */
function flag<T>(name: string, parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    throw new UsageError(`${name}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

function wholeNumber(name: string, text: string, min: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(
      `${name} takes a whole number${min > 0 ? ` of at least ${min}` : ''}, got ${JSON.stringify(text)}.`,
    )
  }
  return value
}

/**
 * The one summary line of a human run: scanned, removed, kept, freed (`removed.bytes`, the
 * content bytes the removed entries held alone) and time. A skipped run says why, and that
 * nothing was freed.
 */
export function summary(report: PruneReport, policy: Policy): string {
  const time = `${(report.durationMs / 1000).toFixed(2)} s`
  if (report.skipped) {
    const why =
      report.reason === 'busy'
        ? 'another GC is pruning this store (gc.lock)'
        : `the last prune was less than ${formatDuration(policy.interval ?? 0)} ago (--interval)`
    return `cairn-gc: skipped: ${why}; nothing scanned, removed or freed; ${time}`
  }
  const { scanned, removed, kept } = report
  const dry = report.dryRun
  const extras: string[] = []
  if (report.temp.removed > 0) extras.push(`${count(report.temp.removed)} temp file(s)`)
  if (report.corrupt.removed > 0) extras.push(`${count(report.corrupt.removed)} corrupt entr(ies)`)
  return (
    `cairn-gc: scanned ${count(scanned.entries)} entries (${sizes(scanned.bytes, report.logicalBytes.scanned)}), ` +
    `${dry ? 'would remove' : 'removed'} ${count(removed.entries)}, ` +
    `kept ${count(kept.entries)} (${sizes(kept.bytes, report.logicalBytes.kept)}), ` +
    `${formatBytes(removed.bytes)} ${dry ? 'would be freed' : 'freed'}` +
    (extras.length > 0 ? `; ${dry ? 'would also remove' : 'also removed'} ${extras.join(', ')}` : '') +
    `; ${time}${dry ? ' (dry run)' : ''}`
  )
}

/**
 * A tally's bytes on disk, and their uncompressed size when compression makes that differ:
 * `1.20 MiB` or `1.20 MiB on disk, 3.40 MiB uncompressed`.
 */
function sizes(onDisk: number, logical: number): string {
  if (logical === onDisk) return formatBytes(onDisk)
  return `${formatBytes(onDisk)} on disk, ${formatBytes(logical)} uncompressed`
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** Bytes in binary units, three significant digits: `1.50 GiB`, `512 B`. */
export function formatBytes(bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${value} B` : `${value.toPrecision(3)} ${BYTE_UNITS[unit]}`
}

function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

function count(value: number): string {
  return value.toLocaleString('en-US')
}

/** A progress line on a terminal, redrawn at most every 100 ms and erased at the end. */
function progressLine(stream: NodeJS.WritableStream): { update: (p: Progress) => void; clear: () => void } {
  let last = 0
  let shown = false
  return {
    update(progress) {
      const now = Date.now()
      if (now - last < 100) return
      last = now
      shown = true
      const of = progress.total === undefined ? '' : ` of ${count(progress.total)}`
      stream.write(`\r\x1b[Kcairn-gc: ${progress.phase}: ${count(progress.done)}${of}`)
    },
    clear() {
      if (shown) stream.write('\r\x1b[K')
    },
  }
}

import { UsageError } from './args.js'
import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js'
import { envFlag, type Io, writeLine } from './io.js'

/** Error codes that mean the caller typed something wrong, hence exit code 2. */
const USAGE_CODES: ReadonlySet<string> = new Set([
  'ERR_CAIRN_USAGE',
  'ERR_CAIRN_INVALID_KEY',
  'ERR_CAIRN_INVALID_OPTION',
  'ERR_CAIRN_INVALID_POLICY',
  'ERR_CAIRN_UNSUPPORTED_VALUE',
])

/**
 * Prints an error the way every subcommand does, and returns the exit code for it: one line
 * `cairn: <message>` (and the usage line for bad usage), 2 for bad usage, 1 for anything else.
 * The stack and any `cause` are printed only with CAIRN_DEBUG=1: a user needs to know what was
 * wrong, not where in Cairn it was noticed.
 */
export function reportError(error: unknown, io: Io): number {
  const message = error instanceof Error ? error.message : String(error)
  writeLine(io.stderr, `cairn: ${message}`)
  if (error instanceof UsageError && error.usage !== undefined) writeLine(io.stderr, `usage: ${error.usage}`)
  if (envFlag(io.env, 'CAIRN_DEBUG')) {
    writeLine(io.stderr, describeForDebugging(error))
  }
  return isUsageError(error) ? EXIT_USAGE : EXIT_FAILURE
}

/** Whether an error is the caller's mistake on the command line (exit 2). */
export function isUsageError(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined
  return typeof code === 'string' && USAGE_CODES.has(code)
}

function describeForDebugging(error: unknown): string {
  const lines: string[] = []
  let current: unknown = error
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    lines.push(depth === 0 ? '' : 'caused by:')
    lines.push(current instanceof Error ? (current.stack ?? current.message) : String(current))
    current = current instanceof Error ? current.cause : undefined
  }
  return lines.join('\n').trimStart()
}

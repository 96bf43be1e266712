/**
 * Command-line parsing for every subcommand, over node:util's parseArgs, and the error for bad
 * usage. Bad usage is exit code 2 with a usage line, never a stack trace.
 */

import { type ParseArgsConfig, parseArgs } from 'node:util'

/**
 * The command line was wrong: an unknown option, a missing argument, a value that cannot be
 * right. main prints `cairn: <message>` and the command's usage line, and exits with 2.
 */
export class UsageError extends Error {
  readonly code = 'ERR_CAIRN_USAGE'
  /** The usage line of the command that was misused, when known. */
  readonly usage: string | undefined

  constructor(message: string, usage?: string) {
    super(message)
    this.name = 'UsageError'
    this.usage = usage
  }
}

/** Options as node:util's parseArgs describes them. */
export type OptionSpecs = NonNullable<ParseArgsConfig['options']>

type OptionValue = string | boolean | string[] | boolean[] | undefined

/** What {@link parseCommandLine} returns. */
export interface ParsedCommandLine {
  values: Record<string, OptionValue>
  /** Arguments that are not options, before `--`. */
  positionals: string[]
  /** Everything after the first `--`, untouched; undefined when there was no `--`. */
  rest: string[] | undefined
}

/** How {@link parseCommandLine} treats a command's arguments. */
export interface CommandLineRules {
  /** The command's usage line, quoted in every UsageError. */
  usage: string
  options: OptionSpecs
  /** How many positionals the command takes; more or fewer is bad usage. */
  positionals: { min: number; max: number }
  /**
   * Options with `multiple: true` whose values may also follow as separate words, as in
   * `--inputs 'src/**' tsconfig.json`: a word that is not an option, after such an option and
   * before any other option, is one more value of it rather than a positional.
   */
  greedy?: readonly string[]
}

/**
 * Parses `argv` strictly: unknown options, missing values and the wrong number of positionals
 * are UsageErrors that quote what was wrong. `--` ends the options; what follows is `rest`.
 */
export function parseCommandLine(argv: readonly string[], rules: CommandLineRules): ParsedCommandLine {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...argv],
      options: rules.options,
      allowPositionals: true,
      strict: true,
      tokens: true,
    })
  } catch (error) {
    throw new UsageError(describeParseError(error), rules.usage)
  }
  const values = { ...parsed.values } as Record<string, OptionValue>
  const positionals: string[] = []
  let rest: string[] | undefined
  let greedyName: string | undefined
  for (const token of parsed.tokens ?? []) {
    if (token.kind === 'option-terminator') {
      rest = argv.slice(token.index + 1)
      break
    }
    if (token.kind === 'option') {
      greedyName = rules.greedy?.includes(token.name) ? token.name : undefined
    } else if (greedyName !== undefined) {
      const list = values[greedyName] as string[]
      list.push(token.value)
    } else {
      positionals.push(token.value)
    }
  }
  const { min, max } = rules.positionals
  if (positionals.length < min) {
    throw new UsageError(`missing argument${min - positionals.length > 1 ? 's' : ''}.`, rules.usage)
  }
  if (positionals.length > max) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[max])}.`, rules.usage)
  }
  return { values, positionals, rest }
}

/** True if `argv` asks for help (`--help` or `-h` before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false
    if (arg === '--help' || arg === '-h') return true
  }
  return false
}

/** parseArgs's messages are good but long and say "Use `--` ..."; keep the first sentence. */
function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const first = message.split('. ')[0] ?? message
  return first.endsWith('.') ? first : `${first}.`
}

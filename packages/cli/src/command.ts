import type { Io } from './io.js'

/** One subcommand of `cairn`: its help texts and what it does. */
export interface Command {
  name: string
  /** One line for `cairn --help`. */
  summary: string
  /** The usage line, printed with every usage error: `cairn get <key> [-o FILE]`. */
  usage: string
  /**
   * The rest of `cairn <name> --help`: what it does, its options, its exit codes. A function when
   * the text comes from elsewhere (`cairn gc` shows cairn-gc's own help).
   */
  help: string | (() => Promise<string>)
  /** Runs the command; resolves to the exit code. Throws UsageError for bad usage. */
  run(argv: string[], io: Io): Promise<number>
}

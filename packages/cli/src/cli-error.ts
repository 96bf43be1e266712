/**
 * A subcommand failed for a reason the user can act on (a file that cannot be read, a missing
 * store): main prints `cairn: <message>`, without a stack, and exits with 1.
 */
export class CliError extends Error {
  readonly code = 'ERR_CAIRN_CLI_FAILURE'
  /** The file or directory involved, when there is one. */
  readonly path: string | undefined

  constructor(message: string, facts: { path?: string; cause?: unknown } = {}) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause })
    this.name = 'CliError'
    this.path = facts.path
  }
}

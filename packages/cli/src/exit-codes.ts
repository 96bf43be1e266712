/**
 * The CLI's exit codes. `cairn run` is the exception: it exits with its command's code.
 */
export const EXIT_OK = 0
/** A failure, or a miss (`get`, `has`), or corruption found (`verify` without `--fix`). */
export const EXIT_FAILURE = 1
/** Bad usage: an unknown option, a missing argument, an invalid key, bad JSON. */
export const EXIT_USAGE = 2
/** `cairn run` whose command could not be started (not found, not executable), as a shell says. */
export const EXIT_CANNOT_RUN = 127

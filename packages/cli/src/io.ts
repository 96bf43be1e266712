/**
 * Where a command reads and writes. `main` takes one so that tests can run the CLI in-process
 * with buffers for streams, their own environment and working directory; `bin.ts` passes the
 * real process's.
 */
export interface Io {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  stdin: NodeJS.ReadableStream
  env: NodeJS.ProcessEnv
  /** The working directory: relative paths, globs and the project root start here. */
  cwd: string
}

/** The running process's streams, environment and working directory, for any part not given. */
export function processIo(overrides: Partial<Io> = {}): Io {
  return {
    stdout: overrides.stdout ?? process.stdout,
    stderr: overrides.stderr ?? process.stderr,
    stdin: overrides.stdin ?? process.stdin,
    env: overrides.env ?? process.env,
    cwd: overrides.cwd ?? process.cwd(),
  }
}

/** Writes one line (a newline is added) to `stream`. */
export function writeLine(stream: NodeJS.WritableStream, line: string): void {
  stream.write(`${line}\n`)
}

/** Writes a `cairn: ...` note to stderr unless `quiet`: hit/miss lines, warnings. */
export function note(io: Io, quiet: boolean, message: string): void {
  if (!quiet) writeLine(io.stderr, `cairn: ${message}`)
}

const OFF_VALUES = new Set(['', '0', 'false', 'no', 'off'])

/**
 * True when a switch variable (CAIRN_DISABLE, CAIRN_VERIFY, CAIRN_DEBUG) is on. `1` is the
 * documented value; any value but empty, `0`, `false`, `no` or `off` counts, so that
 * `CAIRN_DISABLE=true` does what it says rather than being silently ignored.
 */
export function envFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = env[name]
  return value !== undefined && !OFF_VALUES.has(value.trim().toLowerCase())
}

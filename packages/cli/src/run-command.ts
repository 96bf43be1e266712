import { type ChildProcess, spawn } from 'node:child_process'
import { constants } from 'node:os'
import type { Io } from './io.js'

/**
 * The most of stdout (and, separately, of stderr) kept in memory to be cached. A command that
 * prints more still runs and its output still passes through, but it is not cached: replaying
 * hundreds of megabytes of log is not what a cache is for, and memory must stay bounded.
 */
export const CAPTURE_MAX_BYTES = 64 * 1024 * 1024

/** How a command ended. */
export interface CommandResult {
  /** The exit code; 128 + n when killed by signal n, as a shell reports it. */
  exitCode: number
  /** Captured stdout and stderr (empty without `capture`). */
  stdout: Buffer
  stderr: Buffer
  /** True if an output exceeded {@link CAPTURE_MAX_BYTES}, so the capture is incomplete. */
  truncated: boolean
  ms: number
}

/** The command could not be started at all: not found, not executable. */
export class CommandNotStartedError extends Error {
  readonly code = 'ERR_CAIRN_COMMAND_NOT_STARTED'

  constructor(command: string, cause: unknown) {
    const reason = (cause as { code?: string }).code === 'ENOENT' ? 'command not found' : String(cause)
    super(`cannot run ${JSON.stringify(command)}: ${reason}`, { cause })
    this.name = 'CommandNotStartedError'
  }
}

/** Signals a user or a CI runner sends to stop a job: passed on to the command, whose exit decides ours. */
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/**
 * Runs a command (no shell) in `cwd` with `env`. stdin is inherited. With `capture`, stdout and
 * stderr go through pipes: every chunk is written on to `io.stdout`/`io.stderr` as it arrives
 * (with backpressure) and also kept, to be cached. Without it, when `io` is the process's own,
 * the command inherits them, so it still sees a terminal (and keeps its colours).
 *
 * @throws {CommandNotStartedError} if the command cannot be started.
 */
export function runCommand(
  command: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; io: Io; capture: boolean },
): Promise<CommandResult> {
  const { io, capture } = options
  const [file, ...args] = command as [string, ...string[]]
  const started = performance.now()
  const inherit = (stream: NodeJS.WritableStream, own: NodeJS.WritableStream) => !capture && stream === own
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: [
      io.stdin === process.stdin ? 'inherit' : 'ignore',
      inherit(io.stdout, process.stdout) ? 'inherit' : 'pipe',
      inherit(io.stderr, process.stderr) ? 'inherit' : 'pipe',
    ],
  })
  const stdout = child.stdout ? tee(child.stdout, io.stdout, capture) : undefined
  const stderr = child.stderr ? tee(child.stderr, io.stderr, capture) : undefined
  const stopForwarding = forwardSignals(child)

  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      stopForwarding()
      reject(new CommandNotStartedError(file, error))
    })
    child.once('close', (code, signal) => {
      stopForwarding()
      const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)
      resolve({
        exitCode,
        stdout: stdout?.captured() ?? Buffer.alloc(0),
        stderr: stderr?.captured() ?? Buffer.alloc(0),
        truncated: (stdout?.truncated() ?? false) || (stderr?.truncated() ?? false),
        ms: performance.now() - started,
      })
    })
  })
}

/** Passes a child's output on to `out` and, with `capture`, keeps up to CAPTURE_MAX_BYTES of it. */
function tee(source: NodeJS.ReadableStream, out: NodeJS.WritableStream, capture: boolean) {
  const chunks: Buffer[] = []
  let size = 0
  let over = false
  source.pipe(out, { end: false })
  if (capture) {
    source.on('data', (chunk: Buffer) => {
      if (over) return
      size += chunk.length
      if (size > CAPTURE_MAX_BYTES) {
        over = true
        chunks.length = 0
      } else {
        chunks.push(chunk)
      }
    })
  }
  return { captured: () => Buffer.concat(chunks), truncated: () => over }
}

/** Forwards stop signals to the child while it runs; returns the function that stops doing so. */
function forwardSignals(child: ChildProcess): () => void {
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    }
    process.on(signal, handler)
    return [signal, handler] as const
  })
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler)
  }
}

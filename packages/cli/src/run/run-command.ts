import { type ChildProcess, spawn } from 'node:child_process'
import { constants } from 'node:os'
import type { Readable } from 'node:stream'
import type { Io } from '../io.js'
import { ansiStripper, isTerminal } from './terminal.js'

/**
 * The most of stdout (and, separately, of stderr) kept in memory to be cached. A command that
 * prints more still runs and its output still passes through, but it is not cached: replaying
 * hundreds of megabytes of log is not what a cache is for, and memory must stay bounded.
 */
export const CAPTURE_MAX_BYTES = 64 * 1024 * 1024

/**
 * How long, after the command exits, its stdout and stderr may stay open before cairn stops
 * reading them. They close at once unless the command left a process behind that inherited
 * them; what the command itself wrote is already in the pipes by then (see runCommand).
 */
export const DRAIN_MS = 200

/** How a command ended. */
export interface CommandResult {
  /** The exit code; 128 + n when killed by signal n, as a shell reports it. */
  exitCode: number
  /** Captured stdout and stderr (empty without `capture`). */
  stdout: Buffer
  stderr: Buffer
  /** True if an output exceeded {@link CAPTURE_MAX_BYTES}, so the capture is incomplete. */
  truncated: boolean
  /**
   * True if the command exited while a process it left behind held its stdout or stderr open
   * and not everything in the pipe could be read within {@link DRAIN_MS} (cairn's own output was
   * backed up): the capture may be incomplete.
   */
  unread: boolean
  /** How long the command ran, until it exited (not until its pipes closed). */
  ms: number
  /**
   * The stop signal cairn received and passed on to the command while it ran, if any. The run
   * then counts as failed, with exit code 128 + n, whatever the command exited with: a command
   * that traps SIGINT and exits 0 has not finished its work, and its outputs must not be cached.
   */
  interrupted?: NodeJS.Signals
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
 * Resolves when the command exits, with its own duration: a process it leaves running in the
 * background may keep the pipes open, but is not waited for (see {@link DRAIN_MS}).
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
  // Colours cairn asked for (commandEnv: one of its streams is a terminal) are stripped from
  // the other stream when it is not one (a log file), as a hit's replay strips them.
  const coloured = capture && (isTerminal(io.stdout) || isTerminal(io.stderr))
  const strip = (out: NodeJS.WritableStream) => coloured && !isTerminal(out)
  const stdout = child.stdout ? tee(child.stdout, io.stdout, capture, strip(io.stdout)) : undefined
  const stderr = child.stderr ? tee(child.stderr, io.stderr, capture, strip(io.stderr)) : undefined
  let interrupted: NodeJS.Signals | undefined
  const stopForwarding = forwardSignals(child, (signal) => {
    interrupted ??= signal
  })

  return new Promise((resolve, reject) => {
    let exited: { exitCode: number; ms: number } | undefined
    let drainTimer: NodeJS.Timeout | undefined
    let settled = false
    const finish = () => {
      if (settled || exited === undefined) return
      settled = true
      clearTimeout(drainTimer)
      stopForwarding()
      const streams = [stdout, stderr].flatMap((stream) => (stream === undefined ? [] : [stream]))
      resolve({
        exitCode: interrupted === undefined ? exited.exitCode : 128 + (constants.signals[interrupted] ?? 0),
        ...(interrupted === undefined ? {} : { interrupted }),
        stdout: stdout?.captured() ?? Buffer.alloc(0),
        stderr: stderr?.captured() ?? Buffer.alloc(0),
        truncated: streams.some((stream) => stream.truncated()),
        unread: streams.some((stream) => stream.unread()),
        ms: exited.ms,
      })
      // A process the command left behind may hold the pipes for hours: let go of them, so that
      // cairn can exit (it then gets EPIPE if it writes on).
      for (const stream of streams) stream.release()
    }
    child.once('error', (error) => {
      // After 'exit' it can only be a failed kill of a process that is gone: not our result.
      if (settled || exited !== undefined) return
      settled = true
      clearTimeout(drainTimer)
      stopForwarding()
      reject(new CommandNotStartedError(file, error))
    })
    // The command is done when it exits, not when its pipes close: a background process it
    // started (`server &`, a build daemon) inherits them and may keep them open indefinitely.
    child.once('exit', (code, signal) => {
      exited = {
        exitCode: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0),
        ms: performance.now() - started,
      }
      // What the command wrote before it exited is in the pipes: read it. Usually the pipes
      // close at once ('close' below); if something still holds them, stop after DRAIN_MS. The
      // timer only schedules the end for the next turn of the event loop (setImmediate), which
      // polls the pipes first, so bytes already in them are read even if this process was not
      // scheduled for longer than DRAIN_MS.
      drainTimer = setTimeout(() => setImmediate(finish), DRAIN_MS)
    })
    child.once('close', finish)
  })
}

/**
 * Passes a child's output on to `out` (without ANSI sequences with `strip`) and, with `capture`,
 * keeps up to CAPTURE_MAX_BYTES of it as the command wrote it.
 * `unread()` is true while the source is not at its end and has bytes waiting or is paused by
 * `out`'s backpressure: then some of what the command wrote may not have been read yet.
 */
function tee(source: Readable, out: NodeJS.WritableStream, capture: boolean, strip: boolean) {
  const chunks: Buffer[] = []
  let size = 0
  let over = false
  let capturing = capture
  // With `strip`, what goes on to `out` loses ANSI sequences; the capture keeps them.
  const stripper = strip ? ansiStripper() : undefined
  if (stripper === undefined) source.pipe(out, { end: false })
  else source.pipe(stripper).pipe(out, { end: false })
  if (capture) {
    source.on('data', (chunk: Buffer) => {
      if (over || !capturing) return
      size += chunk.length
      if (size > CAPTURE_MAX_BYTES) {
        over = true
        chunks.length = 0
      } else {
        chunks.push(chunk)
      }
    })
  }
  return {
    captured: () => Buffer.concat(chunks),
    truncated: () => over,
    unread: () => !source.readableEnded && (source.readableLength > 0 || source.readableFlowing === false),
    release: () => {
      capturing = false
      if (source.readableEnded) return
      if (stripper === undefined) source.unpipe(out)
      else {
        source.unpipe(stripper)
        stripper.unpipe(out)
        stripper.destroy()
      }
      source.destroy()
    },
  }
}

/**
 * Forwards stop signals to the child while it runs, telling `forwarded` about each; returns the
 * function that stops doing so.
 */
function forwardSignals(child: ChildProcess, forwarded: (signal: NodeJS.Signals) => void): () => void {
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => {
      // Also after the command exited, while its output is read: the run counts as stopped.
      forwarded(signal)
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    }
    process.on(signal, handler)
    return [signal, handler] as const
  })
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler)
  }
}

import { lstatSync, renameSync, rmSync } from 'node:fs'
import { relative } from 'node:path'
import { createHasher, type Hasher } from '@cairn/hash'
import { type CacheStore, type RemoteFlags, RemoteStore } from '@cairn/remote'
import { errnoOf } from '@cairn/store/protocol'
import { parseCommandLine, UsageError } from '../args.js'
import type { Command } from '../command.js'
import {
  QUIET_OPTION,
  REMOTE_HELP,
  REMOTE_OPTIONS,
  remoteFlags,
  STORE_HELP,
  STORE_OPTION,
  storeFlag,
} from '../common-options.js'
import { EXIT_CANNOT_RUN, EXIT_FAILURE, EXIT_OK } from '../exit-codes.js'
import { counted, duration, megabytes, shortKey, toPosixPath } from '../format.js'
import { envFlag, type Io, note } from '../io.js'
import { closeStore, openStoreForWriting } from '../open-store.js'
import { isUsageError } from '../report-error.js'
import { resolveStoreDir } from '../store-dir.js'
import { collectOutputs, NotCacheableError } from './collect-outputs.js'
import { compareOutputs, describeOutputs } from './compare-outputs.js'
import { type DeclaredOutput, declareOutputs } from './declared-outputs.js'
import { expandInputs } from './input-files.js'
import { encodeManifest, parseManifest, type RunManifest } from './manifest.js'
import { findProjectRoot } from './project-root.js'
import { relocatable } from './relocatable.js'
import { siblingName } from './replace-path.js'
import { type RestoreResult, readBlob, restoreOutputs } from './restore-outputs.js'
import { CommandNotStartedError, type CommandResult, runCommand } from './run-command.js'
import { digestInputs, pickEnv, runKey } from './run-key.js'
import { runMetadata } from './run-metadata.js'
import { storeBytes, storeOutputFiles } from './store-outputs.js'

const usage =
  "cairn run [--store DIR] [--remote URL] [--remote-header 'Name: value'] --inputs GLOB... --outputs PATH... [--env NAME...] [--key-extra STRING] [--allow-empty] [--verify] [--quiet] -- <command> [args...]"

/** `cairn run`'s options, checked. */
interface RunOptions {
  store: string | undefined
  remote: RemoteFlags
  inputs: string[]
  outputs: string[]
  env: string[]
  keyExtra: string | null
  allowEmpty: boolean
  verify: boolean
  quiet: boolean
  command: string[]
}

/** A run ready to look up: its store, key and outputs. */
interface PreparedRun {
  store: CacheStore
  hasher: Hasher
  key: string
  outputs: DeclaredOutput[]
}

export const runCommandLine: Command = {
  name: 'run',
  summary: 'run a command, or restore its outputs and replay its output from the cache',
  usage,
  help: `Runs <command> unless the store holds the outputs of an identical run, which are then
restored instead (paths, bytes, modes; replacing what is there) and its stdout and stderr
replayed, with exit code 0. A command that fails is not cached.

The key covers: the command and its arguments; the working directory relative to the project
root (the nearest directory with a .git or package.json); every input file's path (relative to
the project root) and content; the --env variables' values; the declared outputs; --key-extra.
Never the checkout's absolute path (in arguments and --env values it counts as "<root>"), never
timestamps: two checkouts of a repository share hits.

Options:
  --inputs GLOB...     input files (globs relative to the working directory; a directory means
                       every file under it; * does not match dot files; files under the
                       outputs or the store are left out); repeatable
  --outputs PATH...    files and directories the command writes (never the store, the project
                       root or the working directory, nor anything holding or inside the store,
                       however spelled); repeatable
  --env NAME...        environment variables whose values the outputs depend on; repeatable
  --key-extra STRING   anything else the outputs depend on (a tool version, a platform)
  --allow-empty        let an --inputs pattern match nothing (otherwise exit 2)
  --verify             on a hit, run the command anyway, as on a clean miss (the declared
                       outputs moved aside first), and compare its outputs with the cached
                       ones; exit 1 and list every difference if they differ. The cached
                       outputs are then restored, as on a plain hit
${STORE_HELP}
${REMOTE_HELP}
  --quiet, -q          no "cairn: hit/miss" line on stderr

Environment: CAIRN_DISABLE=1 runs the command without the cache; CAIRN_VERIFY=1 is --verify;
CAIRN_DIR is the default store; CAIRN_REMOTE is --remote, CAIRN_REMOTE_HEADERS holds headers
(one "Name: value" per line).

Exit codes: the command's (128 + n if killed by signal n; 127 if it cannot be started);
1 if --verify found differences; 2 for bad usage.`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const options = parseRunOptions(argv)
  if (envFlag(io.env, 'CAIRN_DISABLE')) return runWithoutCache(options, io)

  let prepared: PreparedRun
  try {
    prepared = await prepare(options, io)
  } catch (error) {
    if (isUsageError(error)) throw error
    // A broken cache must not break the build: say why, and run the command.
    note(io, false, `${messageOf(error)}; running the command without the cache`)
    return runWithoutCache(options, io)
  }

  try {
    // Awaited here, not returned: the finally must wait for the run to finish storing.
    return await runCached(prepared, options, io)
  } finally {
    // Uploads finish before cairn exits (the hit or miss line is already out), and the remote
    // counters are kept for `cairn stats`.
    await closeStore(prepared.store)
  }
}

/** Looks the run up and restores it, or runs and stores it. */
async function runCached(prepared: PreparedRun, options: RunOptions, io: Io): Promise<number> {
  let manifest: RunManifest | undefined
  try {
    manifest = await lookUp(prepared)
  } catch (error) {
    note(io, false, `${messageOf(error)}; running the command without the cache`)
    return runWithoutCache(options, io)
  }
  if (manifest !== undefined) {
    if (options.verify || envFlag(io.env, 'CAIRN_VERIFY')) return verifyHit(prepared, manifest, options, io)
    try {
      const code = await restoreHit(prepared, manifest, options, io)
      if (code !== undefined) return code
    } catch (error) {
      // The outputs on disk are untouched (restoring stages beside them): rebuild them.
      note(io, false, `cannot restore ${shortKey(prepared.key)}: ${messageOf(error)}; running the command`)
    }
  }
  return runAndStore(prepared, options, io)
}

function parseRunOptions(argv: string[]): RunOptions {
  const { values, rest } = parseCommandLine(argv, {
    usage,
    options: {
      ...STORE_OPTION,
      ...REMOTE_OPTIONS,
      inputs: { type: 'string', multiple: true },
      outputs: { type: 'string', multiple: true },
      env: { type: 'string', multiple: true },
      'key-extra': { type: 'string' },
      'allow-empty': { type: 'boolean' },
      verify: { type: 'boolean' },
      ...QUIET_OPTION,
    },
    positionals: { min: 0, max: 0 },
    greedy: ['inputs', 'outputs', 'env'],
  })
  const list = (name: string) => (values[name] as string[] | undefined) ?? []
  const options: RunOptions = {
    store: storeFlag(values),
    remote: remoteFlags(values),
    inputs: list('inputs'),
    outputs: list('outputs'),
    env: list('env'),
    keyExtra: (values['key-extra'] as string | undefined) ?? null,
    allowEmpty: values['allow-empty'] === true,
    verify: values.verify === true,
    quiet: values.quiet === true,
    command: rest ?? [],
  }
  if (rest === undefined || rest.length === 0) {
    throw new UsageError('no command: put it after --, as in `cairn run ... -- tsc -p .`.', usage)
  }
  if (options.inputs.length === 0 && !options.allowEmpty) {
    throw new UsageError(
      '--inputs is required (pass --allow-empty for a command without input files).',
      usage,
    )
  }
  if (options.outputs.length === 0) throw new UsageError('--outputs is required.', usage)
  for (const name of options.env) {
    if (name === '' || name.includes('=')) {
      throw new UsageError(`--env takes a variable name, got ${JSON.stringify(name)}.`, usage)
    }
  }
  return options
}

/** Opens the store and computes the key: everything before the lookup. */
async function prepare(options: RunOptions, io: Io): Promise<PreparedRun> {
  const storeDir = resolveStoreDir(options.store, io.env, io.cwd)
  const root = findProjectRoot(io.cwd)
  let outputs: DeclaredOutput[]
  try {
    outputs = declareOutputs(options.outputs, { cwd: io.cwd, root, storeDir })
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(error.message, usage)
    throw error
  }
  let inputs: Awaited<ReturnType<typeof expandInputs>>
  try {
    inputs = await expandInputs(options.inputs, {
      cwd: io.cwd,
      root,
      allowEmpty: options.allowEmpty,
      exclude: [...outputs.map((output) => output.absolute), storeDir],
    })
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(error.message, usage)
    throw error
  }
  const store = await openStoreForWriting(options.store, io, options.remote, usage)
  const hasher = await createHasher({ algorithm: store.algorithm })
  const key = runKey(hasher, {
    command: options.command.map((arg) => relocatable(arg, root)),
    cwd: toPosixPath(relative(root, io.cwd)) || '.',
    inputs: await digestInputs(hasher, inputs),
    env: pickEnv(io.env, options.env, (value) => relocatable(value, root)),
    outputs: outputs.map((output) => output.path),
    keyExtra: options.keyExtra,
  })
  return { store, hasher, key, outputs }
}

/**
 * The manifest stored under the run's key, or undefined. An entry that is not a manifest for
 * these outputs (damaged, or written by another version) is removed, so that this run can
 * store a good one: the store's first writer wins, so a bad entry would otherwise stay.
 */
async function lookUp(run: PreparedRun): Promise<RunManifest | undefined> {
  const entry = await run.store.get(run.key)
  if (entry === undefined) return undefined
  const manifest = parseManifest(
    entry.data,
    run.outputs.map((output) => output.path),
  )
  if (manifest === undefined) await run.store.delete(run.key)
  return manifest
}

/**
 * Restores a hit and replays its output; resolves to the exit code, or undefined when part of
 * the entry is gone (the GC pruned an output file or a log since): then the stale manifest is
 * removed and the run goes on as a miss. Never a failure.
 */
async function restoreHit(
  run: PreparedRun,
  manifest: RunManifest,
  options: RunOptions,
  io: Io,
): Promise<number | undefined> {
  const started = performance.now()
  await prefetch(run, manifest)
  const stdout = readBlob(run.store, manifest.stdout.digest)
  const stderr = readBlob(run.store, manifest.stderr.digest)
  const restored = stdout && stderr ? await restoreOutputs(run.store, manifest, io.cwd) : undefined
  if (stdout === undefined || stderr === undefined || restored === undefined) {
    await run.store.delete(run.key)
    return undefined
  }
  await write(io.stdout, stdout)
  await write(io.stderr, stderr)
  noteHit(run, restored, started, options, io)
  return EXIT_OK
}

/**
 * The hit line, with the time since `started`: after a plain hit, and after --verify has
 * restored the cached outputs, which leaves the tree as a hit does and says so the same way.
 */
function noteHit(
  run: PreparedRun,
  restored: RestoreResult,
  started: number,
  options: RunOptions,
  io: Io,
): void {
  const ms = Math.round(performance.now() - started)
  note(
    io,
    options.quiet,
    `hit ${shortKey(run.key)} (restored ${counted(restored.files, 'file')}, ${megabytes(restored.bytes)} in ${ms} ms)`,
  )
}

/**
 * With a remote tier, fetches the run's blobs that the local store lacks: readBlob reads
 * synchronously, from the local store only.
 */
async function prefetch(run: PreparedRun, manifest: RunManifest): Promise<void> {
  if (!(run.store instanceof RemoteStore)) return
  const files = manifest.entries.flatMap((entry) => (entry.type === 'file' ? [entry.digest] : []))
  await run.store.prefetch([manifest.stdout.digest, manifest.stderr.digest, ...files])
}

/** A miss: runs the command, and stores its outputs if it succeeded. */
async function runAndStore(run: PreparedRun, options: RunOptions, io: Io): Promise<number> {
  const result = await runReporting(options, io, true)
  if (typeof result === 'number') return result
  const key8 = shortKey(run.key)
  if (result.exitCode !== 0) {
    note(io, options.quiet, `miss ${key8} (the command exited with ${result.exitCode}; not cached)`)
    return result.exitCode
  }
  if (result.truncated) {
    note(io, options.quiet, `miss ${key8} (not stored: the command printed more than the 64 MiB kept)`)
    return result.exitCode
  }
  if (result.unread) {
    note(
      io,
      options.quiet,
      `miss ${key8} (not stored: a process the command left running held its output open, and not all of it could be read)`,
    )
    return result.exitCode
  }
  const started = performance.now()
  try {
    const entries = await storeOutputFiles(run.store, run.hasher, collectOutputs(run.outputs))
    const manifest: RunManifest = {
      format: 'cairn-run',
      version: 1,
      outputs: run.outputs.map((output) => output.path),
      entries,
      stdout: { size: result.stdout.length, digest: storeBytes(run.store, run.hasher, result.stdout) },
      stderr: { size: result.stderr.length, digest: storeBytes(run.store, run.hasher, result.stderr) },
      exitCode: 0,
      commandMs: Math.round(result.ms),
    }
    let files = 0
    let bytes = 0
    for (const entry of entries) {
      if (entry.type === 'file') {
        files += 1
        bytes += entry.size
      }
    }
    await run.store.put(run.key, encodeManifest(manifest), {
      metadata: runMetadata(options.command, files, bytes),
    })
    const ms = Math.round(performance.now() - started)
    note(
      io,
      options.quiet,
      `miss ${key8} (stored ${counted(files, 'file')}, ${megabytes(bytes)} in ${ms} ms; the command took ${duration(result.ms)})`,
    )
  } catch (error) {
    // The command succeeded; failing to cache it must not fail the build.
    const quiet = options.quiet && error instanceof NotCacheableError
    note(io, quiet, `miss ${key8} (not stored: ${messageOf(error)})`)
  }
  return result.exitCode
}

/**
 * `--verify` on a hit: runs the command as on a clean miss and compares its outputs with the
 * cached ones. The declared outputs on disk are first moved aside, so that a stale file cannot
 * show up as "new in this run" and a step that skips work when its output exists
 * (`[ -f out ] || ...`) cannot pass unexamined. Afterwards the working tree holds the cached
 * outputs, as a hit leaves it (see {@link settleVerifiedOutputs}), and the hit line is printed
 * as for a hit, then the verdict.
 */
async function verifyHit(
  run: PreparedRun,
  manifest: RunManifest,
  options: RunOptions,
  io: Io,
): Promise<number> {
  const key8 = shortKey(run.key)
  const asides = moveOutputsAside(run.outputs)
  let verdict: { code: number; lines: string[]; quiet: boolean }
  try {
    verdict = await verifyRun(run, manifest, options, io)
  } finally {
    await settleVerifiedOutputs(run, manifest, asides, options, io)
  }
  const [first, ...rest] = verdict.lines
  if (first !== undefined) note(io, verdict.quiet, `verify ${key8}: ${first}`)
  for (const line of rest) note(io, verdict.quiet, line)
  return verdict.code
}

/** The verify run itself, on a tree without the declared outputs: its exit code and report. */
async function verifyRun(
  run: PreparedRun,
  manifest: RunManifest,
  options: RunOptions,
  io: Io,
): Promise<{ code: number; lines: string[]; quiet: boolean }> {
  const result = await runReporting(options, io, false)
  if (typeof result === 'number') return { code: result, lines: [], quiet: false }
  if (result.exitCode !== 0) {
    return {
      code: result.exitCode,
      lines: [`the command exited with ${result.exitCode}, so there is nothing to compare`],
      quiet: false,
    }
  }
  let differences: { path: string; what: string }[]
  try {
    differences = compareOutputs(
      manifest.entries,
      await describeOutputs(run.hasher, collectOutputs(run.outputs)),
    )
  } catch (error) {
    if (!(error instanceof NotCacheableError)) throw error
    differences = [{ path: '(outputs)', what: error.message }]
  }
  const files = manifest.entries.filter((entry) => entry.type === 'file').length
  if (differences.length === 0) {
    return {
      code: EXIT_OK,
      lines: [`the outputs match the cached ones (${counted(files, 'file')})`],
      quiet: options.quiet,
    }
  }
  return {
    code: EXIT_FAILURE,
    lines: [
      `${counted(differences.length, 'difference')} from the cached outputs; this step is not reproducible:`,
      ...differences.map((difference) => `  ${difference.path}: ${difference.what}`),
    ],
    quiet: false,
  }
}

/** A declared output moved out of the way of a verify run: where it was, and where it is. */
interface MovedAside {
  target: string
  aside: string
}

/**
 * Renames every declared output that exists to a hidden name beside it
 * (`.<name>.cairn-verify-…`, on the same filesystem, skipped by `*` globs). If one cannot be
 * moved, those already moved are put back and the error is thrown: the tree is as it was.
 */
function moveOutputsAside(outputs: readonly DeclaredOutput[]): MovedAside[] {
  const moved: MovedAside[] = []
  try {
    for (const output of outputs) {
      const aside = siblingName(output.absolute, 'verify')
      try {
        renameSync(output.absolute, aside)
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') continue
        throw error
      }
      moved.push({ target: output.absolute, aside })
    }
  } catch (error) {
    for (const { target, aside } of moved.reverse()) renameSync(aside, target)
    throw error
  }
  return moved
}

/**
 * After a verify run, leaves the working tree as a hit would: the cached outputs restored in
 * place of whatever the command wrote (whether or not they matched, and whether or not the
 * command succeeded), and prints the usual hit line. If they cannot be restored (the GC pruned
 * part of the entry since; the stale manifest is then removed), the command's own outputs stay,
 * as after a miss, and where it wrote nothing the moved-aside output is put back. The
 * moved-aside outputs are removed in every other case.
 */
async function settleVerifiedOutputs(
  run: PreparedRun,
  manifest: RunManifest,
  asides: readonly MovedAside[],
  options: RunOptions,
  io: Io,
): Promise<void> {
  let restored: RestoreResult | undefined
  const started = performance.now()
  try {
    await prefetch(run, manifest)
    restored = await restoreOutputs(run.store, manifest, io.cwd)
    if (restored === undefined) await run.store.delete(run.key)
  } catch (error) {
    note(io, false, `cannot restore ${shortKey(run.key)}: ${messageOf(error)}`)
  }
  for (const { target, aside } of asides) {
    if (restored === undefined && !exists(target)) renameSync(aside, target)
    else rmSync(aside, { recursive: true, force: true })
  }
  if (restored === undefined) return
  noteHit(run, restored, started, options, io)
}

function exists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/** CAIRN_DISABLE=1, or a broken cache: the command alone. */
async function runWithoutCache(options: RunOptions, io: Io): Promise<number> {
  const result = await runReporting(options, io, false)
  return typeof result === 'number' ? result : result.exitCode
}

/** Runs the command; a command that cannot be started is reported, with exit code 127. */
async function runReporting(options: RunOptions, io: Io, capture: boolean): Promise<CommandResult | number> {
  try {
    return await runCommand(options.command, { cwd: io.cwd, env: io.env, io, capture })
  } catch (error) {
    if (!(error instanceof CommandNotStartedError)) throw error
    note(io, false, error.message)
    return EXIT_CANNOT_RUN
  }
}

function write(stream: NodeJS.WritableStream, data: Uint8Array): Promise<void> {
  if (data.length === 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    stream.write(data, (error) => (error ? reject(error) : resolve()))
  })
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/\.$/, '')
}

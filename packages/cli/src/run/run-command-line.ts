import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
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
import { COMPRESSION_HELP, COMPRESSION_OPTION, compressionFlag } from '../compression-option.js'
import { EXIT_CANNOT_RUN, EXIT_FAILURE, EXIT_OK } from '../exit-codes.js'
import { counted, duration, humanBytes, shortKey, toPosixPath } from '../format.js'
import { envFlag, type Io, note, writeLine } from '../io.js'
import { closeStore, openStoreForWriting } from '../open-store.js'
import { isUsageError } from '../report-error.js'
import { resolveStoreDir } from '../store-dir.js'
import { claimOutputs } from './claim-outputs.js'
import { type CollectedEntry, collectOutputs, NotCacheableError } from './collect-outputs.js'
import { compareOutputs, describeOutputs } from './compare-outputs.js'
import { type DeclaredOutput, declareOutputs } from './declared-outputs.js'
import { describeKey, explainMiss, findPreviousRun } from './explain.js'
import { compareStrings, expandInputs } from './input-files.js'
import { isPresent } from './is-present.js'
import { encodeManifest, parseManifest, type RecordedKey, type RunManifest } from './manifest.js'
import { onStop } from './on-stop.js'
import { findProjectRoot } from './project-root.js'
import { relocatable } from './relocatable.js'
import { removeDamagedBlob } from './remove-damaged.js'
import { siblingName } from './replace-path.js'
import {
  type RestoreOutcome,
  type RestoreResult,
  readCheckedBlob,
  restored,
  restoreOutputs,
} from './restore-outputs.js'
import { CommandNotStartedError, type CommandResult, runCommand } from './run-command.js'
import { digestInputs, pickEnv, runKey } from './run-key.js'
import { runMetadata } from './run-metadata.js'
import { StatCache } from './stat-cache.js'
import { storeBytes, storeOutputFiles } from './store-outputs.js'
import { commandEnv, forStream } from './terminal.js'

const usage =
  "cairn run [--store DIR] [--remote URL] [--remote-header 'Name: value'] [--compression CODEC] --inputs GLOB... --outputs PATH... [--env NAME...] [--key-extra STRING] [--root DIR] [--no-gitignore] [--allow-empty] [--keep-outputs] [--verify] [--explain] [--quiet] -- <command> [args...]"

/** `cairn run`'s options, checked. */
interface RunOptions {
  store: string | undefined
  remote: RemoteFlags
  /** --compression as typed; checked (with CAIRN_COMPRESSION) when the store is opened. */
  compression: string | undefined
  inputs: string[]
  outputs: string[]
  env: string[]
  keyExtra: string | null
  allowEmpty: boolean
  verify: boolean
  quiet: boolean
  root: string | undefined
  gitignore: boolean
  keepOutputs: boolean
  explain: boolean
  command: string[]
}

/** A run ready to look up: its store, key, the key's parts and outputs. */
interface PreparedRun {
  store: CacheStore
  hasher: Hasher
  key: string
  root: string
  parts: RecordedKey
  outputs: DeclaredOutput[]
  /** The command as given, for finding earlier runs of it (--explain). */
  commandLine: string[]
  allowForeignOwner: boolean
}

export const runCommandLine: Command = {
  name: 'run',
  summary: 'run a command, or restore its outputs and replay its output from the cache',
  usage,
  help: `Runs <command> unless the store holds the outputs of an identical run, which are then
restored instead (paths, bytes, modes; replacing what is there) and its stdout and stderr
replayed, with exit code 0. A command that fails is not cached.

The key covers: the command and its arguments; the working directory relative to the project
root; every input file's path (relative to the project root) and content; the --env variables'
values; the declared outputs; --key-extra. Never the checkout's absolute path (in arguments and
--env values it counts as "<root>"), never timestamps: two checkouts of a repository share hits.

The project root is the repository root (the nearest directory with a .git), else the nearest
workspace root (pnpm-workspace.yaml, or a package.json with "workspaces"), else the nearest
package.json, else the working directory; --root DIR sets it. An input, output or working
directory outside it is an error (exit 2).

On a miss the declared outputs are first moved aside (and put back if the command fails), so
what is stored is exactly what the command wrote, never a stale file of an earlier build.

Options:
  --inputs GLOB...     input files (globs relative to the working directory; a directory means
                       every file under it; * does not match dot files; !GLOB excludes; files
                       under the outputs or the store, files git ignores and node_modules
                       (unless a pattern names it) are left out); repeatable
  --outputs PATH...    files and directories the command writes (never the store, the project
                       root or the working directory, nor anything holding or inside the store,
                       however spelled); repeatable
  --env NAME...        environment variables whose values the outputs depend on; repeatable
  --key-extra STRING   anything else the outputs depend on (a tool version, a platform)
  --root DIR           the project root every path in the key is relative to
  --no-gitignore       also hash input files that .gitignore or .git/info/exclude ignore
  --allow-empty        let an --inputs pattern match nothing (otherwise exit 2)
  --keep-outputs       on a miss, leave the declared outputs in place for the command (for tools
                       that update their previous outputs); files it did not write are named
  --explain            print the key's parts and, on a miss, what differs from the last stored
                       run of the same command in this directory ("changed: src/a.ts")
  --verify             on a hit, run the command anyway, as on a clean miss (the declared
                       outputs moved aside first), and compare its outputs with the cached
                       ones; exit 1 and list every difference if they differ. The cached
                       outputs are then restored, as on a plain hit
${STORE_HELP}
${REMOTE_HELP}
${COMPRESSION_HELP}
  --quiet, -q          no "cairn: hit/miss" line on stderr

When cairn's stdout or stderr is a terminal, the command runs with FORCE_COLOR=1 and
CLICOLOR_FORCE=1 (unless set), so it keeps its colours; a hit replays them to a terminal and
strips them elsewhere.

Environment: CAIRN_DISABLE=1 runs the command without the cache; CAIRN_VERIFY=1 is --verify;
CAIRN_DIR is the default store; CAIRN_REMOTE is --remote, CAIRN_REMOTE_HEADERS holds headers
(one "Name: value" per line); CAIRN_COMPRESSION is --compression (a hit restores the original
bytes whatever codec its entries were stored with).

Exit codes: the command's (128 + n if killed by signal n; 127 if it cannot be started);
1 if --verify found differences; 2 for bad usage.`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const options = parseRunOptions(argv)
  if (envFlag(io.env, 'CAIRN_DISABLE')) {
    if (options.explain)
      note(io, false, 'explain: the cache is disabled (CAIRN_DISABLE=1): no key, running the command')
    return runWithoutCache(options, io)
  }

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
  if (options.explain) await explain(prepared, manifest !== undefined, io)
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

/**
 * `--explain`: the key's parts, then on a miss how they differ from the last stored run of the
 * same command in the same directory. On stderr, the difference lines unprefixed
 * ("changed: src/a.ts"), so that they can be read and grepped as they are.
 */
async function explain(run: PreparedRun, hit: boolean, io: Io): Promise<void> {
  const [head, ...parts] = describeKey(run.key, run.root, run.parts)
  note(io, false, `explain: ${head}`)
  for (const line of parts) writeLine(io.stderr, line)
  if (hit) {
    note(io, false, `explain: hit ${shortKey(run.key)}`)
    return
  }
  let previous: Awaited<ReturnType<typeof findPreviousRun>>
  try {
    previous = await findPreviousRun(run.store, run.commandLine, run.parts.cwd)
  } catch (error) {
    note(io, false, `explain: cannot read earlier runs: ${messageOf(error)}`)
    return
  }
  const [first, ...lines] = explainMiss(run.parts, previous)
  note(io, false, `explain: miss ${shortKey(run.key)}; ${first}`)
  for (const line of lines) writeLine(io.stderr, line)
}

function parseRunOptions(argv: string[]): RunOptions {
  const { values, rest } = parseCommandLine(argv, {
    usage,
    options: {
      ...STORE_OPTION,
      ...REMOTE_OPTIONS,
      ...COMPRESSION_OPTION,
      inputs: { type: 'string', multiple: true },
      outputs: { type: 'string', multiple: true },
      env: { type: 'string', multiple: true },
      'key-extra': { type: 'string' },
      'allow-empty': { type: 'boolean' },
      verify: { type: 'boolean' },
      root: { type: 'string' },
      'no-gitignore': { type: 'boolean' },
      'keep-outputs': { type: 'boolean' },
      explain: { type: 'boolean' },
      ...QUIET_OPTION,
    },
    positionals: { min: 0, max: 0 },
    greedy: ['inputs', 'outputs', 'env'],
  })
  const list = (name: string) => (values[name] as string[] | undefined) ?? []
  const options: RunOptions = {
    store: storeFlag(values),
    remote: remoteFlags(values),
    compression: compressionFlag(values),
    inputs: list('inputs'),
    outputs: list('outputs'),
    env: list('env'),
    keyExtra: (values['key-extra'] as string | undefined) ?? null,
    allowEmpty: values['allow-empty'] === true,
    verify: values.verify === true,
    quiet: values.quiet === true,
    root: values.root as string | undefined,
    gitignore: values['no-gitignore'] !== true,
    keepOutputs: values['keep-outputs'] === true,
    explain: values.explain === true,
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
  const root = projectRoot(options, io)
  let outputs: DeclaredOutput[]
  try {
    outputs = declareOutputs(options.outputs, { cwd: io.cwd, root, storeDir })
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(error.message, usage)
    throw error
  }
  // Before the inputs are stat'ed (the expansion stats them): see StatCache.begin.
  const statCache = envFlag(io.env, 'CAIRN_NO_STAT_CACHE') ? undefined : StatCache.begin(storeDir, root)
  let inputs: Awaited<ReturnType<typeof expandInputs>>
  let store: CacheStore
  let hasher: Hasher
  let inputDigests: [string, string][]
  const started = performance.now()
  let expanded = started
  let loaded = started
  try {
    try {
      inputs = await expandInputs(options.inputs, {
        cwd: io.cwd,
        root,
        allowEmpty: options.allowEmpty,
        exclude: [...outputs.map((output) => output.absolute), storeDir],
        gitignore: options.gitignore,
        warn: (message) => note(io, false, message),
      })
    } catch (error) {
      if (error instanceof UsageError) throw new UsageError(error.message, usage)
      throw error
    }
    expanded = performance.now()
    store = await openStoreForWriting(options.store, io, options.remote, usage, options.compression)
    hasher = await createHasher({ algorithm: store.algorithm })
    statCache?.load(store.algorithm)
    loaded = performance.now()
    inputDigests = await digestInputs(hasher, inputs, statCache)
  } catch (error) {
    statCache?.discard()
    throw error
  }
  const digested = performance.now()
  statCache?.save()
  const env = pickEnv(io.env, options.env, (value) => relocatable(value, root))
  if (envFlag(io.env, 'CAIRN_DEBUG')) {
    const ms = (from: number, to: number) => `${Math.round(to - from)} ms`
    io.stderr.write(
      `cairn: debug: hashed ${statCache?.hashed ?? inputs.length} of ${inputs.length} input files${statCache ? '' : ' (no stat cache)'}; finding inputs ${ms(started, expanded)}, opening the store and cache ${ms(expanded, loaded)}, digests ${ms(loaded, digested)}, saving the cache ${ms(digested, performance.now())}\n`,
    )
  }
  const keyParts = {
    command: options.command.map((arg) => relocatable(arg, root)),
    cwd: toPosixPath(relative(root, io.cwd)) || '.',
    inputs: inputDigests,
    env,
    outputs: outputs.map((output) => output.path),
    keyExtra: options.keyExtra,
  }
  const key = runKey(hasher, keyParts)
  // What the manifest records of the key: values' digests only, as they may be secrets.
  const envDigests: Record<string, string | null> = {}
  for (const name of Object.keys(env).sort(compareStrings)) {
    const value = env[name]
    envDigests[name] = value === null || value === undefined ? null : hasher.bytes(value)
  }
  const parts: RecordedKey = { ...keyParts, inputs: keyParts.inputs, env: envDigests }
  return {
    store,
    hasher,
    key,
    root,
    parts,
    outputs,
    commandLine: options.command,
    allowForeignOwner: io.env.CAIRN_ALLOW_FOREIGN_OWNER === '1',
  }
}

/**
 * The project root: `--root` (which must be a directory holding the working directory), else
 * {@link findProjectRoot}.
 */
function projectRoot(options: RunOptions, io: Io): string {
  if (options.root === undefined) return findProjectRoot(io.cwd)
  const root = resolve(io.cwd, options.root)
  let isDirectory = false
  try {
    isDirectory = statSync(root).isDirectory()
  } catch {
    // Reported below.
  }
  if (!isDirectory) throw new UsageError(`--root ${JSON.stringify(options.root)} is not a directory.`, usage)
  const cwd = toPosixPath(relative(root, io.cwd))
  if (cwd === '..' || cwd.startsWith('../') || resolve(root, cwd) !== resolve(io.cwd)) {
    throw new UsageError(
      `the working directory ${io.cwd} is outside the project root ${root} given by --root: every path in the key is relative to the root; run cairn from inside it, or pass a --root that holds the working directory.`,
      usage,
    )
  }
  return root
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
 * Restores a hit and replays its output; resolves to the exit code, or undefined when the run
 * must go on as a miss: part of the entry is gone (the GC pruned an output file or a log since;
 * the stale manifest is then removed), or a file's bytes do not match the manifest's digest
 * (the damaged content and the manifest are removed, and it says so in one line). Nothing is
 * restored unless every file was checked.
 */
async function restoreHit(
  run: PreparedRun,
  manifest: RunManifest,
  options: RunOptions,
  io: Io,
): Promise<number | undefined> {
  const started = performance.now()
  await prefetch(run, manifest)
  const stdout = readCheckedBlob(run.store, run.hasher, manifest.stdout.digest)
  const stderr = readCheckedBlob(run.store, run.hasher, manifest.stderr.digest)
  let outcome: RestoreOutcome
  if (stdout === 'damaged') outcome = { problem: 'damaged', path: '(stdout)', digest: manifest.stdout.digest }
  else if (stderr === 'damaged')
    outcome = { problem: 'damaged', path: '(stderr)', digest: manifest.stderr.digest }
  else if (stdout === 'missing' || stderr === 'missing') outcome = { problem: 'missing' }
  else outcome = await restoreOutputs(run.store, run.hasher, manifest, io.cwd)
  if (!restored(outcome) || typeof stdout === 'string' || typeof stderr === 'string') {
    await dropBrokenHit(run, outcome, io)
    return undefined
  }
  await write(io.stdout, forStream(stdout, io.stdout))
  await write(io.stderr, forStream(stderr, io.stderr))
  noteHit(run, outcome, started, options, io)
  return EXIT_OK
}

/** After a hit that could not be restored: removes what is broken, and says so if damaged. */
async function dropBrokenHit(run: PreparedRun, outcome: RestoreOutcome, io: Io): Promise<void> {
  if (!('problem' in outcome) || outcome.problem === 'missing') {
    await run.store.delete(run.key)
    return
  }
  await removeDamagedBlob(run.store, outcome.digest, run.key, run.allowForeignOwner)
  note(
    io,
    false,
    `damaged ${shortKey(run.key)}: the stored ${outcome.path} does not match its digest ${shortKey(outcome.digest)}; removed it, running the command to store it again`,
  )
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
    `hit ${shortKey(run.key)} (restored ${counted(restored.files, 'file')}, ${humanBytes(restored.bytes)} in ${ms} ms)`,
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

/**
 * A miss: runs the command, and stores its outputs if it succeeded. The declared outputs are
 * first moved aside, so that what is stored is exactly what the command wrote (a `.js` whose
 * source was deleted, left by an earlier build, must not reach a clean checkout on a hit); they
 * are put back if the command fails, and removed once it succeeded. With `--keep-outputs` they
 * stay for the command, and files it did not write during this run are named.
 */
async function runAndStore(run: PreparedRun, options: RunOptions, io: Io): Promise<number> {
  const release = claimOutputs(run.outputs, (cleaned) =>
    note(io, false, `a cairn run of this step died here; cleaned up what it left: ${cleaned.join(', ')}`),
  )
  if (release === 'busy') {
    // Another miss of this step runs in this checkout: leave its outputs alone, store nothing.
    const result = await runReporting(options, io, false)
    const code = typeof result === 'number' ? result : result.exitCode
    note(
      io,
      options.quiet,
      `miss ${shortKey(run.key)} (not stored: another cairn run of this step is running in this directory)`,
    )
    return code
  }
  try {
    return await runClaimed(run, options, io, release)
  } finally {
    release()
  }
}

/** {@link runAndStore} once the outputs are claimed. */
async function runClaimed(
  run: PreparedRun,
  options: RunOptions,
  io: Io,
  release: () => void,
): Promise<number> {
  const asides = options.keepOutputs ? [] : moveOutputsAside(run.outputs)
  const clock = options.keepOutputs ? fileClock(run.outputs) : undefined
  let succeeded = false
  // After a success, an output the command did not write again gets its old copy back (see
  // noteVanished); the others are the command's, and their old copies go.
  const settle = () => {
    for (const { target, aside } of asides) {
      if (succeeded && isPresent(target)) rmSync(aside, { recursive: true, force: true })
      else putBack([{ target, aside }])
    }
  }
  let unguard = () => {}
  try {
    const result = await runReporting(options, io, true)
    if (typeof result === 'number') return result
    succeeded = result.exitCode === 0 && result.interrupted === undefined
    // Stopped while storing: the outputs stay as the command wrote them, with nothing left beside.
    unguard = onStop(() => {
      settle()
      release()
    })
    const vanished = succeeded ? asides.filter(({ target }) => !isPresent(target)) : []
    if (vanished.length > 0) return noteVanished(run, vanished, result, io)
    return await storeRun(run, result, clock, options, io)
  } finally {
    unguard()
    settle()
  }
}

/**
 * A command that succeeded without writing a declared output that existed before it ran: a tool
 * that keeps its state outside the declared outputs (tsc's `incremental` with a tsBuildInfoFile
 * elsewhere) believes the outputs are up to date and writes nothing. The moved-aside copy is
 * put back (the caller does), nothing is stored, and the fix is named.
 */
function noteVanished(
  run: PreparedRun,
  vanished: readonly MovedAside[],
  result: CommandResult,
  io: Io,
): number {
  const names = vanished.map(
    ({ target }) => run.outputs.find((output) => output.absolute === target)?.path ?? target,
  )
  note(
    io,
    false,
    `miss ${shortKey(run.key)} (not stored: the command succeeded but did not write the declared output ${names.map((name) => JSON.stringify(name)).join(', ')}, which existed before it ran; put it back as it was. A tool that keeps state outside its outputs thinks they are up to date: declare the tool's state file (e.g. .cache/tsbuildinfo) as an output, or use --keep-outputs)`,
  )
  return result.exitCode
}

/** After a miss: stores what the command wrote, if it succeeded; resolves to its exit code. */
async function storeRun(
  run: PreparedRun,
  result: CommandResult,
  clock: number | undefined,
  options: RunOptions,
  io: Io,
): Promise<number> {
  const key8 = shortKey(run.key)
  if (result.interrupted !== undefined) {
    note(io, options.quiet, `miss ${key8} (interrupted by ${result.interrupted}; not cached)`)
    return result.exitCode
  }
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
    const collected = collectOutputs(run.outputs)
    if (clock !== undefined) warnUnwritten(collected, clock, io)
    const entries = await storeOutputFiles(run.store, run.hasher, collected)
    const manifest: RunManifest = {
      format: 'cairn-run',
      version: 1,
      outputs: run.outputs.map((output) => output.path),
      entries,
      stdout: { size: result.stdout.length, digest: storeBytes(run.store, run.hasher, result.stdout) },
      stderr: { size: result.stderr.length, digest: storeBytes(run.store, run.hasher, result.stderr) },
      exitCode: 0,
      commandMs: Math.round(result.ms),
      key: run.parts,
    }
    let files = 0
    let bytes = 0
    for (const entry of entries) {
      if (entry.type === 'file') {
        files += 1
        bytes += entry.size
      }
    }
    const put = await run.store.put(run.key, encodeManifest(manifest), {
      metadata: runMetadata(options.command, run.parts.cwd, files, bytes),
    })
    const ms = Math.round(performance.now() - started)
    const what = put.published
      ? `stored ${counted(files, 'file')}, ${humanBytes(bytes)} in ${ms} ms`
      : 'not stored: another run stored this key first, and its copy was kept'
    note(io, options.quiet, `miss ${key8} (${what}; the command took ${duration(result.ms)})`)
  } catch (error) {
    // The command succeeded; failing to cache it must not fail the build.
    const quiet = options.quiet && error instanceof NotCacheableError
    note(io, quiet, `miss ${key8} (not stored: ${messageOf(error)})`)
  }
  return result.exitCode
}

/**
 * The filesystem's own clock, read by creating a file beside the first declared output: files
 * the command writes afterwards have an mtime at least this. (The process clock is not the one
 * the kernel stamps files with, which lags it by up to a scheduler tick.) Undefined if it cannot
 * be read: then nothing is named.
 */
function fileClock(outputs: readonly DeclaredOutput[]): number | undefined {
  const first = outputs[0]
  if (first === undefined) return undefined
  const probe = siblingName(first.absolute, 'clock')
  try {
    writeFileSync(probe, '', { flag: 'wx' })
    return statSync(probe).mtimeMs
  } catch {
    return undefined
  } finally {
    rmSync(probe, { force: true })
  }
}

/** The most files `--keep-outputs` names one per line; the rest are counted. */
const MAX_NAMED = 20

/** `--keep-outputs`: names every output file older than the command's start. */
function warnUnwritten(collected: readonly CollectedEntry[], clock: number, io: Io): void {
  const stale = collected.flatMap((entry) =>
    entry.type === 'file' && entry.stamp.mtimeMs < clock ? [entry.path] : [],
  )
  if (stale.length === 0) return
  note(
    io,
    false,
    `--keep-outputs: ${counted(stale.length, 'output file')} not written by this run (older than the command's start) will be stored with its outputs:`,
  )
  for (const path of stale.slice(0, MAX_NAMED)) writeLine(io.stderr, `  ${path}`)
  if (stale.length > MAX_NAMED) writeLine(io.stderr, `  … and ${stale.length - MAX_NAMED} more`)
}

/** Puts moved-aside outputs back in place of whatever the command left there. */
function putBack(asides: readonly MovedAside[]): void {
  for (const { target, aside } of [...asides].reverse()) {
    rmSync(target, { recursive: true, force: true })
    renameSync(aside, target)
  }
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
 * (`.<name>.cairn-aside-…`, on the same filesystem, skipped by `*` globs). If one cannot be
 * moved, those already moved are put back and the error is thrown: the tree is as it was.
 */
function moveOutputsAside(outputs: readonly DeclaredOutput[]): MovedAside[] {
  const moved: MovedAside[] = []
  try {
    for (const output of outputs) {
      const aside = siblingName(output.absolute, 'aside')
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
  let outcome: RestoreOutcome | undefined
  const started = performance.now()
  try {
    await prefetch(run, manifest)
    outcome = await restoreOutputs(run.store, run.hasher, manifest, io.cwd)
    if (!restored(outcome)) await dropBrokenHit(run, outcome, io)
  } catch (error) {
    note(io, false, `cannot restore ${shortKey(run.key)}: ${messageOf(error)}`)
  }
  const done = outcome !== undefined && restored(outcome)
  for (const { target, aside } of asides) {
    if (!done && !isPresent(target)) renameSync(aside, target)
    else rmSync(aside, { recursive: true, force: true })
  }
  if (outcome === undefined || !restored(outcome)) return
  noteHit(run, outcome, started, options, io)
}

/** CAIRN_DISABLE=1, or a broken cache: the command alone. */
async function runWithoutCache(options: RunOptions, io: Io): Promise<number> {
  const result = await runReporting(options, io, false)
  return typeof result === 'number' ? result : result.exitCode
}

/** Runs the command; a command that cannot be started is reported, with exit code 127. */
async function runReporting(options: RunOptions, io: Io, capture: boolean): Promise<CommandResult | number> {
  try {
    const env = capture ? commandEnv(io.env, io.stdout, io.stderr) : io.env
    return await runCommand(options.command, { cwd: io.cwd, env, io, capture })
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

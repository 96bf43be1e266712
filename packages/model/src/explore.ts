/**
 * The scheduler: explores every interleaving of a configuration's actors, one filesystem step at
 * a time, and checks the invariants after every step and when all actors are done.
 *
 * Generators cannot be copied, so a state is reached by replaying its schedule (the sequence of
 * actor choices) from the start; runs are deterministic, so a schedule is also a reproducible
 * name for a state and for a counterexample. States are deduplicated by a fingerprint of the
 * filesystem and of each actor's history (the steps it took and the results it saw): two
 * schedules that differ only in the order of independent steps reach one state, explored once.
 */

import { createHash } from 'node:crypto'
import { decodeRecord } from '@cairn/store'
import type { Step } from '@cairn/store/protocol'
import { type ActorEnvironment, type ActorSpec, contextFor, type RunGroup, STORE_DIR } from './actors.js'
import type { MemoryFs, Semantics, Transition } from './memory-fs.js'

export interface Configuration {
  name: string
  semantics: Semantics
  platform: ActorEnvironment['platform']
  actors: ActorSpec[]
  /** The prepared filesystem every run starts from (a store, maybe with entries). */
  initial: MemoryFs
  /** Whether the model may kill actors (at most one per run) at any point. */
  crashes: boolean
  /** Whether, once all actors are done, every surviving entry must still have its content. */
  checkContent: boolean
  /**
   * `cairn run` groups whose manifest, if it survives, must still have every blob it names once
   * all actors are done: a GC never leaves a run that cannot be restored.
   */
  runs?: RunGroup[]
  /** How the actors publish (default `link`); `copy` goes with a MemoryFs without links. */
  publishMode?: 'link' | 'copy'
}

/** A choice in a schedule: actor index i takes a step, or (-i - 1) kills actor i. */
export type Choice = number

export interface Violation {
  configuration: string
  message: string
  schedule: Choice[]
}

export interface ExploreResult {
  configuration: string
  states: number
  transitions: number
  /** Schedules cut off at the depth bound. */
  truncated: number
  complete: boolean
  violations: Violation[]
}

export interface Limits {
  maxStates: number
  maxDepth: number
  /** Stop after this many counterexamples. */
  maxViolations: number
}

interface ActorState {
  spec: ActorSpec
  generator: Generator<Step, unknown, unknown>
  next: IteratorResult<Step, unknown>
  history: string
  finished: boolean
  crashed: boolean
}

/** One run in progress: a filesystem and the actors' generators. */
export class World {
  readonly fs: MemoryFs
  readonly actors: ActorState[]
  readonly trace: string[] | undefined
  violation: string | undefined

  constructor(configuration: Configuration, env: ActorEnvironment, tracing: boolean) {
    this.fs = configuration.initial.clone()
    this.trace = tracing ? [] : undefined
    this.actors = configuration.actors.map((spec) => {
      const actorEnv = configuration.publishMode ? { ...env, publishMode: configuration.publishMode } : env
      const generator = spec.start(contextFor(spec.name, actorEnv)) as Generator<Step, unknown, unknown>
      return { spec, generator, next: generator.next(), history: '', finished: false, crashed: false }
    })
    for (const actor of this.actors) this.settle(actor)
  }

  /** Choices that can be taken now. */
  choices(crashes: boolean, crashedAlready: boolean): Choice[] {
    const running = this.actors.flatMap((actor, index) => (actor.finished ? [] : [index]))
    return crashes && !crashedAlready ? [...running, ...running.map((index) => -index - 1)] : running
  }

  take(choice: Choice): void {
    if (choice < 0) this.crash(-choice - 1)
    else this.advance(choice)
  }

  get allFinished(): boolean {
    return this.actors.every((actor) => actor.finished)
  }

  fingerprint(): string {
    const actors = this.actors.map((a) => `${a.finished ? (a.crashed ? 'X' : 'F') : 'R'}${a.history}`)
    return createHash('sha1').update(this.fs.fingerprint()).update(actors.join('|')).digest('base64')
  }

  private advance(index: number): void {
    const actor = this.actors[index] as ActorState
    const step = actor.next.value as Step
    let outcome: Transition | undefined
    let failure: unknown
    try {
      outcome = this.fs.perform(step, actor.spec.name)
    } catch (error) {
      failure = error
    }
    if (outcome && !outcome.done) {
      this.log(actor, step, shorten(outcome.note))
      actor.history += `~${step.op}`
      return
    }
    const summary =
      failure === undefined ? summarize(outcome?.done ? outcome.value : undefined) : `!${errnoText(failure)}`
    this.log(actor, step, `→ ${failure === undefined ? summary || 'ok' : errnoText(failure)}`)
    actor.history += `;${step.op}${summary}`
    try {
      actor.next =
        failure === undefined
          ? actor.generator.next(outcome?.done ? outcome.value : undefined)
          : actor.generator.throw(failure)
    } catch (error) {
      actor.finished = true
      const message = `${actor.spec.name} (${actor.spec.summary}) failed: ${errorText(error)}`
      this.trace?.push(`    ${actor.spec.name} throws: ${errorText(error)}`)
      this.violation ??= message
      return
    }
    this.settle(actor)
  }

  private settle(actor: ActorState): void {
    if (!actor.next.done) return
    actor.finished = true
    const problem = actor.spec.check?.(actor.next.value)
    this.trace?.push(`    ${actor.spec.name} finishes: ${describeResult(actor.next.value)}`)
    if (problem) this.violation ??= problem
  }

  private crash(index: number): void {
    const actor = this.actors[index] as ActorState
    actor.finished = true
    actor.crashed = true
    this.fs.closeAllOf(actor.spec.name)
    this.trace?.push(`    ${actor.spec.name} is killed (its descriptors close; its files stay)`)
  }

  private log(actor: ActorState, step: Step, result: string): void {
    this.trace?.push(`${actor.spec.name.padEnd(8)} ${describeStep(step).padEnd(58)} ${result}`)
  }
}

/** Replays `schedule` from the start. */
export function replay(
  configuration: Configuration,
  env: ActorEnvironment,
  schedule: Choice[],
  tracing = false,
): World {
  const world = new World(configuration, env, tracing)
  for (const choice of schedule) {
    if (world.violation) break
    world.take(choice)
  }
  return world
}

/** Checks the invariants that hold only once every actor is done. */
export function finalViolation(configuration: Configuration, world: World): string | undefined {
  const crashed = new Set(world.actors.filter((a) => a.crashed).map((a) => a.spec.name))
  for (const path of world.fs.filesUnder(`${STORE_DIR}/tmp/`)) {
    const creator = world.fs.creatorOf(path) ?? '?'
    if (!crashed.has(creator)) return `${path} was left behind by ${creator}, which did not crash`
  }
  for (const run of configuration.runs ?? []) {
    const entry = (key: string) => `${STORE_DIR}/entries/${key.slice(0, 2)}/${key}`
    if (world.fs.contentOf(entry(run.manifest)) === undefined) continue
    const gone = run.blobs.find((blob) => world.fs.contentOf(entry(blob)) === undefined)
    if (gone !== undefined)
      return `run ${run.manifest.slice(0, 6)} survived but its blob ${gone.slice(0, 6)} was removed`
  }
  if (configuration.checkContent && crashed.size === 0) {
    for (const path of world.fs.filesUnder(`${STORE_DIR}/entries/`)) {
      const digest = contentDigestOf(world.fs.contentOf(path))
      if (
        digest &&
        world.fs.contentOf(`${STORE_DIR}/content/${digest.slice(0, 2)}/${digest}`) === undefined
      ) {
        return `entry ${path} survived but its content ${digest} was removed`
      }
    }
  }
  return undefined
}

/** Depth-first search over all schedules, with state deduplication. */
export function explore(configuration: Configuration, env: ActorEnvironment, limits: Limits): ExploreResult {
  const visited = new Set<string>()
  const result: ExploreResult = {
    configuration: configuration.name,
    states: 0,
    transitions: 0,
    truncated: 0,
    complete: true,
    violations: [],
  }
  const stack: Choice[][] = [[]]
  // The world of the last state expanded: its first child is reached by one more step instead
  // of a replay from the start, so a replay happens only when the search backtracks.
  let last: { world: World; schedule: Choice[] } | undefined
  while (stack.length > 0) {
    const schedule = stack.pop() as Choice[]
    let world: World
    if (last && isChildOf(schedule, last.schedule)) {
      world = last.world
      world.take(schedule[schedule.length - 1] as Choice)
      result.transitions += 1
    } else {
      world = replay(configuration, env, schedule)
      result.transitions += schedule.length
    }
    last = undefined
    const problem = world.violation ?? (world.allFinished ? finalViolation(configuration, world) : undefined)
    if (problem) {
      result.violations.push({ configuration: configuration.name, message: problem, schedule })
      if (result.violations.length >= limits.maxViolations) break
      continue
    }
    const fingerprint = world.fingerprint()
    if (visited.has(fingerprint)) continue
    visited.add(fingerprint)
    result.states += 1
    if (result.states >= limits.maxStates) {
      result.complete = false
      break
    }
    if (world.allFinished) continue
    if (schedule.length >= limits.maxDepth) {
      result.truncated += 1
      result.complete = false
      continue
    }
    const crashedAlready = schedule.some((choice) => choice < 0)
    const choices = world.choices(configuration.crashes, crashedAlready)
    for (let i = choices.length - 1; i >= 0; i--) stack.push([...schedule, choices[i] as Choice])
    last = { world, schedule }
  }
  return result
}

function isChildOf(schedule: Choice[], parent: Choice[]): boolean {
  return schedule.length === parent.length + 1 && parent.every((choice, i) => schedule[i] === choice)
}

/**
 * Random long schedules beyond the exhaustive bound: `runs` runs from a seeded generator, each
 * to completion. Reproducible: the same seed gives the same schedules.
 */
export function sample(
  configuration: Configuration,
  env: ActorEnvironment,
  runs: number,
  seed: number,
): ExploreResult {
  const random = xorshift(seed)
  const visited = new Set<string>()
  const result: ExploreResult = {
    configuration: `${configuration.name} (random, seed ${seed})`,
    states: 0,
    transitions: 0,
    truncated: 0,
    complete: false,
    violations: [],
  }
  for (let run = 0; run < runs; run++) {
    const world = replay(configuration, env, [])
    const schedule: Choice[] = []
    while (!world.allFinished && !world.violation) {
      const choices = world.choices(
        configuration.crashes && random() < 0.02,
        schedule.some((c) => c < 0),
      )
      const choice = choices[Math.floor(random() * choices.length)] as Choice
      schedule.push(choice)
      world.take(choice)
      result.transitions += 1
      const fingerprint = world.fingerprint()
      if (!visited.has(fingerprint)) {
        visited.add(fingerprint)
        result.states += 1
      }
    }
    const problem = world.violation ?? finalViolation(configuration, world)
    if (problem) result.violations.push({ configuration: configuration.name, message: problem, schedule })
  }
  return result
}

/** A readable step-by-step account of a schedule. */
export function traceOf(configuration: Configuration, env: ActorEnvironment, schedule: Choice[]): string {
  const world = replay(configuration, env, schedule, true)
  const lines = (world.trace ?? []).map((line) => line.replaceAll(`${STORE_DIR}/`, ''))
  const header = configuration.actors.map((a) => `  ${a.name}: ${a.summary}`)
  return [`${configuration.name} (${configuration.semantics} semantics)`, ...header, ...lines].join('\n')
}

function describeStep(step: Step): string {
  switch (step.op) {
    case 'open':
      return `open ${shorten(step.path)} (${step.how})`
    case 'link':
    case 'rename':
    case 'copy':
    case 'copyExclusive':
      return `${step.op} ${shorten(step.from)} -> ${shorten(step.to)}`
    case 'fstat':
    case 'read':
    case 'write':
    case 'close':
    case 'fsync':
      return `${step.op} fd ${step.fd}`
    case 'now':
      return 'now'
    case 'sleep':
      return `sleep ${step.ms} ms`
    default:
      return `${step.op} ${shorten(step.path)}`
  }
}

/** Shortens hex names in paths to 6 characters for traces. */
function shorten(path: string): string {
  return path.replace(/[0-9a-f]{16,}/g, (hex) => `${hex.slice(0, 6)}…`)
}

function summarize(value: unknown): string {
  if (value === undefined) return ''
  if (Buffer.isBuffer(value))
    return `b${value.length}:${createHash('sha1').update(value).digest('base64').slice(0, 6)}`
  if (typeof value === 'object' && value !== null && 'kind' in value) {
    const stat = value as { kind: string; size: number; mtimeMs: number; ino: number }
    return `s${stat.kind[0]}${stat.size}@${stat.mtimeMs}#${stat.ino}`
  }
  return JSON.stringify(value)
}

function describeResult(value: unknown): string {
  if (value === undefined) return 'done'
  if (typeof value === 'object' && value !== null && 'found' in value) {
    const outcome = value as { found: boolean; reason?: string; data?: Buffer }
    return outcome.found ? `hit, ${outcome.data?.length ?? 0} bytes` : `miss (${outcome.reason})`
  }
  if (typeof value === 'object' && value !== null && 'published' in value) {
    return `published: ${(value as { published: boolean }).published}`
  }
  return JSON.stringify(value)
}

function errnoText(error: unknown): string {
  return (error as { code?: string }).code ?? String(error)
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code
    const cause = (error.cause as { code?: string } | undefined)?.code
    return `${code ?? error.name}${cause ? ` (cause ${cause})` : ''}: ${error.message}`
  }
  return String(error)
}

function contentDigestOf(bytes: Buffer | undefined): string | undefined {
  const record = bytes && decodeRecord(bytes, 32)
  return record && typeof record !== 'string' && !record.inline ? record.digest : undefined
}

function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 0x1_0000_0000
  }
}

/**
 * The configurations the checker explores: small stores, two or three actors, both semantics.
 * Each names what it is for; docs/DESIGN.md lists them with the states explored.
 */

import { createHasher, type Hasher } from '@cairn/hash'
import { Layout } from '@cairn/store'
import { openOrCreate, type Protocol, putEntry, type Step } from '@cairn/store/protocol'
import {
  type ActorEnvironment,
  type ActorSpec,
  contextFor,
  deleteActor,
  gcActor,
  getActor,
  putActor,
  renamePutActor,
  STORE_DIR,
} from './actors.js'
import type { Configuration } from './explore.js'
import { MemoryFs, type Semantics } from './memory-fs.js'

/** Two keys in different shards. */
export const KEY_1 = `ab${'1'.repeat(30)}`
export const KEY_2 = `cd${'2'.repeat(30)}`

/** Values: two large enough to live in content files, and one stored inline. */
export const VALUE_A = Buffer.alloc(5000, 0x41)
export const VALUE_B = Buffer.alloc(5000, 0x42)
export const VALUE_SMALL = Buffer.from('small output')

/** Runs a protocol to the end in the model filesystem (for preparing a store). */
export function runInModel<T>(fs: MemoryFs, protocol: Protocol<T>, actor: string): T {
  let next = protocol.next()
  while (!next.done) {
    const step: Step = next.value
    let transition: ReturnType<MemoryFs['perform']>
    try {
      transition = fs.perform(step, actor)
      while (!transition.done) transition = fs.perform(step, actor)
    } catch (error) {
      next = protocol.throw(error)
      continue
    }
    next = protocol.next(transition.value)
  }
  return next.value
}

/** How a store is prepared: a filesystem without hard links (copy mode), clocks set apart. */
interface StoreOptions {
  links?: boolean
  /** Per actor name: its process clock's lead over the filesystem's, ms (negative: behind). */
  skew?: Record<string, number>
}

/** A fresh store in a model filesystem, optionally with entries already published and old. */
export function prepareStore(
  semantics: Semantics,
  hasher: Hasher,
  existing: [string, Buffer][] = [],
  options: StoreOptions = {},
): MemoryFs {
  const links = options.links ?? true
  const fs = new MemoryFs(semantics, { links })
  // Without links, openOrCreate finds out and records copy mode in the marker, as on a real disk.
  runInModel(fs, openOrCreate(new Layout(STORE_DIR, 'setup'), 'xxh128', false), 'setup')
  const ctx = contextFor('setup', { hasher, platform: 'linux', publishMode: links ? 'link' : 'copy' })
  for (const [key, value] of existing)
    runInModel(fs, putEntry(ctx, key, { kind: 'buffer', data: value }, undefined), 'setup')
  fs.advanceClock(3_600_000)
  for (const [actor, ms] of Object.entries(options.skew ?? {})) fs.setClockSkew(actor, ms)
  return fs
}

/** A minute: how far apart the clocks of the skew configurations are. */
const SKEW_MS = 60_000

/** The content grace a real prune uses (COPY_MODE_GRACE_MS): skew matters only with one. */
const REAL_GRACE_MS = 10_000

export interface ConfigurationSet {
  env: ActorEnvironment
  configurations: Configuration[]
}

const allowed = (...values: [string, Buffer][]) => new Map(values)

/**
 * The checked configurations. `deep` adds larger ones (three writers, more readers) that take
 * minutes rather than seconds.
 */
export async function buildConfigurations(options: { deep?: boolean } = {}): Promise<{
  hasher: Hasher
  configurations: Configuration[]
  counterexample: Configuration
}> {
  const hasher = await createHasher()
  const digestA = hasher.bytes(VALUE_A)
  const configurations: Configuration[] = []
  for (const semantics of ['posix', 'windows'] as const) {
    const platform = semantics === 'windows' ? 'win32' : 'linux'
    const add = (
      name: string,
      actors: ActorSpec[],
      existing: [string, Buffer][] = [],
      extra: Partial<Configuration> = {},
      store: StoreOptions = {},
    ) =>
      configurations.push({
        name: `${name} [${semantics}]`,
        semantics,
        platform,
        actors,
        initial: prepareStore(semantics, hasher, existing, store),
        crashes: false,
        checkContent: true,
        ...(store.links === false ? { publishMode: 'copy' as const } : {}),
        ...extra,
      })
    const copyMode = { links: false }
    /** The GC's clock a minute ahead of the filesystem's, the writers' a minute behind; or the reverse. */
    const gcAhead = { skew: { gc: SKEW_MS, writer: -SKEW_MS, writer1: -SKEW_MS, writer2: -SKEW_MS } }
    const gcBehind = { skew: { gc: -SKEW_MS, writer: SKEW_MS } }

    add('two writers race for one key, a reader reads it', [
      putActor('writer1', KEY_1, 'A', VALUE_A),
      putActor('writer2', KEY_1, 'B', VALUE_B),
      getActor('reader', KEY_1, allowed(['A', VALUE_A], ['B', VALUE_B])),
    ])
    add(
      'a writer, a deleter and a reader on one key',
      [
        putActor('writer', KEY_1, 'A', VALUE_A),
        deleteActor('deleter', KEY_1),
        getActor('reader', KEY_1, allowed(['A', VALUE_A])),
      ],
      [[KEY_1, VALUE_A]],
    )
    add(
      'a GC prunes to zero while a writer reuses the content and a reader reads',
      [
        putActor('writer', KEY_2, 'A', VALUE_A),
        getActor('reader', KEY_2, allowed(['A', VALUE_A])),
        gcActor('gc', [KEY_1, KEY_2], [digestA], 0),
      ],
      [[KEY_1, VALUE_A]],
    )
    add(
      'a GC prunes an entry a reader is using',
      [getActor('reader', KEY_1, allowed(['A', VALUE_A])), gcActor('gc', [KEY_1], [digestA], 0)],
      [[KEY_1, VALUE_A]],
    )
    add(
      'a writer may be killed at any step; a reader reads',
      [putActor('writer', KEY_1, 'A', VALUE_A), getActor('reader', KEY_1, allowed(['A', VALUE_A]))],
      [],
      { crashes: true },
    )
    add(
      'two deleters and a reader on one key',
      [
        deleteActor('deleter1', KEY_1),
        deleteActor('deleter2', KEY_1),
        getActor('reader', KEY_1, allowed(['A', VALUE_A])),
      ],
      [[KEY_1, VALUE_A]],
    )
    add('inline entries: two writers and a reader', [
      putActor('writer1', KEY_1, 'small', VALUE_SMALL),
      putActor('writer2', KEY_1, 'small', VALUE_SMALL),
      getActor('reader', KEY_1, allowed(['small', VALUE_SMALL])),
    ])
    // About 80,000 states under each semantics: Windows' run is in --deep only, to keep CI short.
    if (semantics === 'posix' || options.deep) {
      add(
        'copy mode (no hard links): a GC prunes to zero while a writer reuses the content and a reader reads',
        [
          putActor('writer', KEY_2, 'A', VALUE_A),
          getActor('reader', KEY_2, allowed(['A', VALUE_A])),
          gcActor('gc', [KEY_1, KEY_2], [digestA], 0),
        ],
        [[KEY_1, VALUE_A]],
        {},
        copyMode,
      )
    }
    add(
      'copy mode (no hard links): a writer and a reader on one key',
      [putActor('writer', KEY_1, 'A', VALUE_A), getActor('reader', KEY_1, allowed(['A', VALUE_A]))],
      [],
      {},
      copyMode,
    )
    if (semantics === 'posix') {
      add(
        'clock skew (GC +1 min, writer -1 min, grace 10 s): a GC prunes to zero while a writer reuses the content and a reader reads',
        [
          putActor('writer', KEY_2, 'A', VALUE_A),
          getActor('reader', KEY_2, allowed(['A', VALUE_A])),
          gcActor('gc', [KEY_1, KEY_2], [digestA], REAL_GRACE_MS),
        ],
        [[KEY_1, VALUE_A]],
        {},
        gcAhead,
      )
      add(
        'clock skew (GC -1 min, writer +1 min, grace 10 s): a GC prunes to zero while a writer reuses the content',
        [putActor('writer', KEY_2, 'A', VALUE_A), gcActor('gc', [KEY_1, KEY_2], [digestA], REAL_GRACE_MS)],
        [[KEY_1, VALUE_A]],
        {},
        gcBehind,
      )
    }
    if (options.deep) {
      add(
        'copy mode (no hard links): two writers race for one key, a reader reads it',
        [
          putActor('writer1', KEY_1, 'A', VALUE_A),
          putActor('writer2', KEY_1, 'B', VALUE_B),
          getActor('reader', KEY_1, allowed(['A', VALUE_A], ['B', VALUE_B])),
        ],
        [],
        {},
        copyMode,
      )
      add(
        'copy mode (no hard links): two writers reuse content while a GC prunes and a reader reads',
        [
          putActor('writer1', KEY_2, 'A', VALUE_A),
          putActor('writer2', KEY_1, 'A', VALUE_A),
          getActor('reader', KEY_2, allowed(['A', VALUE_A])),
          gcActor('gc', [KEY_1, KEY_2], [digestA], 0),
        ],
        [[KEY_1, VALUE_A]],
        {},
        copyMode,
      )
      add(
        'clock skew (GC +1 min, writers -1 min, grace 10 s): two writers reuse content while a GC prunes',
        [
          putActor('writer1', KEY_2, 'A', VALUE_A),
          putActor('writer2', KEY_1, 'A', VALUE_A),
          gcActor('gc', [KEY_1, KEY_2], [digestA], REAL_GRACE_MS),
        ],
        [[KEY_1, VALUE_A]],
        {},
        gcAhead,
      )
      add('three writers race for one key, a reader reads it', [
        putActor('writer1', KEY_1, 'A', VALUE_A),
        putActor('writer2', KEY_1, 'B', VALUE_B),
        putActor('writer3', KEY_1, 'A', VALUE_A),
        getActor('reader', KEY_1, allowed(['A', VALUE_A], ['B', VALUE_B])),
      ])
      add(
        'two writers reuse content while a GC prunes and a reader reads',
        [
          putActor('writer1', KEY_2, 'A', VALUE_A),
          putActor('writer2', KEY_1, 'A', VALUE_A),
          getActor('reader', KEY_2, allowed(['A', VALUE_A])),
          gcActor('gc', [KEY_1, KEY_2], [digestA], 0),
        ],
        [[KEY_1, VALUE_A]],
      )
    }
  }
  // The original bug: publishing with rename under Windows, read by a reader that, like LLVM's,
  // has no reason to expect a permission error from another process. The same reader is safe
  // when writers publish with link, which never holds the destination.
  configurations.push({
    name: 'link publishing, a reader without busy-file retries [windows]',
    semantics: 'windows',
    platform: 'linux',
    actors: [
      putActor('writer1', KEY_1, 'small', VALUE_SMALL),
      putActor('writer2', KEY_1, 'small', VALUE_SMALL),
      getActor('reader', KEY_1, allowed(['small', VALUE_SMALL])),
    ],
    initial: prepareStore('windows', hasher),
    crashes: false,
    checkContent: true,
  })
  const record = prepareRecord(hasher)
  const counterexample: Configuration = {
    name: 'rename publishing (LLVM ThinLTO cache) [windows]',
    semantics: 'windows',
    platform: 'linux',
    actors: [
      renamePutActor('writer', KEY_1, 'small', record),
      getActor('reader', KEY_1, allowed(['small', VALUE_SMALL])),
    ],
    initial: prepareStore('windows', hasher, [[KEY_1, VALUE_SMALL]]),
    crashes: false,
    checkContent: false,
  }
  return { hasher, configurations, counterexample }
}

/** The bytes of a valid record holding VALUE_SMALL inline: what the rename writer publishes. */
function prepareRecord(hasher: Hasher): Buffer {
  const fs = prepareStore('posix', hasher, [[KEY_1, VALUE_SMALL]])
  return fs.contentOf(`${STORE_DIR}/entries/${KEY_1.slice(0, 2)}/${KEY_1}`) as Buffer
}

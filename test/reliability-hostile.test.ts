// Reliability scenario 6 (docs/RELIABILITY.md): hostile on-disk state. Whatever sits where an
// entry record or content file should be, a read is a miss or the right bytes: it never throws,
// never hangs, and never reads outside the store.

import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { main } from '@cairn/cli'
import { prune } from '@cairn/gc'
import { decodeRecord, type JsonValue, openStore, RECORD_MAX_BYTES, type Store } from '@cairn/store'
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { clockPast } from './helpers/clock.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const entryPath = (dir: string, key: string) => join(dir, 'entries', key.slice(0, 2), key)
const contentPath = (dir: string, digest: string) => join(dir, 'content', digest.slice(0, 2), digest)

function replace(path: string, make: () => void) {
  chmodSync(path, 0o644)
  unlinkSync(path)
  make()
}

const hostile = suite('hostile on-disk state')
hostile.after(removeTempDirs)

/** Every kind of thing that can stand where a store file should. */
function hostileReplacements(outside: string): [string, (path: string) => void][] {
  const fifo = join(outside, 'fifo')
  execFileSync('mkfifo', [fifo])
  const secret = join(outside, 'secret')
  writeFileSync(secret, 'outside the store')
  return [
    ['random bytes', (p) => writeFileSync(p, randomBytes(500))],
    ['an empty file', (p) => writeFileSync(p, '')],
    ['a directory', (p) => mkdirSync(p)],
    ['a FIFO', (p) => execFileSync('mkfifo', [p])],
    ['a symlink outside the store', (p) => symlinkSync(secret, p)],
    ['a symlink to /dev/zero', (p) => symlinkSync('/dev/zero', p)],
    ['a symlink to a FIFO', (p) => symlinkSync(fifo, p)],
    ['a dangling symlink', (p) => symlinkSync(join(outside, 'nothing'), p)],
  ]
}

/**
 * Puts an entry of 10,000 random bytes into the store at `dir`, then replaces its record or its
 * content file with what `make` makes in its place. Returns the entry's key.
 */
async function plantHostile(
  dir: string,
  store: Store,
  target: 'record' | 'content',
  make: (path: string) => void,
): Promise<string> {
  const key = randomBytes(16).toString('hex')
  const { digest } = await store.put(key, randomBytes(10_000))
  const path = target === 'record' ? entryPath(dir, key) : contentPath(dir, digest)
  replace(path, () => make(path))
  return key
}

hostile(
  'records and content replaced by anything: every read is a miss and nothing outside is touched',
  async () => {
    const outside = tempDir('cairn-outside-')
    const replacements = hostileReplacements(outside)
    let reads = 0
    for (const [name, make] of replacements) {
      for (const target of ['record', 'content'] as const) {
        const dir = tempDir()
        const store = await openStore(dir, { verify: 'hash' })
        const key = await plantHostile(dir, store, target, make)
        assert.is(await store.get(key), undefined, `${name} as ${target}: get`)
        assert.is(store.getSync(key), undefined, `${name} as ${target}: getSync`)
        assert.is(await store.info(key), undefined, `${name} as ${target}: info`)
        assert.is(await store.getStream(key), undefined, `${name} as ${target}: getStream`)
        assert.is(
          await store.materialize(key, join(outside, 'out')),
          false,
          `${name} as ${target}: materialize`,
        )
        reads += 5
        // The store stays usable: a fresh put of the key hits.
        const fresh = randomBytes(10_000)
        await store.put(key, fresh)
        const hit = await store.get(key)
        // A directory is never removed by a reader (only reported by the GC), so it stays a miss.
        if (name !== 'a directory') assert.ok(hit?.data.equals(fresh), `${name} as ${target}: recovers`)
      }
    }
    assert.is(readFileSync(join(outside, 'secret'), 'utf8'), 'outside the store')
    console.log(
      `    ${replacements.length} kinds of hostile file × record/content: ${reads} reads, all misses`,
    )
  },
)

hostile('a prune to zero clears hostile files without following, hanging or leaving debris', async () => {
  const outside = tempDir('cairn-outside-')
  const replacements = hostileReplacements(outside)
  const dir = tempDir()
  const store = await openStore(dir)
  for (const [, make] of replacements) {
    for (const target of ['record', 'content'] as const) await plantHostile(dir, store, target, make)
  }
  // A zero grace still keeps files modified at or after the scan's start (the writers' side of the
  // content handshake), so let the clock move past the last write first.
  await clockPast(dir)
  const report = await prune(dir, { maxEntries: 0, tempGrace: 0 })
  assert.is(report.skipped, false)
  assert.is(report.kept.entries, 0)
  assert.ok(report.corrupt.removed >= replacements.length - 1, `${report.corrupt.removed} corrupt removed`)
  assert.is(readFileSync(join(outside, 'secret'), 'utf8'), 'outside the store', 'no symlink was followed')
  // What is left is what the GC must never delete: the directories standing where files belong
  // (reported, not removed), and nothing else.
  const left = listFiles(dir).filter((path) => !/^(cairn-store\.json|CACHEDIR\.TAG|gc\.stamp)$/.test(path))
  assert.equal(left, [], 'nothing but directories remains')
  console.log(`    ${replacements.length * 2} hostile files: ${report.corrupt.removed} removed as corrupt`)
})

hostile(
  'cairn verify finds every hostile file, and --fix removes them without following or hanging',
  async () => {
    const outside = tempDir('cairn-outside-')
    // A directory standing where a file belongs is reported but never deleted (it might hold
    // someone's files), so --fix cannot clear it; the prune test above covers that case.
    const replacements = hostileReplacements(outside).filter(([name]) => name !== 'a directory')
    const dir = tempDir()
    const store = await openStore(dir)
    const keys: string[] = []
    for (const [, make] of replacements) {
      for (const target of ['record', 'content'] as const) {
        keys.push(await plantHostile(dir, store, target, make))
      }
    }
    const verify = async (...flags: string[]) => {
      const out = new PassThrough()
      const err = new PassThrough()
      const chunks: Buffer[] = []
      out.on('data', (chunk: Buffer) => chunks.push(chunk))
      err.resume()
      const code = await main(['verify', '--store', dir, '--json', ...flags], { stdout: out, stderr: err })
      return { code, report: JSON.parse(Buffer.concat(chunks).toString()) as { damage: unknown[] } }
    }
    const found = await verify()
    assert.is(found.code, 1, 'damage found without --fix is exit 1')
    assert.ok(found.report.damage.length >= replacements.length, `${found.report.damage.length} damaged`)
    const fixed = await verify('--fix')
    assert.is(fixed.code, 0)
    assert.is(readFileSync(join(outside, 'secret'), 'utf8'), 'outside the store', 'no symlink was followed')
    // After the fix every hostile key is a plain miss, and a second verify finds nothing.
    for (const key of keys) assert.is(await store.get(key), undefined)
    const again = await verify()
    assert.is(again.code, 0)
    assert.equal(again.report.damage, [])
    console.log(`    cairn verify: ${found.report.damage.length} damaged found, all removed by --fix`)
  },
)

/** Every non-directory under `dir`, relative, without following symlinks. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((item) => {
    const path = prefix ? `${prefix}/${item.name}` : item.name
    return item.isDirectory() ? listFiles(dir, path) : [path]
  })
}

hostile('a record with a huge size field, or another format version, is a miss', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const key = randomBytes(16).toString('hex')
  await store.put(key, 'small')
  const record = readFileSync(entryPath(dir, key))
  const huge = Buffer.from(record.toString('latin1').replace('"size":5', `"size":${2 ** 52}`), 'latin1')
  replace(entryPath(dir, key), () => writeFileSync(entryPath(dir, key), huge))
  assert.is(await store.get(key), undefined)
  await store.put(key, 'small')
  const otherVersion = Buffer.from(readFileSync(entryPath(dir, key)))
  otherVersion[4] = 2
  replace(entryPath(dir, key), () => writeFileSync(entryPath(dir, key), otherVersion))
  assert.is(await store.get(key), undefined)
  assert.is(store.stats().corrupt, 2)
})

hostile.run()

// ---

const fuzz = suite('record parser fuzzing')

fuzz(
  'decodeRecord never throws on random bytes or mutated records, and accepts only consistent records (20,000 cases)',
  async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const valid: Buffer[] = []
    const shapes: [number, JsonValue | undefined][] = [
      [0, undefined],
      [10, { a: 1 }],
      [4096, ['x', null, true]],
      [5000, undefined],
    ]
    for (const [size, metadata] of shapes) {
      const key = randomBytes(16).toString('hex')
      await store.put(key, randomBytes(size), metadata === undefined ? {} : { metadata })
      valid.push(readFileSync(entryPath(dir, key)))
    }
    const check = (bytes: Uint8Array) => {
      const record = decodeRecord(Buffer.from(bytes), 32)
      if (typeof record === 'string') return ['bad-record', 'other-version'].includes(record)
      return (
        record.size >= 0 &&
        (record.inline === undefined || record.inline.length === record.size) &&
        record.digest.length === 32
      )
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), check), { numRuns: 10_000 })
    const mutated = fc
      .tuple(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat()),
      )
      .map(([base, edits, cut]) => {
        const copy = Buffer.from(base)
        for (const [at, value] of edits) copy[at % copy.length] = value
        return cut === null ? copy : copy.subarray(0, cut % (copy.length + 1))
      })
    fc.assert(fc.property(mutated, check), { numRuns: 10_000 })
    assert.ok(RECORD_MAX_BYTES > 4096)
  },
)

fuzz(
  'get of a randomly damaged record never throws and never returns wrong bytes (hash verification)',
  async () => {
    const dir = tempDir()
    const store = await openStore(dir, { verify: 'hash' })
    const key = randomBytes(16).toString('hex')
    const data = randomBytes(300)
    await store.put(key, data)
    const original = readFileSync(entryPath(dir, key))
    let hits = 0
    let misses = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        async (edits) => {
          const copy = Buffer.from(original)
          for (const [at, value] of edits) copy[at % copy.length] = value
          try {
            chmodSync(entryPath(dir, key), 0o644)
          } catch {}
          writeFileSync(entryPath(dir, key), copy)
          const entry = await store.get(key)
          if (entry === undefined) misses += 1
          else {
            hits += 1
            assert.ok(entry.data.equals(data))
          }
        },
      ),
      { numRuns: 500 },
    )
    console.log(
      `    500 damaged records: ${hits} still whole (edits that changed nothing, or only metadata), ${misses} misses`,
    )
  },
)

fuzz.run()

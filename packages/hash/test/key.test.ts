import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import * as hash from '@cairn/hash'
import { createHasher, ENCODING_VERSION, encodeCanonical, hashKey, type KeyValue } from '@cairn/hash'
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { fromVectorJson, type VectorJson } from './vector-value.js'

interface Vector {
  name: string
  value: VectorJson
  key: string
}
interface Vectors {
  encodingVersion: number
  xxh128: Vector[]
  sha256: Vector[]
  encodings: { name: string; value: VectorJson; hex: string }[]
}
const vectors: Vectors = JSON.parse(readFileSync(new URL('../../test/vectors.json', import.meta.url), 'utf8'))
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

const exportsSuite = suite('exports')

exportsSuite('the package exports the documented API', () => {
  for (const name of ['createHasher', 'hashKey', 'hashFile', 'encodeCanonical']) {
    assert.type((hash as Record<string, unknown>)[name], 'function', name)
  }
  assert.is(ENCODING_VERSION, 1)
})

exportsSuite('createHasher defaults to xxh128 and rejects unknown algorithms', async () => {
  assert.is((await createHasher()).algorithm, 'xxh128')
  assert.is((await createHasher({ algorithm: 'sha256' })).algorithm, 'sha256')
  try {
    await createHasher({ algorithm: 'md5' as 'sha256' })
    assert.unreachable('md5 accepted')
  } catch (error) {
    assert.instance(error, TypeError)
    assert.is((error as { code?: string }).code, 'ERR_CAIRN_INVALID_OPTION')
    assert.match((error as Error).message, 'md5')
  }
})

exportsSuite.run()

// ---

const golden = suite('golden vectors')

golden('cover at least 30 values for each algorithm, with the current encoding version', () => {
  assert.is(vectors.encodingVersion, ENCODING_VERSION)
  assert.ok(vectors.xxh128.length >= 30)
  assert.ok(vectors.sha256.length >= 30)
})

for (const algorithm of ['xxh128', 'sha256'] as const) {
  golden(`${algorithm} keys match the frozen vectors`, async () => {
    const hasher = await createHasher({ algorithm })
    for (const vector of vectors[algorithm]) {
      assert.is(hasher.key(fromVectorJson(vector.value)), vector.key, vector.name)
    }
  })
}

golden('encodings match the frozen bytes', () => {
  for (const vector of vectors.encodings) {
    assert.is(hex(encodeCanonical(fromVectorJson(vector.value))), vector.hex, vector.name)
  }
})

golden('a sha256 key is the plain SHA-256 of the canonical encoding', async () => {
  const hasher = await createHasher({ algorithm: 'sha256' })
  const value = { args: ['-O2'], tool: 'cc' }
  const expected = createHash('sha256').update(encodeCanonical(value)).digest('hex')
  assert.is(hasher.key(value), expected)
})

golden('the encoding of ["ab","c"] is the one FORMAT.md spells out byte by byte', () => {
  // header "CK" v1, array tag, count 2, string tag, length 2, "ab", string tag, length 1, "c"
  assert.is(
    hex(encodeCanonical(['ab', 'c'])),
    '434b0107' + '00000002' + '05' + '00000002' + '6162' + '05' + '00000001' + '63',
  )
})

golden('keys are 32 hex characters for xxh128 and 64 for sha256', async () => {
  assert.match(await hashKey('x'), /^[0-9a-f]{32}$/)
  assert.match((await createHasher({ algorithm: 'sha256' })).key('x'), /^[0-9a-f]{64}$/)
})

golden.run()

// ---

const distinct = suite('equal and distinct values')

async function same(a: KeyValue, b: KeyValue) {
  assert.is(await hashKey(a), await hashKey(b), 'equal values should share a key')
}
async function different(a: KeyValue, b: KeyValue) {
  assert.is.not(hex(encodeCanonical(a)), hex(encodeCanonical(b)), 'encodings should differ')
  assert.is.not(await hashKey(a), await hashKey(b), 'keys should differ')
}

distinct('values that naive concatenation confuses get different keys', async () => {
  await different(['ab', 'c'], ['a', 'bc'])
  await different(1, '1')
  await different(null, 'null')
  await different('abc', Uint8Array.from([0x61, 0x62, 0x63]))
  await different(true, 'true')
  await different(1, 1n)
  await different([], {})
  await different([[]], [])
  await different({ a: 'b' }, ['a', 'b'])
  await different({ a: '', b: '' }, { 'a\u0000': '', b: '' })
  await different('\uD83D', '\uFFFD')
  await different('\uDE00', '\uFFFD')
  await different('e\u0301', '\u00e9')
  await different(-1n, 1n)
  await different(Number.NaN, Number.POSITIVE_INFINITY)
  await different(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)
  await different(Number.NaN, null)
})

distinct('property order, undefined properties and -0 do not change the key', async () => {
  await same({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })
  await same({ a: 1, gone: undefined }, { a: 1 })
  await same(-0, 0)
  await same(Number.NaN, 0 / 0)
  await same(Buffer.from('xy'), Uint8Array.from([0x78, 0x79]))
  const nullPrototype = Object.assign(Object.create(null), { a: 1 })
  await same(nullPrototype, { a: 1 })
})

distinct('property names are sorted by code point, not by UTF-16 unit', () => {
  // U+FF61 sorts before U+1F600 by code point but after it by UTF-16 code unit.
  const bytes = encodeCanonical({ '😀': 1, '\uFF61': 2 })
  const first = Buffer.from(bytes).indexOf(Buffer.from('\uFF61'))
  const second = Buffer.from(bytes).indexOf(Buffer.from('😀'))
  assert.ok(first > 0 && second > first)
})

const keyValue: fc.Arbitrary<KeyValue> = fc.letrec<{ value: KeyValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.bigInt(),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: 'grapheme' }),
    fc.uint8Array({ maxLength: 8 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), tie('value'), { maxKeys: 4 }),
  ),
})).value

/** Structural equality with the encoding's notion of equal: -0 is 0, NaN is NaN. */
function equalValues(a: KeyValue | undefined, b: KeyValue | undefined): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b))
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b))
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => equalValues(x, b[i]))
    )
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keysA = Object.keys(a).filter((k) => a[k] !== undefined)
    const keysB = Object.keys(b).filter((k) => b[k] !== undefined)
    return keysA.length === keysB.length && keysA.every((k) => k in b && equalValues(a[k], b[k]))
  }
  return a === b
}

distinct('property: distinct values have distinct encodings', () => {
  fc.assert(
    fc.property(keyValue, keyValue, (a, b) => {
      const sameBytes = Buffer.from(encodeCanonical(a)).equals(Buffer.from(encodeCanonical(b)))
      return sameBytes === equalValues(a, b)
    }),
    { numRuns: 2000 },
  )
})

distinct('property: reordering properties never changes the key', async () => {
  const hasher = await createHasher()
  fc.assert(
    fc.property(fc.dictionary(fc.string(), keyValue, { maxKeys: 6 }), (object) => {
      const reversed = Object.fromEntries(Object.entries(object).reverse())
      return hasher.key(object) === hasher.key(reversed)
    }),
    { numRuns: 500 },
  )
})

distinct.run()

// ---

const unsupported = suite('unsupported values')

function throwsUnsupported(value: unknown, path: string) {
  try {
    encodeCanonical(value as KeyValue)
  } catch (error) {
    assert.instance(error, TypeError)
    assert.is((error as { code?: string }).code, 'ERR_CAIRN_UNSUPPORTED_VALUE')
    assert.is((error as { path?: string }).path, path)
    assert.ok((error as Error).message.includes(path), `message names ${path}: ${(error as Error).message}`)
    return
  }
  assert.unreachable(`accepted ${String(value)}`)
}

unsupported('throw a TypeError with the code and the path of the bad value', () => {
  throwsUnsupported(() => 1, 'value')
  throwsUnsupported(Symbol('s'), 'value')
  throwsUnsupported(undefined, 'value')
  throwsUnsupported({ flags: [1, 2, undefined] }, 'value.flags[2]')
  throwsUnsupported({ flags: [1, 2, () => 3] }, 'value.flags[2]')
  throwsUnsupported({ options: { when: new Date(0) } }, 'value.options.when')
  throwsUnsupported([new Map()], 'value[0]')
  throwsUnsupported([new Set()], 'value[0]')
  throwsUnsupported({ 'odd name': new (class Point {})() }, 'value["odd name"]')
  throwsUnsupported({ view: new Uint16Array(2) }, 'value.view')
  throwsUnsupported({ buffer: new ArrayBuffer(2) }, 'value.buffer')
  throwsUnsupported({ [Symbol('s')]: 1 }, 'value')
  // biome-ignore lint/suspicious/noSparseArray: a hole is exactly what is being tested
  throwsUnsupported([1, , 3], 'value[1]')
})

unsupported('reject cycles but accept a shared, acyclic sub-value', () => {
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  throwsUnsupported(cyclic, 'value.self')
  const arrayCycle: unknown[] = []
  arrayCycle.push([arrayCycle])
  throwsUnsupported(arrayCycle, 'value[0][0]')
  const shared = { x: 1 }
  assert.ok(encodeCanonical({ a: shared, b: shared }).length > 0)
})

unsupported.run()

// ---

const processes = suite('determinism across processes')

processes('a child process computes the same keys for every vector', async () => {
  const script = `
    import { createHasher } from '@cairn/hash'
    import { fromVectorJson } from ${JSON.stringify(new URL('./vector-value.js', import.meta.url).href)}
    import { readFileSync } from 'node:fs'
    const vectors = JSON.parse(readFileSync(process.argv[1], 'utf8'))
    const out = {}
    for (const algorithm of ['xxh128', 'sha256']) {
      const hasher = await createHasher({ algorithm })
      out[algorithm] = vectors[algorithm].map((v) => hasher.key(fromVectorJson(v.value)))
    }
    console.log(JSON.stringify(out))
  `
  const vectorsPath = new URL('../../test/vectors.json', import.meta.url).pathname
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script, vectorsPath], {
    cwd: new URL('../..', import.meta.url).pathname,
    encoding: 'utf8',
  })
  const child = JSON.parse(stdout) as Record<'xxh128' | 'sha256', string[]>
  for (const algorithm of ['xxh128', 'sha256'] as const) {
    const hasher = await createHasher({ algorithm })
    assert.equal(
      child[algorithm],
      vectors[algorithm].map((v) => hasher.key(fromVectorJson(v.value))),
    )
  }
})

processes.run()

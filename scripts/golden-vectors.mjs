#!/usr/bin/env node
// Writes packages/hash/test/vectors.json: the frozen keys that pin the key encoding.
//
// Run it only when the encoding changes, and then bump ENCODING_VERSION in
// packages/hash/src/encode.ts in the same commit (docs/FORMAT.md says why). Needs `pnpm build`.
//
// Usage: node scripts/golden-vectors.mjs

import { writeFileSync } from 'node:fs'
import { createHasher, ENCODING_VERSION, encodeCanonical } from '../packages/hash/dist/index.js'
import { toVectorJson } from '../packages/hash/dist/test/vector-value.js'

const cases = [
  ['null', null],
  ['false', false],
  ['true', true],
  ['zero', 0],
  ['negative zero equals zero', -0],
  ['one', 1],
  ['negative float', -1.5],
  ['max safe integer', Number.MAX_SAFE_INTEGER],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['bigint zero', 0n],
  ['bigint one', 1n],
  ['bigint negative', -255n],
  ['bigint 2^64', 2n ** 64n],
  ['bigint huge', 3n ** 200n],
  ['empty string', ''],
  ['string "1"', '1'],
  ['string "null"', 'null'],
  ['ascii', 'tsc -p tsconfig.json'],
  ['latin-1 and combining mark', 'cafe\u0301 café'],
  ['astral plane', '𝄞 music, 😀 emoji'],
  ['lone high surrogate', '\uD83D'],
  ['lone low surrogate', '\uDE00'],
  ['replacement character', '\uFFFD'],
  ['NUL inside string', 'a\u0000b'],
  ['empty bytes', new Uint8Array(0)],
  ['bytes of "abc"', Uint8Array.from([0x61, 0x62, 0x63])],
  ['empty array', []],
  ['array ["ab","c"]', ['ab', 'c']],
  ['array ["a","bc"]', ['a', 'bc']],
  ['nested arrays', [[], [[]], [1, [2, [3]]]]],
  ['empty object', {}],
  ['object', { b: 2, a: 1 }],
  ['object, other property order', { a: 1, b: 2 }],
  ['object with undefined property', { a: 1, skipped: undefined }],
  ['object property names by code point', { '\uFF61': 1, '😀': 2, a: 3, B: 4, '': 5 }],
  [
    'typical compiler options',
    {
      tool: 'tsc',
      version: '5.9.3',
      args: ['-p', '.', '--strict'],
      env: { NODE_ENV: 'production' },
      inputs: [{ path: 'src/index.ts', digest: '0123456789abcdef0123456789abcdef' }],
      incremental: false,
      jobs: 4,
    },
  ],
  ['mixed types in array', [null, true, 0, 0n, '', new Uint8Array(0), [], {}]],
]

const vectors = { encodingVersion: ENCODING_VERSION }
for (const algorithm of ['xxh128', 'sha256']) {
  const hasher = await createHasher({ algorithm })
  vectors[algorithm] = cases.map(([name, value]) => ({
    name,
    value: toVectorJson(value),
    key: hasher.key(value),
  }))
}
// A few full encodings, so a reimplementation can check its bytes before its digests.
vectors.encodings = cases
  .filter(([name]) =>
    ['true', 'one', 'array ["ab","c"]', 'object', 'bigint negative', 'lone high surrogate'].includes(name),
  )
  .map(([name, value]) => ({
    name,
    value: toVectorJson(value),
    hex: Buffer.from(encodeCanonical(value)).toString('hex'),
  }))

const path = new URL('../packages/hash/test/vectors.json', import.meta.url)
writeFileSync(path, `${JSON.stringify(vectors, null, 2)}\n`)
console.log(`wrote ${cases.length} cases for each algorithm to ${path.pathname}`)

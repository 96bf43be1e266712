// The compression option: what openStore and openStoreSync accept, and the errors for the rest.

import { readdirSync } from 'node:fs'
import * as zlib from 'node:zlib'
import { createHasher } from '@cairn/hash'
import { availableCodecs, type CompressionOption, openStore, openStoreSync } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { rejectsWith, removeTempDirs, tempDir } from './helpers.js'

const test = suite('the compression option')
test.after(removeTempDirs)

const hashers = [await createHasher()]

test('availableCodecs: none, gzip and brotli always; zstd exactly when node:zlib has it', () => {
  const codecs = availableCodecs()
  assert.equal(codecs.slice(0, 3), ['none', 'gzip', 'brotli'])
  assert.is(codecs.includes('zstd'), 'zstdCompressSync' in zlib)
  assert.is(codecs.length, 'zstdCompressSync' in zlib ? 4 : 3)
})

test('accepts every available codec, by name or with a level in its range and a threshold', async () => {
  const dir = tempDir()
  const valid: CompressionOption[] = [
    'none',
    { codec: 'none', threshold: 100_000 },
    'gzip',
    { codec: 'gzip', level: 1 },
    { codec: 'gzip', level: 9, threshold: 4096 },
    'brotli',
    { codec: 'brotli', level: 0 },
    { codec: 'brotli', level: 11, threshold: 1 << 20 },
  ]
  if (availableCodecs().includes('zstd'))
    valid.push('zstd', { codec: 'zstd', level: 1 }, { codec: 'zstd', level: 19 })
  for (const compression of valid) {
    await openStore(dir, { compression })
    openStoreSync(dir, hashers, { compression })
  }
})

const invalid: [string, unknown, RegExp][] = [
  ['an unknown codec', 'lz4', /compression is "lz4"; expected one of 'none', 'gzip', 'brotli'/],
  ['a codec in the wrong case', 'GZIP', /expected one of/],
  ['a number', 6, /expected one of/],
  ['null', null, /expected one of/],
  ['an object without codec', { level: 3 }, /compression.codec/],
  [
    'an unknown property',
    { codec: 'gzip', lvl: 3 },
    /no property "lvl"; it takes codec, level and threshold/,
  ],
  [
    'a gzip level of 0',
    { codec: 'gzip', level: 0 },
    /compression.level is 0; expected an integer from 1 to 9 for gzip/,
  ],
  ['a gzip level of 10', { codec: 'gzip', level: 10 }, /from 1 to 9/],
  ['a brotli level of 12', { codec: 'brotli', level: 12 }, /from 0 to 11 for brotli/],
  ['a fractional level', { codec: 'brotli', level: 4.5 }, /from 0 to 11/],
  ['a level as a string', { codec: 'gzip', level: '6' }, /compression.level is "6"/],
  ['a level with codec none', { codec: 'none', level: 1 }, /no level with codec 'none'/],
  ['a threshold below 4096', { codec: 'gzip', threshold: 4095 }, /at least 4096/],
  ['a fractional threshold', { codec: 'gzip', threshold: 5000.5 }, /at least 4096/],
  ['an infinite threshold', { codec: 'gzip', threshold: Number.POSITIVE_INFINITY }, /at least 4096/],
]
if (availableCodecs().includes('zstd')) {
  invalid.push(['a zstd level of 20', { codec: 'zstd', level: 20 }, /from 1 to 19 for zstd/])
} else {
  invalid.push(
    ['zstd on this Node', 'zstd', /zstd needs Node 22.15 or later .*; use 'gzip' or 'brotli'/],
    ['zstd on this Node, as an object', { codec: 'zstd', level: 3 }, /zstd needs Node 22.15 or later/],
  )
}

for (const [name, compression, message] of invalid) {
  test(`${name} is ERR_CAIRN_INVALID_OPTION, from openStore and openStoreSync, before the store is created`, async () => {
    const dir = tempDir()
    const options = { compression } as { compression: CompressionOption }
    const error = await rejectsWith(() => openStore(dir, options), 'ERR_CAIRN_INVALID_OPTION')
    assert.match(error.message, message)
    const syncError = await rejectsWith(
      () => openStoreSync(dir, hashers, options),
      'ERR_CAIRN_INVALID_OPTION',
    )
    assert.is(syncError.message, error.message)
    assert.equal(readdirSync(dir), [], 'nothing written')
  })
}

test.run()

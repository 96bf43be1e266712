// Entry records of compressed entries (version 02, docs/FORMAT.md): what decodeRecord accepts,
// and what it refuses; and the frame header's parser.

import { decodeRecord, readContentFrameHeader } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { frameHeader } from './compression-helpers.js'

const DIGEST = '26c7827d889f6da3040982e185e9c819'

function record(version: number, header: object, flags = 0, inline = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8')
  const fixed = Buffer.alloc(12)
  fixed.write('CRNE', 0, 'latin1')
  fixed[4] = version
  fixed[5] = flags
  fixed.writeUInt32BE(json.length, 8)
  return Buffer.concat([fixed, json, inline])
}

const test = suite('records of compressed entries')

test('version 02 with codec and stored decodes, with codec and stored', () => {
  for (const codec of ['gzip', 'brotli', 'zstd']) {
    const decoded = decodeRecord(record(2, { digest: DIGEST, size: 10_000, time: 1, codec, stored: 300 }), 32)
    assert.ok(typeof decoded === 'object', codec)
    assert.is(decoded.codec, codec)
    assert.is(decoded.stored, 300)
    assert.is(decoded.size, 10_000)
    assert.is(decoded.inline, undefined)
  }
})

test('version 01 decodes as raw: codec none, stored the size (0 when inline)', () => {
  const raw = decodeRecord(record(1, { digest: DIGEST, size: 10_000, time: 1 }), 32)
  assert.ok(typeof raw === 'object')
  assert.is(raw.codec, 'none')
  assert.is(raw.stored, 10_000)
  const inline = decodeRecord(record(1, { digest: DIGEST, size: 3, time: 1 }, 1, Buffer.from('abc')), 32)
  assert.ok(typeof inline === 'object')
  assert.is(inline.codec, 'none')
  assert.is(inline.stored, 0)
})

const bad: [string, Buffer][] = [
  [
    'version 01 with a codec',
    record(1, { digest: DIGEST, size: 10_000, time: 1, codec: 'gzip', stored: 300 }),
  ],
  ['version 01 with stored only', record(1, { digest: DIGEST, size: 10_000, time: 1, stored: 300 })],
  ['version 02 without a codec', record(2, { digest: DIGEST, size: 10_000, time: 1, stored: 300 })],
  [
    'version 02 with codec none',
    record(2, { digest: DIGEST, size: 10_000, time: 1, codec: 'none', stored: 300 }),
  ],
  [
    'version 02 with an unknown codec',
    record(2, { digest: DIGEST, size: 10_000, time: 1, codec: 'lz4', stored: 300 }),
  ],
  ['version 02 without stored', record(2, { digest: DIGEST, size: 10_000, time: 1, codec: 'gzip' })],
  [
    'version 02 with stored below the header',
    record(2, { digest: DIGEST, size: 10_000, time: 1, codec: 'gzip', stored: 15 }),
  ],
  [
    'version 02 with stored equal to size',
    record(2, { digest: DIGEST, size: 10_000, time: 1, codec: 'gzip', stored: 10_000 }),
  ],
  [
    'version 02 with a fractional stored',
    record(2, { digest: DIGEST, size: 10_000, time: 1, codec: 'gzip', stored: 300.5 }),
  ],
  [
    'version 02 with stored as a string',
    record(2, { digest: DIGEST, size: 10_000, time: 1, codec: 'gzip', stored: '300' }),
  ],
  [
    'version 02 inline',
    record(2, { digest: DIGEST, size: 3, time: 1, codec: 'gzip', stored: 20 }, 1, Buffer.from('abc')),
  ],
]
for (const [name, bytes] of bad) {
  test(`${name} is a bad record`, () => {
    assert.is(decodeRecord(bytes, 32), 'bad-record')
  })
}

test('version 03 is another version', () => {
  assert.is(
    decodeRecord(record(3, { digest: DIGEST, size: 10_000, time: 1, codec: 'gzip', stored: 300 }), 32),
    'other-version',
  )
})

test('readContentFrameHeader reads the header FORMAT.md describes, and nothing else', () => {
  assert.equal(readContentFrameHeader(frameHeader(1, 123_456)), { codec: 'gzip', size: 123_456 })
  assert.equal(readContentFrameHeader(frameHeader(2, 0)), { codec: 'brotli', size: 0 })
  assert.equal(readContentFrameHeader(frameHeader(3, 2 ** 40)), { codec: 'zstd', size: 2 ** 40 })
  assert.is(readContentFrameHeader(frameHeader(1, 5).subarray(0, 15)), undefined, 'short')
  assert.is(readContentFrameHeader(frameHeader(0, 5)), undefined, 'codec 0')
  assert.is(readContentFrameHeader(frameHeader(4, 5)), undefined, 'codec 4')
  const version = frameHeader(1, 5)
  version[4] = 2
  assert.is(readContentFrameHeader(version), undefined, 'frame version 02')
  const reserved = frameHeader(1, 5)
  reserved[7] = 1
  assert.is(readContentFrameHeader(reserved), undefined, 'reserved bytes')
  const huge = frameHeader(1, 0)
  huge.writeBigUInt64BE(2n ** 63n, 8)
  assert.is(readContentFrameHeader(huge), undefined, 'a size past Number.MAX_SAFE_INTEGER')
  // Read from inside a larger buffer (a file read whole), at its offset.
  const inside = Buffer.concat([Buffer.from('xx'), frameHeader(2, 77)]).subarray(2)
  assert.equal(readContentFrameHeader(inside), { codec: 'brotli', size: 77 })
})

test.run()

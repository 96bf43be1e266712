// Issue 14: decodeRecord reads encodeRecord's own header form without JSON.parse of the whole
// header (record-header.ts). The claim is that this reading only ever agrees with JSON.parse or
// declines: checked here on every header encodeRecord can write, and on random edits of them.

import { decodeRecord } from '@cairn/store'
import { encodeRecord, readCanonicalHeader } from '@cairn/store/protocol'
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const DIGEST_LENGTH = 32
const FIXED = 12

const recordArbitrary = fc.record({
  digest: fc.stringMatching(/^[0-9a-f]{32}$/),
  size: fc.oneof(fc.nat(4096), fc.nat({ max: Number.MAX_SAFE_INTEGER })),
  time: fc.oneof(fc.nat({ max: 2 ** 45 }), fc.constant(0)),
  codec: fc.constantFrom('none', 'gzip', 'brotli', 'zstd'),
  stored: fc.nat({ max: 2 ** 40 }),
  metadata: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
})

type Arbitrary = typeof recordArbitrary extends fc.Arbitrary<infer T> ? T : never

function encode(r: Arbitrary): Buffer {
  const framed = r.codec !== 'none'
  return encodeRecord(
    {
      digest: r.digest,
      size: framed ? Math.max(r.size, r.stored + 1) : r.size,
      time: r.time,
      inline: undefined,
      codec: r.codec as 'none',
      stored: r.stored,
    },
    r.metadata === undefined ? undefined : JSON.stringify(r.metadata),
  )
}

/** What JSON.parse says about the header of `record`, or undefined if it does not parse. */
function parsed(record: Buffer): Record<string, unknown> | undefined {
  const length = record.readUInt32BE(8)
  try {
    return JSON.parse(record.toString('utf8', FIXED, FIXED + length))
  } catch {
    return undefined
  }
}

function agrees(record: Buffer): void {
  const length = record.length >= FIXED ? record.readUInt32BE(8) : 0
  if (FIXED + length > record.length) return
  const fast = readCanonicalHeader(record, FIXED, FIXED + length, DIGEST_LENGTH)
  if (fast === undefined) return
  const slow = parsed(record)
  assert.ok(slow, 'a header read fast is JSON')
  assert.equal(
    { ...fast },
    {
      digest: slow?.digest,
      size: slow?.size,
      time: slow?.time,
      codec: slow?.codec,
      stored: slow?.stored,
      metadata: slow?.metadata,
    },
  )
  assert.equal(
    Object.keys(slow ?? {}).sort(),
    ['digest', 'size', 'time', ...(fast.codec === undefined ? [] : ['codec', 'stored'])]
      .concat(fast.metadata === undefined && !('metadata' in (slow ?? {})) ? [] : ['metadata'])
      .sort(),
  )
}

const header = suite('record header: the fast reading agrees with JSON.parse or declines')

header('every header encodeRecord writes is read fast, with the values JSON.parse gives', () => {
  fc.assert(
    fc.property(recordArbitrary, (r) => {
      const record = encode(r)
      const length = record.readUInt32BE(8)
      assert.ok(readCanonicalHeader(record, FIXED, FIXED + length, DIGEST_LENGTH), 'read fast')
      agrees(record)
      // Valid or not by the record's other rules (a stored size below the frame header's is
      // 'bad-record'), it decodes without throwing.
      decodeRecord(record, DIGEST_LENGTH)
    }),
    { numRuns: 2000 },
  )
})

header('edited headers: read fast only as JSON.parse reads them; decodeRecord never throws', () => {
  const edit = fc.record({
    at: fc.nat(200),
    byte: fc.constantFrom(
      0x20,
      0x22,
      0x2c,
      0x2d,
      0x2e,
      0x30,
      0x31,
      0x39,
      0x3a,
      0x5c,
      0x61,
      0x65,
      0x7b,
      0x7d,
      0xff,
    ),
    kind: fc.constantFrom('replace', 'insert', 'delete'),
  })
  fc.assert(
    fc.property(recordArbitrary, fc.array(edit, { minLength: 1, maxLength: 3 }), (r, edits) => {
      let record = encode(r)
      for (const { at, byte, kind } of edits) {
        const i = FIXED + (at % Math.max(1, record.length - FIXED))
        if (kind === 'replace') record[i] = byte
        else if (kind === 'insert')
          record = Buffer.concat([record.subarray(0, i), Buffer.of(byte), record.subarray(i)])
        else record = Buffer.concat([record.subarray(0, i), record.subarray(i + 1)])
        // Keep the declared header length in step with the edit, so the edit is in the header.
        record.writeUInt32BE(record.length - FIXED, 8)
      }
      agrees(record)
      decodeRecord(record, DIGEST_LENGTH)
    }),
    { numRuns: 5000 },
  )
})

header('forms it declines: JSON.parse still reads them', () => {
  const json = (text: string) => {
    const body = Buffer.from(text)
    const record = Buffer.alloc(FIXED + body.length)
    record.write('CRNE', 0, 'latin1')
    record[4] = 1
    record.writeUInt32BE(body.length, 8)
    body.copy(record, FIXED)
    return record
  }
  const d = 'a'.repeat(32)
  for (const text of [
    `{"size":5,"digest":"${d}","time":1}`,
    `{ "digest":"${d}","size":5,"time":1}`,
    `{"digest":"\\u0061${d.slice(1)}","size":5,"time":1}`,
    `{"digest":"${d}","size":5.0,"time":1}`,
    `{"digest":"${d}","size":05,"time":1}`,
    `{"digest":"${d}","size":5,"time":1.5}`,
    `{"digest":"${d}","size":5,"time":1,"size":6}`,
  ]) {
    const record = json(text)
    assert.is(readCanonicalHeader(record, FIXED, record.length, DIGEST_LENGTH), undefined, text)
    const decoded = decodeRecord(record, DIGEST_LENGTH)
    const expected = parsed(record)
    assert.is(typeof decoded === 'object', expected !== undefined, text)
    if (typeof decoded === 'object' && expected !== undefined) {
      assert.is(decoded.size, expected.size as number, text)
      assert.is(decoded.time, expected.time as number, text)
    }
  }
  assert.is(typeof decodeRecord(json(`{"digest":"${d}","size":5,"time":1,"size":6}`), 32), 'object')
  assert.is(
    (decodeRecord(json(`{"digest":"${d}","size":5,"time":1,"size":6}`), 32) as { size: number }).size,
    6,
  )
})

header.run()

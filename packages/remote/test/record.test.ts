import { decodeRemoteRecord, encodeRemoteRecord, type RemoteRecord } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const key = 'ab'.repeat(32)
const record: RemoteRecord = {
  key,
  algorithm: 'sha256',
  digest: 'cd'.repeat(32),
  size: 5,
  time: 1_795_583_112_073,
  metadata: { exit: 0 },
}

const records = suite('remote records')

records('encode then decode gives the record back, as one line of JSON', () => {
  const bytes = encodeRemoteRecord(record)
  assert.is(
    bytes.toString(),
    `{"cairnRemote":1,"key":"${key}","algorithm":"sha256","digest":"${'cd'.repeat(32)}","size":5,"time":1795583112073,"metadata":{"exit":0}}`,
  )
  assert.equal(decodeRemoteRecord(bytes, key, 'sha256'), record)
})

records('every unusable document is a reason, never a throw', () => {
  const same = (text: string, expected: string, algorithm: 'sha256' | 'xxh128' = 'sha256') =>
    assert.is(decodeRemoteRecord(Buffer.from(text), key, algorithm), expected, text)
  const good = JSON.parse(encodeRemoteRecord(record).toString())
  const variant = (change: object) => JSON.stringify({ ...good, ...change })
  same('', 'bad-record')
  same('<html>500</html>', 'bad-record')
  same('[1]', 'bad-record')
  same('{"key":1}', 'bad-record')
  same(variant({ cairnRemote: 2 }), 'other-version')
  same(variant({ key: 'ef'.repeat(32) }), 'other-key')
  same(encodeRemoteRecord(record).toString(), 'other-algorithm', 'xxh128')
  same(variant({ digest: 'CD'.repeat(32) }), 'bad-record')
  same(variant({ digest: 'cd' }), 'bad-record')
  same(variant({ size: -1 }), 'bad-record')
  same(variant({ size: '5' }), 'bad-record')
  same(variant({ time: null }), 'bad-record')
  same(variant({ metadata: 'm'.repeat(65_535) }), 'bad-record') // more than the store accepts
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.from(encodeRemoteRecord(record))
    bytes[i % bytes.length] = (bytes[i % bytes.length] as number) ^ (1 + (i % 255))
    const decoded = decodeRemoteRecord(bytes, key, 'sha256')
    assert.ok(typeof decoded === 'string' || decoded.key === key)
  }
})

records.run()

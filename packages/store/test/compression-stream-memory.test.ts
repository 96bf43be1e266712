// getStream of a large compressed entry decompresses as it goes: memory stays bounded however
// large the entry (a 256 MiB entry is streamed holding a few MiB at most).

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { compressible } from './compression-helpers.js'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

// A real collection before each measurement, so that garbage not yet collected is not counted.
setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

const test = suite('getStream memory on a large compressed entry')
test.after(removeTempDirs)

test('a 256 MiB compressible entry streams back whole in bounded memory', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { compression: { codec: 'gzip', level: 1 } })
  const unit = compressible(1 << 20)
  const total = 256
  const key = randomKey()
  await store.put(
    key,
    (async function* () {
      for (let i = 0; i < total; i++) yield unit
    })(),
  )
  const info = await store.info(key)
  assert.ok(info && info.storedSize < info.size / 2, 'stored compressed')

  collect()
  const before = process.memoryUsage()
  let peak = 0
  let received = 0
  let sinceCheck = 0
  const streamed = await store.getStream(key)
  assert.ok(streamed)
  for await (const chunk of streamed.stream) {
    const bytes = chunk as Buffer
    // Every chunk is the next part of the repeated unit.
    const offset = received % unit.length
    assert.ok(bytes.equals(unit.subarray(offset, offset + bytes.length)) || spans(bytes, unit, offset))
    received += bytes.length
    sinceCheck += bytes.length
    if (sinceCheck >= 16 << 20) {
      sinceCheck = 0
      collect()
      const now = process.memoryUsage()
      peak = Math.max(peak, now.arrayBuffers - before.arrayBuffers, now.rss - before.rss)
    }
  }
  assert.is(received, total << 20)
  // Reading it whole would hold 256 MiB; streaming holds the decoder's buffers and one chunk.
  assert.ok(peak < 64 << 20, `held ${Math.round(peak / 2 ** 20)} MiB while streaming 256 MiB`)
})

/** A chunk that runs past the end of one unit into the start of the next. */
function spans(bytes: Buffer, unit: Buffer, offset: number): boolean {
  const first = unit.length - offset
  return (
    bytes.subarray(0, first).equals(unit.subarray(offset)) &&
    bytes.subarray(first).equals(unit.subarray(0, bytes.length - first))
  )
}

test.run()

// Review of issue 17: a record that describes the content in another form (raw vs framed) than
// the content file now at its digest's name. Such a pair arises whenever a content file is
// replaced in the other form: an older Cairn writer of the same digest (its publishContent
// removes a framed file as "the wrong size" and links the raw bytes), or a GC sweep racing a
// put's confirmContent while a writer of the other codec republishes. Reading the stale record
// is a miss (fine), but it removes the content file as corrupt: the file another, valid entry
// needs. The promise: the worst a race causes is a miss *of that entry*, not of its neighbours.

import { unlinkSync } from 'node:fs'
import { openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { compressible, contentPath } from './compression-helpers.js'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const test = suite('review-17: stale-codec record')
test.after(removeTempDirs)

test('reading a v02 (gzip) record whose content file was replaced raw does not delete the raw file a v01 entry needs', async () => {
  const dir = tempDir()
  const gzip = await openStore(dir, { compression: 'gzip' })
  const raw = await openStore(dir)
  const data = compressible(64 * 1024)
  const framedKey = randomKey()
  const rawKey = randomKey()
  const { digest } = await gzip.put(framedKey, data)
  // What an older Cairn writer does on EEXIST with a file "of the wrong size": removes it, then
  // publishes its raw bytes (old publish.ts publishContent + removeCorrupt).
  unlinkSync(contentPath(dir, digest))
  await raw.put(rawKey, data)
  assert.ok((await raw.get(rawKey))?.data.equals(data), 'the raw entry is a hit')
  // Only a look at the stale entry (has / info)...
  assert.is(await gzip.has(framedKey), false)
  // ...and the valid raw entry has lost its content.
  const after = await raw.get(rawKey)
  assert.ok(after?.data.equals(data), 'the raw entry must still be a hit: its content file is intact')
})

test('reading a v01 (raw) record whose content file was replaced framed does not delete the framed file a v02 entry needs', async () => {
  const dir = tempDir()
  const gzip = await openStore(dir, { compression: 'gzip' })
  const raw = await openStore(dir)
  const data = compressible(64 * 1024)
  const framedKey = randomKey()
  const rawKey = randomKey()
  const { digest } = await raw.put(rawKey, data)
  unlinkSync(contentPath(dir, digest))
  await gzip.put(framedKey, data)
  assert.ok((await gzip.get(framedKey))?.data.equals(data), 'the gzip entry is a hit')
  assert.is(await raw.get(rawKey), undefined)
  const after = await gzip.get(framedKey)
  assert.ok(after?.data.equals(data), 'the gzip entry must still be a hit: its content file is intact')
})

test.run()

// The filesystem model's copy mode (no hard links) and clock skew, which the copy-mode and
// clock-skew configurations rely on (issue 13, items 7 and 10).

import { type FsError, MemoryFs } from '@cairn/model'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const model = suite('copy mode and clock skew in the filesystem model')

function createFile(fs: MemoryFs, path: string, data: string): void {
  const fd = fs.perform({ op: 'open', path, how: 'create', mode: 0o444 }, 'a') as { value: number }
  fs.perform({ op: 'write', fd: fd.value, data: Buffer.from(data) }, 'a')
  fs.perform({ op: 'close', fd: fd.value }, 'a')
}

model('without hard links, link fails with EPERM and a copy is seen half-done', () => {
  const fs = new MemoryFs('posix', { links: false })
  fs.perform({ op: 'mkdir', path: '/d' }, 'a')
  createFile(fs, '/d/f', 'bytes')
  assert.throws(
    () => fs.perform({ op: 'link', from: '/d/f', to: '/d/g' }, 'a'),
    (e: FsError) => e.code === 'EPERM',
  )
  const step = { op: 'copyExclusive', from: '/d/f', to: '/d/g' } as const
  assert.is(fs.perform(step, 'a').done, false, 'the first transition creates the empty file')
  assert.is(fs.contentOf('/d/g')?.length, 0)
  assert.throws(
    () => fs.perform(step, 'b'),
    (e: FsError) => e.code === 'EEXIST',
  )
  assert.ok(fs.perform(step, 'a').done)
  assert.is(fs.contentOf('/d/g')?.toString(), 'bytes')
})

model('an actor’s clock may run apart from the filesystem’s, which sets file times', () => {
  const fs = new MemoryFs('posix')
  fs.setClockSkew('gc', 60_000)
  fs.perform({ op: 'mkdir', path: '/d' }, 'a')
  const gcNow = fs.perform({ op: 'now' }, 'gc') as { value: number }
  createFile(fs, '/d/f', 'x')
  const stat = fs.perform({ op: 'lstat', path: '/d/f' }, 'a') as { value: { mtimeMs: number } }
  assert.is(gcNow.value - stat.value.mtimeMs, 60_000, 'the file carries the filesystem’s time')
})

model.run()

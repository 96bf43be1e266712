import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { openStore, type Store } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, removeTempDirs, tempDir } from './helpers.js'

const entryPath = (dir: string, key: string) => join(dir, 'entries', key.slice(0, 2), key)
const contentPath = (dir: string, digest: string) => join(dir, 'content', digest.slice(0, 2), digest)

/** Replaces a published (read-only) file's bytes, as a disk fault or a hostile user would. */
function overwrite(path: string, bytes: Uint8Array | string) {
  chmodSync(path, 0o644)
  writeFileSync(path, bytes)
}

const readers = {
  get: (s: Store, key: string) => s.get(key),
  getSync: async (s: Store, key: string) => s.getSync(key),
  info: (s: Store, key: string) => s.info(key),
  has: async (s: Store, key: string) => ((await s.has(key)) ? {} : undefined),
  getStream: (s: Store, key: string) => s.getStream(key),
}

for (const [readerName, read] of Object.entries(readers)) {
  const corrupt = suite(`corruption is a counted, cleaned miss (${readerName})`)
  corrupt.after(removeTempDirs)

  /** Puts an entry, damages it with `damage`, and checks the read is a miss, counted and cleaned. */
  async function expectCleanMiss(
    size: number,
    damage: (dir: string, key: string, digest: string) => void,
    cleaned: (dir: string, key: string, digest: string) => boolean[],
  ) {
    const dir = tempDir()
    const s = await openStore(dir)
    const key = randomKey()
    const { digest } = await s.put(key, randomBytes(size))
    damage(dir, key, digest)
    assert.is(await read(s, key), undefined)
    assert.is(s.stats().corrupt, 1)
    for (const gone of cleaned(dir, key, digest)) assert.ok(gone, 'the corrupt file was removed')
    // The store stays usable: the key can be published afresh.
    const fresh = randomBytes(size)
    assert.ok((await s.put(key, fresh)).published)
    assert.ok((await s.get(key))?.data.equals(fresh))
  }

  corrupt('truncated content', async () => {
    await expectCleanMiss(
      20_000,
      (dir, _key, digest) => {
        chmodSync(contentPath(dir, digest), 0o644)
        truncateSync(contentPath(dir, digest), 1000)
      },
      (dir, key, digest) => [!existsSync(entryPath(dir, key)), !existsSync(contentPath(dir, digest))],
    )
  })

  corrupt('a garbage record', async () => {
    await expectCleanMiss(
      100,
      (dir, key) => overwrite(entryPath(dir, key), randomBytes(300)),
      (dir, key) => [!existsSync(entryPath(dir, key))],
    )
  })

  corrupt('a truncated record', async () => {
    await expectCleanMiss(
      3000,
      (dir, key) => {
        chmodSync(entryPath(dir, key), 0o644)
        truncateSync(entryPath(dir, key), 2000)
      },
      (dir, key) => [!existsSync(entryPath(dir, key))],
    )
  })

  corrupt('an empty record', async () => {
    await expectCleanMiss(
      10,
      (dir, key) => overwrite(entryPath(dir, key), ''),
      (dir, key) => [!existsSync(entryPath(dir, key))],
    )
  })

  corrupt('a record of an unknown format version', async () => {
    await expectCleanMiss(
      10,
      (dir, key) => {
        const bytes = readFileSync(entryPath(dir, key))
        bytes[4] = 7
        overwrite(entryPath(dir, key), bytes)
      },
      (dir, key) => [!existsSync(entryPath(dir, key))],
    )
  })

  corrupt('content deleted under its entry', async () => {
    await expectCleanMiss(
      20_000,
      (dir, _key, digest) => unlinkSync(contentPath(dir, digest)),
      (dir, key) => [!existsSync(entryPath(dir, key))],
    )
  })

  corrupt('a record replaced by a symlink to a file outside the store', async () => {
    const outside = join(tempDir('cairn-outside-'), 'secret')
    writeFileSync(outside, 'do not read me')
    await expectCleanMiss(
      10,
      (dir, key) => {
        unlinkSync(entryPath(dir, key))
        symlinkSync(outside, entryPath(dir, key))
      },
      (dir, key) => [!existsSync(entryPath(dir, key)), readFileSync(outside, 'utf8') === 'do not read me'],
    )
  })

  corrupt('a record replaced by a FIFO does not hang the reader', async () => {
    await expectCleanMiss(
      10,
      (dir, key) => {
        unlinkSync(entryPath(dir, key))
        execFileSync('mkfifo', [entryPath(dir, key)])
      },
      (dir, key) => [!existsSync(entryPath(dir, key))],
    )
  })

  corrupt('a record replaced by a directory is a miss (left for the GC to report)', async () => {
    const dir = tempDir()
    const s = await openStore(dir)
    const key = randomKey()
    await s.put(key, 'x')
    unlinkSync(entryPath(dir, key))
    mkdirSync(entryPath(dir, key))
    assert.is(await read(s, key), undefined)
    assert.is(s.stats().corrupt, 1)
    rmSync(entryPath(dir, key), { recursive: true })
  })

  corrupt.run()
}

// ---

const verify = suite("verify: 'hash'")
verify.after(removeTempDirs)

verify('content whose bytes changed but not its size is a miss with hash verification only', async () => {
  for (const size of [100, 50_000]) {
    const dir = tempDir()
    const trusting = await openStore(dir)
    const key = randomKey()
    const data = randomBytes(size)
    const { digest } = await trusting.put(key, data)
    const path = size > 4096 ? contentPath(dir, digest) : entryPath(dir, key)
    const bytes = readFileSync(path)
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff
    overwrite(path, bytes)
    assert.ok(trusting.getSync(key), "verify: 'size' trusts a file of the right size")
    const checking = await openStore(dir, { verify: 'hash' })
    assert.is(await checking.get(key), undefined)
    assert.is(checking.stats().corrupt, 1)
    assert.ok((await checking.put(key, data)).published)
    assert.ok((await checking.get(key))?.data.equals(data))
  }
})

verify('getStream of damaged content fails with ERR_CAIRN_CORRUPT at the end', async () => {
  const dir = tempDir()
  const s = await openStore(dir, { verify: 'hash' })
  const key = randomKey()
  const { digest } = await s.put(key, randomBytes(50_000))
  const bytes = readFileSync(contentPath(dir, digest))
  bytes[0] = (bytes[0] ?? 0) ^ 1
  overwrite(contentPath(dir, digest), bytes)
  const result = await s.getStream(key)
  assert.ok(result)
  try {
    for await (const _ of result.stream) {
      // drain
    }
    assert.unreachable('the stream ended normally')
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_CAIRN_CORRUPT')
  }
  // The damaged content was removed, so the next read is a plain miss, not the same error again.
  assert.is(await s.getStream(key), undefined)
  assert.is(await s.has(key), false)
  assert.is(await s.get(key), undefined)
})

verify.run()

// ---

const repair = suite('repair by put')
repair.after(removeTempDirs)

repair('put over a corrupt entry removes it and publishes', async () => {
  const dir = tempDir()
  const s = await openStore(dir)
  const key = randomKey()
  await s.put(key, 'first')
  overwrite(entryPath(dir, key), 'garbage')
  const again = await s.put(key, 'second')
  assert.ok(again.published)
  assert.is((await s.get(key))?.data.toString(), 'second')
})

repair('put onto damaged shared content replaces it', async () => {
  const dir = tempDir()
  const s = await openStore(dir)
  const data = randomBytes(30_000)
  const { digest } = await s.put(randomKey(), data)
  chmodSync(contentPath(dir, digest), 0o644)
  truncateSync(contentPath(dir, digest), 10)
  const key = randomKey()
  assert.ok((await s.put(key, data)).published)
  assert.ok((await s.get(key))?.data.equals(data))
})

repair('missing shard and tmp directories are recreated', async () => {
  const dir = tempDir()
  const s = await openStore(dir)
  const key = randomKey()
  rmSync(join(dir, 'entries', key.slice(0, 2)), { recursive: true })
  rmSync(join(dir, 'tmp'), { recursive: true })
  assert.ok((await s.put(key, randomBytes(10_000))).published)
  assert.ok(await s.get(key))
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

repair.run()

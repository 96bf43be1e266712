import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as store from '@cairn/store'
import { CairnError, openStore } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { randomKey, rejectsWith, removeTempDirs, tempDir } from './helpers.js'

const exportsSuite = suite('exports')

exportsSuite('the package exports openStore, Store and CairnError', () => {
  assert.type(store.openStore, 'function')
  assert.type(store.Store, 'function')
  assert.type(store.CairnError, 'function')
  const error = new CairnError('ERR_CAIRN_IO', 'message', { path: '/x', cause: new Error('inner') })
  assert.instance(error, Error)
  assert.is(error.code, 'ERR_CAIRN_IO')
  assert.is(error.path, '/x')
  assert.is((error.cause as Error).message, 'inner')
})

exportsSuite.run()

// ---

const keys = suite('invalid keys')
keys.after(removeTempDirs)

const badKeys: unknown[] = [
  '',
  '..',
  '../../../../etc/passwd',
  'ab/cdef0123456789ab',
  'ab\\cdef0123456789ab',
  '0123456789ABCDEF',
  '0123456789abcde',
  'a'.repeat(129),
  '0123456789abcdef\u0000',
  '0123456789abcdeg',
  '０１２３４５６７８９ａｂｃｄｅｆ',
  ' 0123456789abcdef',
  undefined,
  null,
  42,
  { toString: () => '0123456789abcdef' },
]

keys('every method rejects an invalid key with ERR_CAIRN_INVALID_KEY before touching the disk', async () => {
  const dir = tempDir()
  const s = await openStore(dir)
  const before = readdirSync(join(dir, 'tmp')).length
  for (const key of badKeys) {
    const k = key as string
    await rejectsWith(() => s.put(k, 'x'), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.putSync(k, 'x'), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.putFile(k, '/etc/hostname'), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.get(k), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.getSync(k), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.info(k), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.infoSync(k), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.has(k), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.hasSync(k), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.delete(k), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.deleteSync(k), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.getStream(k), 'ERR_CAIRN_INVALID_KEY')
    await rejectsWith(() => s.materialize(k, join(dir, '..', 'out')), 'ERR_CAIRN_INVALID_KEY')
  }
  assert.is(readdirSync(join(dir, 'tmp')).length, before)
  assert.equal(s.stats(), { hits: 0, misses: 0, puts: 0, published: 0, corrupt: 0 })
})

keys('keys of 16 and 128 hex characters are accepted', async () => {
  const s = await openStore(tempDir())
  for (const key of ['0123456789abcdef', 'f'.repeat(128)]) {
    assert.ok((await s.put(key, 'v')).published)
    assert.is((await s.get(key))?.data.toString(), 'v')
  }
})

keys.run()

// ---

const opening = suite('openStore')
opening.after(removeTempDirs)

opening('creates a missing directory with the marker, CACHEDIR.TAG and 256 shards', async () => {
  const dir = join(tempDir(), 'a', 'b', 'store')
  const s = await openStore(dir)
  assert.is(s.dir, dir)
  const marker = JSON.parse(readFileSync(join(dir, 'cairn-store.json'), 'utf8'))
  assert.equal(marker, { cairn: 'store', version: 1, algorithm: 'xxh128', publish: 'link' })
  assert.match(
    readFileSync(join(dir, 'CACHEDIR.TAG'), 'utf8'),
    /^Signature: 8a477f597d28d172789f06886806bc55/,
  )
  assert.is(readdirSync(join(dir, 'entries')).length, 256)
  assert.is(readdirSync(join(dir, 'content')).length, 256)
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

opening('creates a store in an existing empty directory and reopens it', async () => {
  const dir = tempDir()
  const first = await openStore(dir)
  const key = randomKey()
  await first.put(key, 'kept')
  const second = await openStore(dir)
  assert.is((await second.get(key))?.data.toString(), 'kept')
})

opening('refuses a non-empty directory that is not a store, and writes nothing', async () => {
  const dir = tempDir()
  writeFileSync(join(dir, 'notes.txt'), 'mine')
  const error = await rejectsWith(() => openStore(dir), 'ERR_CAIRN_NOT_A_STORE')
  assert.match(error.message, 'notes.txt')
  assert.equal(readdirSync(dir), ['notes.txt'])
})

opening('refuses files that merely sit under names a store uses (tmp/, content/, gc.stamp)', async () => {
  // Without this, a directory of someone's files named like a store's would be adopted, and the
  // GC would later delete everything under tmp/ as debris.
  const cases: [string, (dir: string) => void][] = [
    ['tmp/thesis-draft.txt', (dir) => writeIn(dir, 'tmp/thesis-draft.txt')],
    ['content/index.md', (dir) => writeIn(dir, 'content/index.md')],
    ['entries/ab/notes', (dir) => writeIn(dir, 'entries/ab/notes')],
    ['gc.stamp', (dir) => writeIn(dir, 'gc.stamp')],
    ['entries (a file)', (dir) => writeIn(dir, 'entries')],
  ]
  for (const [name, make] of cases) {
    const dir = tempDir()
    make(dir)
    const before = listAll(dir)
    await rejectsWith(() => openStore(dir), 'ERR_CAIRN_NOT_A_STORE')
    assert.equal(listAll(dir), before, `${name}: nothing written`)
  }
})

opening(
  'adopts what a creator that crashed mid-creation left: empty shards, its temp files, the tag',
  async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'entries', '00'), { recursive: true })
    mkdirSync(join(dir, 'content', 'ff'), { recursive: true })
    writeIn(dir, 'tmp/4242-0a1b2c3d-0')
    writeIn(dir, 'CACHEDIR.TAG')
    const opened = await openStore(dir)
    const key = randomKey()
    await opened.put(key, 'after the crash')
    assert.is((await opened.get(key))?.data.toString(), 'after the crash')
  },
)

function writeIn(dir: string, path: string): void {
  mkdirSync(join(dir, path, '..'), { recursive: true })
  writeFileSync(join(dir, path), 'mine')
}

function listAll(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((item) => {
    const path = prefix ? `${prefix}/${item.name}` : item.name
    return item.isDirectory() ? [`${path}/`, ...listAll(dir, path)] : [path]
  })
}

opening('refuses a path that is a file', async () => {
  const file = join(tempDir(), 'file')
  writeFileSync(file, 'x')
  await rejectsWith(() => openStore(file), 'ERR_CAIRN_NOT_A_STORE')
  assert.is(readFileSync(file, 'utf8'), 'x')
})

opening('refuses a store of a newer format', async () => {
  const dir = tempDir()
  await openStore(dir)
  writeFileSync(
    join(dir, 'cairn-store.json'),
    JSON.stringify({ cairn: 'store', version: 99, algorithm: 'xxh128', publish: 'link' }),
  )
  const error = await rejectsWith(() => openStore(dir), 'ERR_CAIRN_FORMAT')
  assert.match(error.message, 'newer')
})

opening('refuses an unreadable marker with ERR_CAIRN_FORMAT', async () => {
  const dir = tempDir()
  await openStore(dir)
  writeFileSync(join(dir, 'cairn-store.json'), '{not json')
  await rejectsWith(() => openStore(dir), 'ERR_CAIRN_FORMAT')
})

opening('records the algorithm; another one is an error; none means the store’s own', async () => {
  const dir = tempDir()
  const s = await openStore(dir, { algorithm: 'sha256' })
  assert.is(s.algorithm, 'sha256')
  const { digest } = await s.put(randomKey(), 'abc')
  assert.is(digest, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  await rejectsWith(() => openStore(dir, { algorithm: 'xxh128' }), 'ERR_CAIRN_ALGORITHM_MISMATCH')
  assert.is((await openStore(dir)).algorithm, 'sha256')
})

opening('rejects bad options with ERR_CAIRN_INVALID_OPTION', async () => {
  const dir = tempDir()
  const bad = [
    { verify: 'full' },
    { touchInterval: -1 },
    { touchInterval: Number.NaN },
    { touchInterval: '1h' },
    { durable: 'yes' },
    { algorithm: 'md5' },
  ]
  for (const options of bad) {
    await rejectsWith(() => openStore(dir, options as never), 'ERR_CAIRN_INVALID_OPTION')
  }
  await rejectsWith(() => openStore(''), 'ERR_CAIRN_INVALID_OPTION')
  await rejectsWith(() => openStore(42 as never), 'ERR_CAIRN_INVALID_OPTION')
})

opening('an unknown option is an error, and remote points at @cairn/remote', async () => {
  const dir = tempDir()
  const typo = await rejectsWith(
    () => openStore(dir, { touchIntervall: 0 } as never),
    'ERR_CAIRN_INVALID_OPTION',
  )
  assert.match(typo.message, 'touchIntervall')
  const remote = await rejectsWith(
    () => openStore(dir, { remote: { url: 'http://127.0.0.1:1/' } } as never),
    'ERR_CAIRN_INVALID_OPTION',
  )
  assert.match(remote.message, '@cairn/remote')
})

opening('flush resolves: a local store has no writes in flight once they resolve', async () => {
  const s = await openStore(tempDir())
  const key = randomKey()
  await s.put(key, 'x')
  assert.is(await s.flush(), undefined)
  assert.is((await s.get(key))?.data.toString(), 'x')
})

opening('a directory holding only Cairn names (a creation in progress) is accepted', async () => {
  const dir = tempDir()
  mkdirSync(join(dir, 'entries'))
  mkdirSync(join(dir, 'tmp'))
  const s = await openStore(dir)
  assert.ok((await s.put(randomKey(), 'x')).published)
})

opening('many processes creating one store at once agree on one marker', async () => {
  const { spawn } = await import('node:child_process')
  const dir = join(tempDir(), 'racing')
  const storeUrl = new URL('../index.js', import.meta.url).href
  const script = `import { openStore } from ${JSON.stringify(storeUrl)}
    const s = await openStore(process.argv[1]); const k = process.argv[2]
    await s.put(k, 'from ' + k); console.log((await s.get(k)).data.toString())`
  const children = Array.from({ length: 6 }, () => {
    const key = randomKey()
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, key], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (c) => {
      out += c
    })
    child.stderr.on('data', (c) => {
      out += c
    })
    return new Promise<[string, string, number | null]>((resolve) =>
      child.on('close', (code) => resolve([key, out, code])),
    )
  })
  for (const [key, out, code] of await Promise.all(children)) {
    assert.is(code, 0, out)
    assert.is(out.trim(), `from ${key}`)
  }
  assert.equal(readdirSync(join(dir, 'tmp')), [])
})

opening.run()

// Issue 17 in the `cairn` CLI, with real processes of the bundled CLI: --compression and
// CAIRN_COMPRESSION for the commands that write, exit 2 for a bad value, `cairn stats`' size on
// disk and ratio, `cairn verify` on compressed content (good, corrupt, truncated, a codec this
// Node cannot decode), and stores holding entries of several codecs.

import { randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { createHasher } from '@cairn/hash'
import { availableCodecs, readContentFrameHeader } from '@cairn/store'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  BUILD_OUTPUTS,
  buildStepArgs,
  cairn,
  copyProject,
  expectOutcome,
  makeProject,
  runCount,
  snapshot,
} from './fixtures/cli-harness.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'
import { startServe } from './helpers/serve.js'

const KEY1 = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
const KEY2 = 'a1b2c3d4e5f60718293a4b5c6d7e8f91'
const KEY3 = 'a1b2c3d4e5f60718293a4b5c6d7e8f92'
const KEY4 = 'a1b2c3d4e5f60718293a4b5c6d7e8f93'

/** `size` bytes that compress well but not to nothing: random words from a small vocabulary. */
function compressible(size: number, seed = randomBytes(8)): Buffer {
  const words = ['export', 'const', 'function', 'return', seed.toString('hex'), '{', '}', ';\n']
  const out = Buffer.alloc(size)
  let at = 0
  let state = seed.readUInt32BE(0) || 1
  while (at < size) {
    state = (state * 1103515245 + 12345) >>> 0
    at += out.write(`${words[state % words.length]} `, at)
  }
  return out
}

/** A record as it is on disk (docs/FORMAT.md, "Entry record"): byte 4 and the header JSON. */
interface RecordOnDisk {
  key: string
  version: number
  digest: string
  size: number
  codec: string
  stored: number | undefined
}

function readRecord(store: string, key: string): RecordOnDisk {
  const bytes = readFileSync(join(store, 'entries', key.slice(0, 2), key))
  const header = JSON.parse(bytes.toString('utf8', 12, 12 + bytes.readUInt32BE(8)))
  return {
    key,
    version: bytes[4] as number,
    digest: header.digest,
    size: header.size,
    codec: header.codec ?? 'none',
    stored: header.stored,
  }
}

/** Every record of a store. */
function allRecords(store: string): RecordOnDisk[] {
  const found: RecordOnDisk[] = []
  const entries = join(store, 'entries')
  for (const shard of readdirSync(entries)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue
    for (const key of readdirSync(join(entries, shard))) found.push(readRecord(store, key))
  }
  return found
}

function contentFile(store: string, digest: string): string {
  return join(store, 'content', digest.slice(0, 2), digest)
}

/** What the content file of `record` is on disk: raw, or the codec its frame header names. */
function fileCodec(store: string, record: RecordOnDisk): string {
  const file = readFileSync(contentFile(store, record.digest))
  if (file.length === record.size) return 'none'
  const header = readContentFrameHeader(file)
  assert.ok(header && header.size === record.size, 'a frame of the entry size')
  return header.codec
}

/** Overwrites 64 bytes in the middle of a file in place (same inode, same size). */
function scribble(path: string): void {
  const fd = openSync(path, 'r+')
  try {
    writeSync(fd, randomBytes(64), 0, 64, Math.floor(statSync(path).size / 2))
  } finally {
    closeSync(fd)
  }
}

function put(
  store: string,
  key: string,
  data: Buffer,
  flags: string[] = [],
  env: Record<string, string> = {},
) {
  return cairn(['put', '--store', store, ...flags, key, '-'], { stdin: data, env })
}

// ---

const run = suite('cairn run --compression')
run.after(removeTempDirs)

run('run --compression gzip stores compressed content and a hit restores it byte-identical', async () => {
  const base = tempDir('cairn-compression-cli-')
  const project = makeProject(join(base, 'p'))
  const store = join(base, 'store')
  expectOutcome(await cairn(buildStepArgs(store, ['--compression', 'gzip']), { cwd: project }), 'miss')
  const built = snapshot(project, BUILD_OUTPUTS)
  const compressed = allRecords(store).filter((record) => record.codec === 'gzip')
  assert.ok(compressed.length >= 1, 'the 64 KiB output is stored compressed')
  for (const record of compressed) {
    assert.is(record.version, 2, 'a compressed entry is record format version 02')
    assert.is(fileCodec(store, record), 'gzip')
    assert.is(record.stored, statSync(contentFile(store, record.digest)).size)
    assert.ok((record.stored as number) <= record.size * 0.9)
  }
  for (const record of allRecords(store).filter((r) => r.codec === 'none')) assert.is(record.version, 1)

  for (const output of BUILD_OUTPUTS) rmSync(join(project, output), { recursive: true, force: true })
  // No flag now: the codec applies to what is written; reading needs none.
  expectOutcome(await cairn(buildStepArgs(store), { cwd: project }), 'hit')
  assert.is(runCount(join(project, 'runs.log')), 1, 'the command ran once')
  assert.equal(snapshot(project, BUILD_OUTPUTS), built, 'paths, types, modes, bytes and links')
})

run('CAIRN_COMPRESSION sets the codec of run and put; --compression wins over it', async () => {
  const base = tempDir('cairn-compression-cli-')
  const project = makeProject(join(base, 'p'))
  const store = join(base, 'store')
  const env = { CAIRN_COMPRESSION: 'brotli' }
  expectOutcome(await cairn(buildStepArgs(store), { cwd: project, env }), 'miss')
  assert.ok(allRecords(store).some((record) => record.codec === 'brotli'))

  const data = compressible(100_000)
  assert.is((await put(store, KEY1, data, [], { CAIRN_COMPRESSION: 'gzip:9' })).code, 0)
  assert.is(readRecord(store, KEY1).codec, 'gzip')
  const other = compressible(100_000)
  assert.is((await put(store, KEY2, other, ['--compression', 'none'], env)).code, 0)
  assert.equal([readRecord(store, KEY2).codec, readRecord(store, KEY2).version], ['none', 1])
  const empty = compressible(100_000)
  assert.is((await put(store, KEY3, empty, [], { CAIRN_COMPRESSION: '' })).code, 0, 'empty means unset')
  assert.is(readRecord(store, KEY3).codec, 'none')
  for (const [key, bytes] of [
    [KEY1, data],
    [KEY2, other],
    [KEY3, empty],
  ] as const) {
    const got = await cairn(['get', '--store', store, key])
    assert.is(got.code, 0)
    assert.ok(got.stdoutBytes.equals(bytes), `cairn get ${key} returns the original bytes`)
  }
})

run('a bad --compression or CAIRN_COMPRESSION exits 2, lists the codecs and runs nothing', async () => {
  const base = tempDir('cairn-compression-cli-')
  const project = makeProject(join(base, 'p'))
  const store = join(base, 'store')
  const listed = new RegExp(`expected one of ${availableCodecs().join(', ')}`)
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['put', '--store', store, '--compression', 'lz4', KEY1, '-'], {}, /--compression "lz4": /],
    [['put', '--store', store, KEY1, '-'], { CAIRN_COMPRESSION: 'GZIP' }, /CAIRN_COMPRESSION "GZIP": /],
    [['put', '--store', store, '--compression', 'gzip:', KEY1, '-'], {}, /--compression "gzip:": /],
    [['put', '--store', store, '--compression', 'gzip:42', KEY1, '-'], {}, /from 1 to 9 for gzip/],
    [['put', '--store', store, '--compression', 'none:3', KEY1, '-'], {}, /none takes no level/],
    [buildStepArgs(store, ['--compression', 'bzip2']), {}, /--compression "bzip2": /],
    [['serve', '--store', store, '--compression', 'xz'], {}, /--compression "xz": /],
  ]
  if (!availableCodecs().includes('zstd')) {
    cases.push([
      ['put', '--store', store, KEY1, '-'],
      { CAIRN_COMPRESSION: 'zstd' },
      /zstd needs Node 22\.15/,
    ])
  }
  for (const [args, env, message] of cases) {
    const result = await cairn(args, { cwd: project, env, stdin: 'data' })
    const shown = `${args.join(' ')} ${JSON.stringify(env)}: ${result.stderr}`
    assert.is(result.code, 2, shown)
    assert.match(result.stderr, message, shown)
    if (!/level|from 1 to 9/.test(message.source)) assert.match(result.stderr, listed, shown)
    assert.match(result.stderr, /^usage: cairn /m, shown)
  }
  assert.is(runCount(join(project, 'runs.log')), 0, 'the build step never ran')
  assert.not.ok(existsSync(join(store, 'entries', KEY1.slice(0, 2), KEY1)), 'nothing was stored')
  // Commands that only read ignore it.
  assert.is((await cairn(['ls', '--store', store], { env: { CAIRN_COMPRESSION: 'lz4' } })).code, 0)
})

run.run()

// ---

const stats = suite('cairn stats: logical size, size on disk, ratio')
stats.after(removeTempDirs)

stats('stats --json and the human output give bytes, storedBytes and their ratio', async () => {
  const store = join(tempDir('cairn-compression-stats-'), 'store')
  const empty = JSON.parse((await cairn(['stats', '--store', store, '--json'])).stdout)
  assert.equal([empty.bytes, empty.storedBytes, empty.ratio], [0, 0, null])

  const big = compressible(300_000)
  assert.is((await put(store, KEY1, big, ['--compression', 'gzip'])).code, 0)
  assert.is((await put(store, KEY2, Buffer.from('small and inline'))).code, 0)
  const random = randomBytes(50_000) // does not compress: stored raw, by the 10 % rule
  assert.is((await put(store, KEY3, random, ['--compression', 'gzip'])).code, 0)
  // The same bytes as KEY1 under another key: one content file, counted once.
  assert.is((await put(store, KEY4, big)).code, 0)
  assert.is(readRecord(store, KEY4).codec, 'gzip', 'the second writer records the file that is there')

  const onDisk = statSync(contentFile(store, readRecord(store, KEY1).digest)).size
  assert.ok(onDisk < big.length / 2)
  const result = await cairn(['stats', '--store', store, '--json'])
  assert.is(result.code, 0)
  const summary = JSON.parse(result.stdout)
  const logical = big.length + 16 + random.length
  const stored = onDisk + 16 + random.length
  assert.is(summary.bytes, logical)
  assert.is(summary.storedBytes, stored)
  assert.is(summary.entryBytes, logical + big.length)
  assert.is(summary.ratio, Math.round((logical / stored) * 100) / 100)

  const human = await cairn(['stats', '--store', store])
  assert.match(
    human.stdout,
    new RegExp(`^on disk {5}.* \\(${stored} bytes; ratio ${summary.ratio.toFixed(2)}\\)$`, 'm'),
  )
  assert.match(human.stdout, new RegExp(`^bytes {7}.* \\(${logical} bytes;`, 'm'))
})

stats.run()

// ---

const verify = suite('cairn verify on compressed content')
verify.after(removeTempDirs)

verify('good compressed content verifies: its original bytes are hashed', async () => {
  const store = join(tempDir('cairn-compression-verify-'), 'store')
  const a = compressible(200_000)
  const b = compressible(120_000)
  assert.is((await put(store, KEY1, a, ['--compression', 'gzip'])).code, 0)
  assert.is((await put(store, KEY2, b, ['--compression', 'brotli'])).code, 0)
  const result = await cairn(['verify', '--store', store, '--json'])
  assert.is(result.code, 0, result.stdout)
  const report = JSON.parse(result.stdout)
  assert.equal(report.damage, [])
  assert.equal(report.unchecked, [])
  assert.is(report.contentFiles, 2)
  assert.is(report.bytesHashed, a.length + b.length, 'the uncompressed bytes are what is hashed')
})

verify('corrupt and truncated compressed content is damaged; --fix removes it and get misses', async () => {
  const store = join(tempDir('cairn-compression-verify-'), 'store')
  const keep = compressible(100_000)
  assert.is((await put(store, KEY1, compressible(200_000), ['--compression', 'gzip'])).code, 0)
  assert.is((await put(store, KEY2, compressible(200_000), ['--compression', 'brotli'])).code, 0)
  assert.is((await put(store, KEY3, keep, ['--compression', 'gzip'])).code, 0)
  const scribbled = readRecord(store, KEY1).digest
  const truncated = readRecord(store, KEY2).digest
  scribble(contentFile(store, scribbled))
  truncateSync(contentFile(store, truncated), statSync(contentFile(store, truncated)).size - 100)

  const found = await cairn(['verify', '--store', store, '--json'])
  assert.is(found.code, 1, found.stdout)
  const report = JSON.parse(found.stdout) as { damage: { kind: string; name: string; reason: string }[] }
  const named = report.damage.map((item) => `${item.kind} ${item.name}`).sort()
  assert.equal(
    named,
    [`content ${scribbled}`, `content ${truncated}`, `entry ${KEY1}`, `entry ${KEY2}`].sort(),
  )
  for (const item of report.damage.filter((d) => d.kind === 'content')) {
    assert.match(item.reason, /decompress/, item.reason)
  }
  const human = await cairn(['verify', '--store', store])
  assert.match(human.stdout, new RegExp(`^damaged content ${truncated}: `, 'm'))

  const fixed = await cairn(['verify', '--store', store, '--fix'])
  assert.is(fixed.code, 0, fixed.stdout)
  assert.not.ok(existsSync(contentFile(store, scribbled)))
  assert.not.ok(existsSync(contentFile(store, truncated)))
  assert.is((await cairn(['get', '--store', store, KEY1])).code, 1)
  assert.is((await cairn(['get', '--store', store, KEY2])).code, 1)
  const kept = await cairn(['get', '--store', store, KEY3])
  assert.ok(kept.stdoutBytes.equals(keep), 'the good entry stays')
  assert.is((await cairn(['verify', '--store', store])).code, 0)
})

verify('an entry whose record says raw while its content file is compressed is a damaged entry', async () => {
  const store = join(tempDir('cairn-compression-verify-'), 'store')
  const data = compressible(100_000)
  assert.is((await put(store, KEY1, data, ['--compression', 'gzip'])).code, 0)
  // A raw version 01 record for the same digest and size, as if from a writer that did not look.
  const { digest } = readRecord(store, KEY1)
  const header = Buffer.from(JSON.stringify({ digest, size: data.length, time: Date.now() }))
  const fixed = Buffer.alloc(12)
  fixed.write('CRNE', 0, 'latin1')
  fixed[4] = 1
  fixed.writeUInt32BE(header.length, 8)
  mkdirSync(join(store, 'entries', KEY2.slice(0, 2)), { recursive: true })
  writeFileSync(join(store, 'entries', KEY2.slice(0, 2), KEY2), Buffer.concat([fixed, header]))
  const result = await cairn(['verify', '--store', store, '--json'])
  assert.is(result.code, 1)
  const report = JSON.parse(result.stdout)
  assert.equal(
    report.damage.map((item: { kind: string; name: string }) => `${item.kind} ${item.name}`),
    [`entry ${KEY2}`],
    'the entry, not the content file other entries share',
  )
  assert.match(
    report.damage[0].reason,
    /record says its content is raw, the content file is compressed with gzip/,
  )
})

verify('content of a codec this Node cannot decode is listed unchecked and never removed', async () => {
  if (availableCodecs().includes('zstd')) return // Node 22.15+ decodes zstd: nothing to show here
  const store = join(tempDir('cairn-compression-verify-'), 'store')
  assert.is((await put(store, KEY1, Buffer.from('makes the store'))).code, 0)
  // A zstd entry as Node 22.15 would write it: frame header, then a stream Node 20 cannot read.
  const original = compressible(50_000)
  const algorithm = readRecord(store, KEY1).digest.length === 64 ? 'sha256' : 'xxh128'
  const name = (await createHasher({ algorithm })).bytes(original)
  const frame = Buffer.alloc(16)
  frame.write('CRNZ', 0, 'latin1')
  frame[4] = 1
  frame[5] = 3
  frame.writeBigUInt64BE(BigInt(original.length), 8)
  const file = Buffer.concat([frame, randomBytes(1000)])
  mkdirSync(join(store, 'content', name.slice(0, 2)), { recursive: true })
  writeFileSync(contentFile(store, name), file)
  const header = Buffer.from(
    JSON.stringify({
      digest: name,
      size: original.length,
      time: Date.now(),
      codec: 'zstd',
      stored: file.length,
    }),
  )
  const fixed = Buffer.alloc(12)
  fixed.write('CRNE', 0, 'latin1')
  fixed[4] = 2
  fixed.writeUInt32BE(header.length, 8)
  mkdirSync(join(store, 'entries', KEY2.slice(0, 2)), { recursive: true })
  writeFileSync(join(store, 'entries', KEY2.slice(0, 2), KEY2), Buffer.concat([fixed, header]))

  const result = await cairn(['verify', '--store', store, '--json', '--fix'])
  assert.is(result.code, 0, result.stdout)
  const report = JSON.parse(result.stdout)
  assert.equal(report.damage, [])
  assert.is(report.unchecked.length, 1)
  assert.is(report.unchecked[0].name, name)
  assert.match(report.unchecked[0].reason, /zstd/)
  assert.ok(existsSync(contentFile(store, name)), 'left in place')
  const human = await cairn(['verify', '--store', store])
  assert.match(human.stdout, new RegExp(`^unchecked content ${name}: .*zstd`, 'm'))
  assert.match(human.stdout, /nothing damaged; 1 unchecked$/m)
  assert.is((await cairn(['get', '--store', store, KEY2])).code, 1, 'a miss here')
  assert.ok(existsSync(contentFile(store, name)), 'and the miss removed nothing')
})

verify.run()

// ---

const mixed = suite('a store holding entries of several codecs')
mixed.after(removeTempDirs)

mixed('raw, gzip and brotli entries in one store: get, run hits, verify and stats all agree', async () => {
  const base = tempDir('cairn-compression-mixed-')
  const store = join(base, 'store')
  const raw = compressible(80_000)
  const gz = compressible(80_000)
  const br = compressible(80_000)
  assert.is((await put(store, KEY1, raw)).code, 0)
  assert.is((await put(store, KEY2, gz, ['--compression', 'gzip:1'])).code, 0)
  assert.is((await put(store, KEY3, br, ['--compression', 'brotli:11'])).code, 0)
  // The raw bytes again, by a gzip writer: the raw file is there, and its record says so.
  assert.is((await put(store, KEY4, raw, ['--compression', 'gzip'])).code, 0)
  assert.equal(
    [KEY1, KEY2, KEY3, KEY4].map((key) => readRecord(store, key).codec),
    ['none', 'gzip', 'brotli', 'none'],
  )
  for (const [key, bytes] of [
    [KEY1, raw],
    [KEY2, gz],
    [KEY3, br],
    [KEY4, raw],
  ] as const) {
    const got = await cairn(['get', '--store', store, key])
    assert.ok(got.stdoutBytes.equals(bytes), key)
    const out = join(base, `${key}.out`)
    assert.is((await cairn(['get', '--store', store, key, '-o', out])).code, 0)
    assert.ok(readFileSync(out).equals(bytes), `${key} -o`)
  }

  // A run stored raw hits from a gzip writer, and the other way round.
  const a = makeProject(join(base, 'a'))
  const b = copyProject(a, join(base, 'b'))
  writeFileSync(join(b, 'src', 'c.txt'), 'another input, another key\n')
  expectOutcome(await cairn(buildStepArgs(store), { cwd: a }), 'miss')
  expectOutcome(await cairn(buildStepArgs(store, ['--compression', 'brotli']), { cwd: b }), 'miss')
  const builtA = snapshot(a, BUILD_OUTPUTS)
  const builtB = snapshot(b, BUILD_OUTPUTS)
  for (const project of [a, b]) {
    for (const output of BUILD_OUTPUTS) rmSync(join(project, output), { recursive: true, force: true })
  }
  expectOutcome(await cairn(buildStepArgs(store, ['--compression', 'gzip']), { cwd: a }), 'hit')
  expectOutcome(await cairn(buildStepArgs(store), { cwd: b, env: { CAIRN_COMPRESSION: 'none' } }), 'hit')
  assert.equal(snapshot(a, BUILD_OUTPUTS), builtA)
  assert.equal(snapshot(b, BUILD_OUTPUTS), builtB)

  const verified = await cairn(['verify', '--store', store, '--json'])
  assert.is(verified.code, 0, verified.stdout)
  assert.equal(JSON.parse(verified.stdout).damage, [])
  const summary = JSON.parse((await cairn(['stats', '--store', store, '--json'])).stdout)
  assert.ok(summary.storedBytes < summary.bytes, JSON.stringify(summary))
  assert.ok(summary.ratio > 1)
})

mixed('cairn serve --compression stores uploads compressed and serves the original bytes', async () => {
  const base = tempDir('cairn-compression-serve-')
  const served = await startServe(['--store', join(base, 'served'), '--compression', 'gzip'])
  try {
    const a = makeProject(join(base, 'a'))
    const b = copyProject(a, join(base, 'b'))
    const env = { CAIRN_REMOTE: `${served.url}/cairn` }
    const first = await cairn(buildStepArgs(join(base, 'store-a')), { cwd: a, env })
    expectOutcome(first, 'miss')
    assert.not.match(first.stderr, /cairn: remote:/, 'no remote warnings')
    const onServer = allRecords(join(base, 'served'))
    assert.ok(
      onServer.some((record) => record.codec === 'gzip' && record.version === 2),
      JSON.stringify(onServer),
    )
    // The client's own store was not asked to compress.
    assert.ok(allRecords(join(base, 'store-a')).every((record) => record.codec === 'none'))
    const second = await cairn(buildStepArgs(join(base, 'store-b')), { cwd: b, env })
    expectOutcome(second, 'hit')
    assert.equal(snapshot(b, BUILD_OUTPUTS), snapshot(a, BUILD_OUTPUTS))
  } finally {
    await served.stop()
  }
})

mixed.run()

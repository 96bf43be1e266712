// Every `cairn` subcommand but `run` (tested end to end in cli-run.test.ts): exit codes, --json
// output, --help, bad usage. In-process through main(argv, io), with temp stores.

import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { COMMANDS, defaultStoreDir, RUN_KEY_VERSION, relocatable, runKey } from '@cairn/cli'
import { createHasher, hashKey } from '@cairn/hash'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CAIRN_BIN, cairn } from './fixtures/cli-harness.js'
import { cli } from './fixtures/cli-in-process.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
const OTHER_KEY = 'ffffeeeeddddccccbbbbaaaa99998888'

/** A working directory and a store path inside it (not created yet). */
function setup() {
  const cwd = tempDir('cairn-cli-commands-')
  const store = join(cwd, 'store')
  const run = (argv: string[], stdin?: string | Buffer) =>
    cli(argv, stdin === undefined ? { cwd } : { cwd, stdin })
  return { cwd, store, run }
}

/** Bytes from every value, large enough to be a content file rather than inline. */
function bigBytes(size = 100_000): Buffer {
  const data = Buffer.alloc(size)
  for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff
  return data
}

const usage = suite('bad usage and help')
usage.after(removeTempDirs)

usage('every subcommand prints its help with --help and exits 0', async () => {
  const { run } = setup()
  const names = COMMANDS.map((command) => command.name)
  for (const name of ['run', 'put', 'get', 'has', 'rm', 'key', 'ls', 'stats', 'verify', 'gc']) {
    assert.ok(names.includes(name), `${name} is a command`)
    const help = await run([name, '--help'])
    assert.is(help.code, 0, `${name} --help: ${help.stderr}`)
    assert.ok(help.stdout.startsWith(`usage: cairn ${name}`), `${name} --help: ${help.stdout}`)
    assert.is(help.stderr, '')
    assert.is((await run([name, '-h'])).code, 0)
  }
  const top = await run(['--help'])
  assert.is(top.code, 0)
  for (const name of names) assert.match(top.stdout, new RegExp(`^ {2}${name} `, 'm'))
  assert.is((await run(['help', 'put'])).stdout, (await run(['put', '--help'])).stdout)
})

usage(
  'no command, an unknown command or an unknown option exits 2 with one line and a usage line',
  async () => {
    const { run, store } = setup()
    const cases: [string[], RegExp][] = [
      [[], /^cairn: missing command\.\nusage: cairn <command>/],
      [['frobnicate'], /^cairn: unknown command "frobnicate": expected one of run, /],
      [['ls', '--store', store, '--colour'], /^cairn: Unknown option '--colour'\.\nusage: cairn ls /],
      [['get', '--store', store], /^cairn: missing argument\.\nusage: cairn get /],
      [['has', '--store', store, KEY, 'extra'], /^cairn: unexpected argument "extra"\.\nusage: cairn has /],
      [
        ['has', '--store', store, 'not-a-key'],
        /^cairn: invalid key "not-a-key": a key is 16 to 128 lowercase hex/,
      ],
      [['rm', '--store', store, KEY.toUpperCase()], /^cairn: invalid key /],
      [['stats', '--store'], /^cairn: Option '--store <value>' argument missing\.\nusage: cairn stats /],
      [['key'], /^cairn: give either a FILE/],
      [['key', '--json', '{oops'], /^cairn: --json "\{oops" is not JSON/],
      [['key', '--algorithm', 'md5', '-'], /^cairn: unknown --algorithm "md5"/],
      [['run', '--store', store, '--inputs', 'x', '--outputs', 'y'], /^cairn: no command: put it after --/],
      [['run', '--store', store, '--inputs', 'x', '--', 'true'], /^cairn: --outputs is required\./],
      [['run', '--store', store, '--outputs', 'y', '--', 'true'], /^cairn: --inputs is required/],
      [
        ['run', '--store', store, '--inputs', 'x', '--outputs', '.', '--', 'true'],
        /would replace the working directory/,
      ],
      [
        ['run', '--store', store, '--inputs', 'x', '--outputs', 'y', '--env', 'A=1', '--', 'true'],
        /--env takes a variable name/,
      ],
      // A bad remote tier setting is bad usage too, for every command that takes one.
      [
        ['run', '--store', store, '--remote', 'not-a-url', '--allow-empty', '--outputs', 'y', '--', 'true'],
        /^cairn: remote\.url "not-a-url" is not a valid URL.*\nusage: cairn run .*--remote URL/,
      ],
      [
        [
          'run',
          '--store',
          store,
          '--remote',
          'http://127.0.0.1:9/c',
          '--remote-header',
          'no colon',
          '--allow-empty',
          '--outputs',
          'y',
          '--',
          'true',
        ],
        /^cairn: Remote header 1 is not in the form "Name: value".*\nusage: cairn run /,
      ],
      [
        ['put', '--store', store, '--remote', 'ftp://x', KEY, '-'],
        /^cairn: remote\.url "ftp:\/\/x" uses ftp:/,
      ],
      [['get', '--store', store, '--remote', 'not-a-url', KEY], /^cairn: remote\.url .*\nusage: cairn get /],
      [
        ['has', '--store', store, '--remote', 'http://127.0.0.1:9/c', '--remote-header', 'x', KEY],
        /^cairn: Remote header 1 .*\nusage: cairn has /,
      ],
    ]
    for (const [argv, expected] of cases) {
      const result = await run(argv)
      assert.is(result.code, 2, `cairn ${argv.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, expected)
      assert.match(result.stderr, /^usage: cairn /m, `a usage line for cairn ${argv.join(' ')}`)
      assert.is(result.stdout, '')
      assert.not.match(result.stderr, /\n\s+at /, 'no stack trace')
    }
    assert.not.ok(existsSync(store), 'bad usage creates no store')
  },
)

usage('a failure is one line without a stack, and the stack only with CAIRN_DEBUG=1', async () => {
  const { cwd, store } = setup()
  writeFileSync(join(cwd, 'not-a-store'), 'hello\n')
  const plain = await cli(['ls', '--store', 'not-a-store'], { cwd })
  assert.is(plain.code, 1)
  assert.is(plain.stderr.trim().split('\n').length, 1, plain.stderr)
  assert.match(plain.stderr, /^cairn: /)
  const debug = await cli(['ls', '--store', 'not-a-store'], { cwd, env: { CAIRN_DEBUG: '1' } })
  assert.is(debug.code, 1)
  assert.match(debug.stderr, /\n\s+at /)
  const missing = await cli(['put', '--store', store, KEY, 'no-such-file'], { cwd })
  assert.is(missing.code, 1)
  assert.is(missing.stderr, 'cairn: cannot read no-such-file: no such file.\n')
})

usage('get -o to a path that cannot be written is one line naming it', async () => {
  const { cwd, store } = setup()
  await cli(['put', '--store', store, KEY, '-'], { cwd, stdin: 'x' })
  const noDir = await cli(['get', '--store', store, KEY, '-o', 'no-dir/out'], { cwd })
  assert.is(noDir.code, 1)
  assert.is(noDir.stderr, 'cairn: cannot write no-dir/out: its directory no-dir does not exist.\n')
  writeFileSync(join(cwd, 'a-file'), '')
  const notDir = await cli(['get', '--store', store, KEY, '-o', 'a-file/out'], { cwd })
  assert.is(notDir.code, 1)
  assert.is(notDir.stderr, 'cairn: cannot write a-file/out: a-file is not a directory.\n')
})

usage.run()

// ---

const entries = suite('put, get, has, rm')
entries.after(removeTempDirs)

entries(
  'put stores a file or stdin; get writes it to stdout or a file; has and rm say by exit code',
  async () => {
    const { cwd, store, run } = setup()
    const data = bigBytes()
    writeFileSync(join(cwd, 'input.bin'), data)
    assert.is((await run(['has', '--store', store, KEY])).code, 1)
    const put = await run(['put', '--store', store, KEY, 'input.bin'])
    assert.is(put.code, 0, put.stderr)
    assert.is(put.stderr, `cairn: stored ${KEY} (100000 bytes)\n`)
    assert.is((await run(['has', '--store', store, KEY])).code, 0)
    const got = await run(['get', '--store', store, KEY])
    assert.is(got.code, 0)
    assert.ok(got.stdoutBytes.equals(data), 'get writes the bytes as stored')
    assert.is((await run(['get', '--store', store, KEY, '-o', 'copy.bin'])).code, 0)
    assert.ok(readFileSync(join(cwd, 'copy.bin')).equals(data))

    const again = await run(['put', '--store', store, KEY, '-'], 'other bytes')
    assert.is(again.code, 0, 'a second put of a key succeeds; the first entry stays')
    assert.match(again.stderr, /already stored; the first entry stays/)
    assert.ok((await run(['get', '--store', store, KEY])).stdoutBytes.equals(data))

    assert.is((await run(['put', '--store', store, '-q', OTHER_KEY], 'from stdin\n')).stderr, '')
    assert.is((await run(['get', '--store', store, OTHER_KEY])).stdout, 'from stdin\n')

    assert.is((await run(['rm', '--store', store, KEY])).code, 0)
    assert.is((await run(['has', '--store', store, KEY])).code, 1)
    const gone = await run(['rm', '--store', store, KEY])
    assert.is(gone.code, 1)
    assert.is(gone.stderr, `cairn: no entry ${KEY}\n`)
  },
)

entries('get on a miss exits 1 and writes nothing to stdout', async () => {
  const { store, run } = setup()
  await run(['put', '--store', store, OTHER_KEY, '-'], 'x')
  const miss = await run(['get', '--store', store, KEY])
  assert.is(miss.code, 1)
  assert.is(miss.stdout, '')
  assert.is(miss.stderr, `cairn: miss ${KEY}\n`)
  assert.is((await run(['get', '--store', store, KEY, '--quiet'])).stderr, '')
})

entries('commands that only read do not create a store', async () => {
  const { store, run } = setup()
  assert.is((await run(['get', '--store', store, KEY])).code, 1)
  assert.is((await run(['has', '--store', store, KEY])).code, 1)
  assert.is((await run(['rm', '--store', store, KEY])).code, 1)
  assert.is((await run(['ls', '--store', store])).code, 0)
  assert.is((await run(['stats', '--store', store])).code, 0)
  assert.is((await run(['verify', '--store', store])).code, 0)
  assert.not.ok(existsSync(store))
})

entries('put refuses a directory and a store that is not one, with exit 1', async () => {
  const { cwd, run } = setup()
  const dir = await run(['put', '--store', join(cwd, 's'), KEY, '.'])
  assert.is(dir.code, 1)
  assert.is(dir.stderr, 'cairn: cannot store .: it is not a file.\n')
  writeFileSync(join(cwd, 'notes.txt'), 'mine\n')
  const notStore = await run(['put', '--store', cwd, KEY, 'notes.txt'])
  assert.is(notStore.code, 1)
  assert.match(notStore.stderr, /^cairn: .*not a Cairn store|^cairn: .*is not a store/i)
})

entries(
  'get into a pipe whose reader stops early exits as SIGPIPE would, without a stack trace',
  async () => {
    const { cwd, store, run } = setup()
    await run(['put', '--store', store, KEY, '-'], Buffer.alloc(8 * 1024 * 1024, 1))
    const child = spawn(process.execPath, [CAIRN_BIN, 'get', '--store', store, KEY], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
    })
    // Read one chunk, then close the pipe, as `| head -c 1` does.
    child.stdout.once('data', () => child.stdout.destroy())
    const code = await new Promise((resolve) => child.on('close', resolve))
    assert.is(code, 141)
    assert.is(stderr, '')
  },
)

entries.run()

// ---

const keys = suite('key')
keys.after(removeTempDirs)

keys('key FILE and key - print the content digest; --algorithm sha256 is plain SHA-256', async () => {
  const { cwd, run } = setup()
  const data = bigBytes(5000)
  writeFileSync(join(cwd, 'f.bin'), data)
  const hasher = await createHasher()
  const digest = hasher.bytes(data)
  assert.is((await run(['key', 'f.bin'])).stdout, `${digest}\n`)
  assert.is((await run(['key', '-'], data)).stdout, `${digest}\n`)
  const sha = createHash('sha256').update(data).digest('hex')
  assert.is((await run(['key', '--algorithm', 'sha256', 'f.bin'])).stdout, `${sha}\n`)
  const missing = await run(['key', 'nope.bin'])
  assert.is(missing.code, 1)
  assert.is(missing.stderr, 'cairn: cannot read nope.bin: no such file.\n')
})

keys(
  'key --json prints the canonical key of a JSON value: property order does not matter, types do',
  async () => {
    const { run } = setup()
    const value = { tool: 'tsc', args: ['-p', '.'], version: 5 }
    const printed = await run(['key', '--json', JSON.stringify(value)])
    assert.is(printed.code, 0)
    assert.is(printed.stdout, `${await hashKey(value)}\n`)
    const reordered = await run(['key', '--json', '{"version":5,"args":["-p","."],"tool":"tsc"}'])
    assert.is(reordered.stdout, printed.stdout)
    assert.is.not(
      (await run(['key', '--json', '{"version":"5","args":["-p","."],"tool":"tsc"}'])).stdout,
      printed.stdout,
    )
  },
)

keys.run()

// ---

const listing = suite('ls and stats')
listing.after(removeTempDirs)

listing('ls lists every entry; --json prints an array with key, size, digest, times, metadata', async () => {
  const { store, run } = setup()
  const empty = await run(['ls', '--store', store, '--json'])
  assert.equal(JSON.parse(empty.stdout), [])
  await run(['put', '--store', store, KEY, '-'], 'hello')
  await run(['put', '--store', store, OTHER_KEY, '-'], bigBytes())
  const human = await run(['ls', '--store', store])
  assert.is(human.code, 0)
  const lines = human.stdout.trim().split('\n')
  assert.is(lines.length, 2)
  assert.ok(lines[0]?.startsWith(`${KEY}  `))
  assert.match(lines[1] ?? '', new RegExp(`^${OTHER_KEY} +100000  \\d{4}-\\d\\d-\\d\\dT`))
  const listed = JSON.parse((await run(['ls', '--store', store, '--json'])).stdout) as Record<
    string,
    unknown
  >[]
  assert.is(listed.length, 2)
  const first = listed[0] as Record<string, unknown>
  assert.equal(Object.keys(first).sort(), ['created', 'digest', 'key', 'lastUsed', 'metadata', 'size'])
  assert.is(first.key, KEY)
  assert.is(first.size, 5)
  assert.is(first.digest, (await createHasher()).bytes(Buffer.from('hello')))
  assert.is(first.metadata, null)
  assert.ok(!Number.isNaN(Date.parse(first.created as string)))
})

listing('stats --json: entries, bytes, shards, oldest and newest use, largest entries', async () => {
  const { store, run } = setup()
  const none = JSON.parse((await run(['stats', '--store', store, '--json'])).stdout) as Record<
    string,
    unknown
  >
  assert.equal(
    { ...none, store: '' },
    {
      store: '',
      entries: 0,
      runs: 0,
      bytes: 0,
      storedBytes: 0,
      ratio: null,
      entryBytes: 0,
      shards: 0,
      oldestUse: null,
      newestUse: null,
      largest: [],
      remote: { hits: 0, misses: 0, errors: 0, bytesDown: 0, bytesUp: 0, uploads: 0, uploadsFailed: 0 },
    },
  )
  await run(['put', '--store', store, KEY, '-'], 'hello')
  await run(['put', '--store', store, OTHER_KEY, '-'], bigBytes())
  // Equal content under a third key: stored once, so counted once in bytes.
  await run(['put', '--store', store, 'ffffeeeeddddccccbbbbaaaa99998887', '-'], bigBytes())
  const stats = await run(['stats', '--store', store, '--json'])
  assert.is(stats.code, 0)
  const summary = JSON.parse(stats.stdout) as {
    store: string
    entries: number
    runs: number
    bytes: number
    entryBytes: number
    shards: number
    oldestUse: string
    newestUse: string
    largest: { key: string; size: number; lastUsed: string }[]
  }
  assert.is(summary.store, store)
  assert.is(summary.entries, 3)
  assert.is(summary.runs, 0)
  assert.is(summary.bytes, 100_005)
  assert.is(summary.entryBytes, 200_005)
  assert.is(summary.shards, 2)
  assert.ok(Date.parse(summary.oldestUse) <= Date.parse(summary.newestUse))
  assert.equal(
    summary.largest.map((entry) => [entry.key, entry.size]),
    [
      ['ffffeeeeddddccccbbbbaaaa99998887', 100_000],
      [OTHER_KEY, 100_000],
      [KEY, 5],
    ],
  )
  const human = await run(['stats', '--store', store])
  assert.match(human.stdout, /^entries {5}3$/m)
  assert.match(human.stdout, /^shards {6}2 of 256$/m)
})

listing.run()

// ---

const verifying = suite('verify')
verifying.after(removeTempDirs)

verifying('verify re-hashes everything; damage exits 1 until --fix removes it', async () => {
  const { store, run } = setup()
  await run(['put', '--store', store, KEY, '-'], bigBytes())
  await run(['put', '--store', store, OTHER_KEY, '-'], 'small and inline')
  const clean = await run(['verify', '--store', store, '--json'])
  assert.is(clean.code, 0, clean.stderr)
  const report = JSON.parse(clean.stdout) as Record<string, unknown>
  assert.equal(
    { ...report, ms: 0 },
    { entries: 2, contentFiles: 1, bytesHashed: 100_016, ms: 0, fixed: false, damage: [], unchecked: [] },
  )

  // Bit rot that keeps the sizes: one byte of the content file, one of the inline record.
  const digest = (await createHasher()).bytes(bigBytes())
  const contentFile = join(store, 'content', digest.slice(0, 2), digest)
  chmodSync(contentFile, 0o644)
  const content = readFileSync(contentFile)
  content[500] = (content[500] ?? 0) ^ 1
  writeFileSync(contentFile, content)
  const record = join(store, 'entries', OTHER_KEY.slice(0, 2), OTHER_KEY)
  chmodSync(record, 0o644)
  const bytes = readFileSync(record)
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1
  writeFileSync(record, bytes)

  const found = await run(['verify', '--store', store])
  assert.is(found.code, 1)
  assert.match(found.stdout, new RegExp(`^damaged entry ${KEY}: its content ${digest} is damaged`, 'm'))
  assert.match(
    found.stdout,
    new RegExp(`^damaged entry ${OTHER_KEY}: its inline content does not match`, 'm'),
  )
  assert.match(found.stdout, new RegExp(`^damaged content ${digest}: its bytes hash to`, 'm'))
  assert.match(found.stdout, /: 3 damaged \(run with --fix to remove\)$/m)
  const json = JSON.parse((await run(['verify', '--store', store, '--json'])).stdout) as {
    damage: { kind: string; name: string; removed: boolean }[]
  }
  assert.equal(json.damage.map((item) => [item.kind, item.name, item.removed]).sort(), [
    ['content', digest, false],
    ['entry', KEY, false],
    ['entry', OTHER_KEY, false],
  ])

  const fixed = await run(['verify', '--store', store, '--fix', '--json'])
  assert.is(fixed.code, 0, fixed.stdout)
  const fixedReport = JSON.parse(fixed.stdout) as { fixed: boolean; damage: { removed: boolean }[] }
  assert.is(fixedReport.fixed, true)
  assert.ok(fixedReport.damage.every((item) => item.removed))
  assert.is((await run(['verify', '--store', store])).code, 0)
  assert.is((await run(['has', '--store', store, KEY])).code, 1)
  assert.is((await run(['has', '--store', store, OTHER_KEY])).code, 1)
  assert.equal(readdirSync(join(store, 'content', digest.slice(0, 2))), [])
})

verifying.run()

// ---

const gc = suite('gc')
gc.after(removeTempDirs)

gc("cairn gc takes cairn-gc's flags and prunes --store, a <store-dir>, or the default store", async () => {
  const { cwd, store, run } = setup()
  for (const [i, key] of [KEY, OTHER_KEY, 'ffffeeeeddddccccbbbbaaaa99998887'].entries()) {
    await run(['put', '--store', store, key, '-'], `entry ${i}`)
  }
  const dry = await run(['gc', '--store', store, '--max-entries', '2', '--dry-run', '--json'])
  assert.is(dry.code, 0, dry.stderr)
  const planned = JSON.parse(dry.stdout) as {
    dryRun: boolean
    scanned: { entries: number }
    removed: { entries: number }
  }
  assert.is(planned.dryRun, true)
  assert.is(planned.scanned.entries, 3)
  assert.is(planned.removed.entries, 1)
  assert.is(JSON.parse((await run(['ls', '--store', store, '--json'])).stdout).length, 3)

  const pruned = await run(['gc', store, '--max-entries', '2', '--json'])
  assert.is(pruned.code, 0, pruned.stderr)
  assert.is((JSON.parse(pruned.stdout) as { kept: { entries: number } }).kept.entries, 2)
  const viaEnv = await cli(['gc', '--max-entries=1', '--quiet'], { cwd, env: { CAIRN_DIR: store } })
  assert.is(viaEnv.code, 0, viaEnv.stderr)
  assert.is(viaEnv.stdout, '')
  assert.is(JSON.parse((await run(['ls', '--store', store, '--json'])).stdout).length, 1)
})

gc('cairn gc prunes the <store-dir> given after --, not the default store', async () => {
  const { cwd, run } = setup()
  for (const name of ['s4', 's5']) {
    for (const key of [KEY, OTHER_KEY]) await run(['put', '--store', join(cwd, name), key, '-'], name)
  }
  // A real process, with relative names, as a shell user types it.
  const result = await cairn(['gc', '--max-entries', '0', '--', 's5'], { cwd, env: { CAIRN_DIR: 's4' } })
  assert.is(result.code, 0, result.stderr)
  const count = async (name: string) =>
    JSON.parse((await run(['ls', '--store', join(cwd, name), '--json'])).stdout).length
  assert.is(await count('s5'), 0, 'the store named after -- is pruned')
  assert.is(await count('s4'), 2, 'the default store is left alone')
  const both = await run(['gc', '--store', join(cwd, 's4'), '--max-entries', '0', '--', join(cwd, 's5')])
  assert.is(both.code, 2, `two stores is bad usage: ${both.stderr}`)
  assert.is(await count('s4'), 2)
})

gc('cairn gc without a budget, or with a bad one, is bad usage', async () => {
  const { store, run } = setup()
  await run(['put', '--store', store, KEY, '-'], 'x')
  for (const argv of [
    ['gc', '--store', store],
    ['gc', '--store', store, '--max-size', 'lots'],
    ['gc', '--store', store, '--frobnicate'],
  ]) {
    const result = await run(argv)
    assert.is(result.code, 2, `${argv.join(' ')}: ${result.stderr}`)
    assert.match(result.stderr, /^usage: cairn gc /m)
  }
})

gc.run()

// ---

const runKeys = suite('the run key')

runKeys('is the key of the value docs/FORMAT.md describes, field by field', async () => {
  const hasher = await createHasher()
  const parts = {
    command: ['tsc', '-p', '.'],
    cwd: '.',
    inputs: [
      ['src/main.ts', '9c04e1'],
      ['tsconfig.json', '26c782'],
    ] as [string, string][],
    env: { NODE_ENV: 'production', TARGET: null },
    outputs: ['dist', 'tsconfig.tsbuildinfo'],
    keyExtra: 'typescript@5.9.3',
  }
  const documented = {
    cairnRun: 2,
    command: ['tsc', '-p', '.'],
    cwd: '.',
    inputs: [
      ['src/main.ts', '9c04e1'],
      ['tsconfig.json', '26c782'],
    ],
    env: { NODE_ENV: 'production', TARGET: null },
    outputs: ['dist', 'tsconfig.tsbuildinfo'],
    keyExtra: 'typescript@5.9.3',
  }
  assert.is(RUN_KEY_VERSION, 2)
  assert.is(runKey(hasher, parts), hasher.key(documented))
  // Each part counts.
  const variants = [
    { ...parts, command: ['tsc', '-p', 'src'] },
    { ...parts, cwd: 'packages/app' },
    { ...parts, inputs: [['src/main.ts', '9c04e2']] as [string, string][] },
    { ...parts, env: { NODE_ENV: 'production', TARGET: '' } },
    { ...parts, outputs: ['dist'] },
    { ...parts, keyExtra: null },
  ]
  const keys = new Set([runKey(hasher, parts), ...variants.map((variant) => runKey(hasher, variant))])
  assert.is(keys.size, variants.length + 1)
})

runKeys('writes the project root as <root> only where it is a whole path prefix', () => {
  const root = '/ci/build-4711/app'
  assert.is(relocatable('/ci/build-4711/app/scripts/build.js', root), '<root>/scripts/build.js')
  assert.is(relocatable('--outDir=/ci/build-4711/app/dist', root), '--outDir=<root>/dist')
  assert.is(relocatable('/ci/build-4711/app', root), '<root>')
  assert.is(relocatable('a:/ci/build-4711/app/x:/ci/build-4711/app', root), 'a:<root>/x:<root>')
  assert.is(relocatable('/ci/build-4711/apple/x', root), '/ci/build-4711/apple/x')
  assert.is(relocatable('/ci/build-4711', root), '/ci/build-4711')
  assert.is(relocatable('/usr/bin/node', '/'), '/usr/bin/node', 'a filesystem root is never replaced')
  assert.is(relocatable('C:\\w\\a.b\\x', 'C:\\w\\a.b'), '<root>\\x')
  assert.is(relocatable('C:\\w\\aXb\\x', 'C:\\w\\a.b'), 'C:\\w\\aXb\\x', 'the root is not a pattern')
})

runKeys.run()

// ---

const dirs = suite('the default store directory')

dirs('$CAIRN_DIR first, then each platform convention for caches', () => {
  const home = '/home/ada'
  const at = (platform: NodeJS.Platform, env: NodeJS.ProcessEnv, homeDir = home) =>
    defaultStoreDir({ env, platform, home: homeDir })
  assert.is(at('linux', { CAIRN_DIR: '/srv/cache' }), '/srv/cache')
  assert.is(at('darwin', { CAIRN_DIR: '/srv/cache' }), '/srv/cache')
  assert.is(at('linux', {}), '/home/ada/.cache/cairn')
  assert.is(at('linux', { XDG_CACHE_HOME: '/var/cache/ada' }), '/var/cache/ada/cairn')
  assert.is(at('linux', { XDG_CACHE_HOME: 'relative' }), '/home/ada/.cache/cairn', 'XDG requires absolute')
  assert.is(at('freebsd', {}), '/home/ada/.cache/cairn')
  assert.is(at('darwin', { XDG_CACHE_HOME: '/x' }), '/home/ada/Library/Caches/cairn')
  assert.is(
    at('win32', { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, 'C:\\Users\\ada'),
    'C:\\Users\\ada\\AppData\\Local\\cairn\\Cache',
  )
  assert.is(at('win32', {}, 'C:\\Users\\ada'), 'C:\\Users\\ada\\AppData\\Local\\cairn\\Cache')
})

dirs('with neither --store nor CAIRN_DIR, commands use the platform directory', async () => {
  const cwd = tempDir('cairn-cli-home-')
  const env = { XDG_CACHE_HOME: join(cwd, 'xdg') }
  assert.is((await cli(['put', KEY, '-'], { cwd, env, stdin: 'x' })).code, 0)
  assert.ok(existsSync(join(cwd, 'xdg', 'cairn', 'cairn-store.json')))
  const viaEnv = await cli(['get', KEY], { cwd, env: { CAIRN_DIR: join(cwd, 'xdg', 'cairn') } })
  assert.is(viaEnv.stdout, 'x')
  removeTempDirs()
})

dirs.run()

// Real clients against one `cairn serve` on loopback: turbo 2.11.11 and nx 24.0.6 (from npm,
// root devDependencies), Debian's ccache with gcc (`layout=bazel`), and Cairn's own remote tier.
// Each builds a small project twice with its local cache wiped between; the second run must be
// a remote hit with the same outputs. Then a small --max-size evicts the oldest entries and a
// later client run misses and still succeeds.

import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
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
import { request, type Served, startServe } from './helpers/serve.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TOKEN = 'client-test-token'
let served: Served

/** The server's counter `name` for `protocol`, from /metrics. */
async function counter(name: string, protocol: string): Promise<number> {
  const { body } = await request(`${served.url}/metrics`, { token: TOKEN })
  const match = new RegExp(`^${name}\\{protocol="${protocol}"\\} (\\d+)$`, 'm').exec(body.toString())
  return Number(match?.[1] ?? 0)
}

/** Runs a command; fails the test with its output if it exits non-zero. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8' })
  const output = `${result.stdout}${result.stderr}`
  assert.is(result.status, 0, `${command} ${args.join(' ')} failed:\n${output}`)
  return output
}

/** A build script: writes dist/out.txt with random bytes, so a rerun would show. */
const BUILD_JS = `const fs = require('fs')
fs.mkdirSync('dist', { recursive: true })
fs.writeFileSync('dist/out.txt', 'built ' + require('crypto').randomBytes(16).toString('hex'))
`

const clients = suite('real clients: a second run after wiping the local cache is a remote hit')
clients.before(async () => {
  served = await startServe(['--store', join(tempDir('cairn-serve-clients-'), 'store'), '--token', TOKEN])
})
clients.after(async () => {
  const { code } = await served.stop()
  removeTempDirs()
  assert.is(code, 0, 'SIGTERM exits 0')
})

clients('turbo 2.11.11 (Turborepo v8 API): miss, then FULL TURBO from the server', async () => {
  const dir = tempDir('cairn-serve-turbo-')
  mkdirSync(join(dir, 'pkgs', 'a'), { recursive: true })
  writeFileSync(
    join(dir, 'package.json'),
    '{"name":"tp","private":true,"packageManager":"npm@11.0.0","workspaces":["pkgs/*"]}\n',
  )
  writeFileSync(
    join(dir, 'package-lock.json'),
    '{"name":"tp","lockfileVersion":3,"requires":true,"packages":{"":{"name":"tp","workspaces":["pkgs/*"]},"pkgs/a":{"name":"a","version":"1.0.0"},"node_modules/a":{"resolved":"pkgs/a","link":true}}}\n',
  )
  writeFileSync(join(dir, 'turbo.json'), '{"tasks":{"build":{"outputs":["dist/**"]}}}\n')
  writeFileSync(
    join(dir, 'pkgs', 'a', 'package.json'),
    '{"name":"a","version":"1.0.0","scripts":{"build":"node build.js"}}\n',
  )
  writeFileSync(join(dir, 'pkgs', 'a', 'build.js'), BUILD_JS)
  const turbo = join(ROOT, 'node_modules', '.bin', 'turbo')
  const args = ['run', 'build', `--api=${served.url}`, '--token', TOKEN, '--team', 'cairn-test']
  const env = { TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', TURBO_NO_UPDATE_NOTIFIER: '1' }
  const wipe = () => {
    for (const path of ['.turbo', 'pkgs/a/.turbo', 'pkgs/a/dist'])
      rmSync(join(dir, path), { recursive: true, force: true })
  }
  const first = run(turbo, args, dir, env)
  assert.match(first, /cache miss, executing/)
  const built = readFileSync(join(dir, 'pkgs', 'a', 'dist', 'out.txt'), 'utf8')
  assert.ok((await counter('cairn_serve_entries_written_total', 'turbo')) >= 1, 'turbo uploaded')
  wipe()
  const hitsBefore = await counter('cairn_serve_hits_total', 'turbo')
  const second = run(turbo, args, dir, env)
  assert.match(second, /cache hit, replaying logs/)
  assert.match(second, /FULL TURBO/)
  assert.is(readFileSync(join(dir, 'pkgs', 'a', 'dist', 'out.txt'), 'utf8'), built, 'identical output')
  assert.ok((await counter('cairn_serve_hits_total', 'turbo')) > hitsBefore, 'the hit came from the server')
})

clients(
  'nx 24.0.6 (self-hosted cache API): miss, then a remote hit after the local cache is gone',
  async () => {
    const dir = tempDir('cairn-serve-nx-')
    mkdirSync(join(dir, 'a'), { recursive: true })
    writeFileSync(join(dir, 'package.json'), '{"name":"np","private":true}\n')
    writeFileSync(join(dir, 'nx.json'), '{"targetDefaults":{"build":{"cache":true}}}\n')
    writeFileSync(
      join(dir, 'a', 'project.json'),
      '{"name":"a","targets":{"build":{"executor":"nx:run-commands","outputs":["{projectRoot}/dist"],"options":{"command":"node build.js","cwd":"a"},"cache":true}}}\n',
    )
    writeFileSync(join(dir, 'a', 'build.js'), BUILD_JS)
    // nx looks for itself in the workspace's node_modules: the repository's, with nx installed.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
    const nx = join(ROOT, 'node_modules', '.bin', 'nx')
    const env = {
      NX_SELF_HOSTED_REMOTE_CACHE_SERVER: served.url,
      NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: TOKEN,
      NX_DAEMON: 'false',
      NX_NO_CLOUD: 'true',
      NX_TUI: 'false',
      NX_SKIP_NX_CACHE: 'false',
    }
    const first = run(nx, ['run', 'a:build'], dir, env)
    assert.match(first, /Successfully ran target build/)
    assert.not.match(first, /read the output from the cache/)
    const built = readFileSync(join(dir, 'a', 'dist', 'out.txt'), 'utf8')
    assert.ok((await counter('cairn_serve_entries_written_total', 'nx')) >= 1, 'nx uploaded')
    rmSync(join(dir, '.nx'), { recursive: true, force: true })
    rmSync(join(dir, 'a', 'dist'), { recursive: true, force: true })
    const hitsBefore = await counter('cairn_serve_hits_total', 'nx')
    const second = run(nx, ['run', 'a:build'], dir, env)
    assert.match(second, /read the output from the cache instead of running the command for 1 out of 1 tasks/)
    assert.is(readFileSync(join(dir, 'a', 'dist', 'out.txt'), 'utf8'), built, 'identical output')
    assert.ok((await counter('cairn_serve_hits_total', 'nx')) > hitsBefore, 'the hit came from the server')
  },
)

/** Compiles hello.c in `dir` with ccache against the server; returns ccache's counters. */
function ccacheCompile(dir: string, namespace: string): Record<string, number> {
  const env = {
    CCACHE_DIR: join(dir, 'ccache'),
    // ccache gives up on a server that takes 100 ms to accept (its default connect-timeout): on a
    // busy 2-core machine that would be a remote error, not the miss or hit under test.
    CCACHE_REMOTE_STORAGE: `${served.url.replace('://', `://cairn:${TOKEN}@`)}/${namespace}|layout=bazel|connect-timeout=10000|operation-timeout=60000`,
    CCACHE_NOHASHDIR: '1',
  }
  run('ccache', ['gcc', '-c', 'hello.c', '-o', 'hello.o'], dir, env)
  const stats = run('ccache', ['--print-stats'], dir, env)
  return Object.fromEntries(
    stats
      .split('\n')
      .map((line) => line.split('\t'))
      .filter((pair) => pair.length === 2)
      .map(([name, value]) => [name as string, Number(value)]),
  )
}

clients('ccache 4.7 with gcc (layout=bazel): miss, then a remote hit with the same object file', async () => {
  const dir = tempDir('cairn-serve-ccache-')
  writeFileSync(
    join(dir, 'hello.c'),
    `#include <stdio.h>\nint main(void) { puts("${randomBytes(8).toString('hex')}"); return 0; }\n`,
  )
  const first = ccacheCompile(dir, 'team-a')
  assert.is(first.remote_storage_miss, 1, JSON.stringify(first))
  assert.ok((first.remote_storage_write ?? 0) >= 1, JSON.stringify(first))
  const object = readFileSync(join(dir, 'hello.o'))
  rmSync(join(dir, 'ccache'), { recursive: true, force: true })
  rmSync(join(dir, 'hello.o'))
  const second = ccacheCompile(dir, 'team-a')
  assert.is(second.remote_storage_hit, 1, JSON.stringify(second))
  assert.ok(readFileSync(join(dir, 'hello.o')).equals(object), 'identical object file')
  // Another namespace shares nothing.
  rmSync(join(dir, 'ccache'), { recursive: true, force: true })
  const other = ccacheCompile(dir, 'team-b')
  assert.is(other.remote_storage_miss, 1, JSON.stringify(other))
})

clients("Cairn's remote tier (CAIRN_REMOTE): a run on another machine is a hit, byte-identical", async () => {
  const base = tempDir('cairn-serve-tier-')
  const a = makeProject(join(base, 'a'))
  const b = copyProject(a, join(base, 'b'))
  const env = { CAIRN_REMOTE: `${served.url}/cairn`, CAIRN_REMOTE_HEADERS: `Authorization: Bearer ${TOKEN}` }
  const first = await cairn(buildStepArgs(join(base, 'store-a')), { cwd: a, env })
  expectOutcome(first, 'miss')
  assert.not.match(first.stderr, /cairn: remote:/, 'no remote warnings')
  const second = await cairn(buildStepArgs(join(base, 'store-b')), { cwd: b, env })
  expectOutcome(second, 'hit')
  assert.is(runCount(join(b, 'runs.log')), 0, 'the command did not run on the second machine')
  assert.equal(snapshot(b, BUILD_OUTPUTS), snapshot(a, BUILD_OUTPUTS), 'paths, types, modes, bytes and links')
  assert.ok((await counter('cairn_serve_hits_total', 'bazel')) >= 2, 'record and content from the server')
})

clients.run()

// ---

const budget = suite(
  'a small --max-size: least recently used entries go, a later client run misses and succeeds',
)

budget(
  'the oldest entries are evicted as new ones arrive; ccache then misses and still compiles',
  async () => {
    const store = join(tempDir('cairn-serve-budget-'), 'store')
    served = await startServe(['--store', store, '--max-size', '64KiB', '--token', TOKEN])
    try {
      const dir = tempDir('cairn-serve-budget-cc-')
      writeFileSync(join(dir, 'hello.c'), `int answer(void) { return ${Date.now() % 1000}; }\n`)
      const first = ccacheCompile(dir, 'cc')
      assert.is(first.remote_storage_miss, 1, JSON.stringify(first))
      // 12 entries of 16 KiB, oldest first: each passes 10 % of the budget, so each starts a prune.
      const blobs = Array.from({ length: 12 }, () => randomBytes(16 * 1024))
      for (const [index, blob] of blobs.entries()) {
        const put = await request(`${served.url}/v1/cache/${index}`, {
          method: 'PUT',
          body: blob,
          token: TOKEN,
        })
        assert.is(put.status, 202)
      }
      // The prunes run beside the requests: wait (bounded) until the oldest is gone.
      const deadline = Date.now() + 30_000
      while ((await request(`${served.url}/v1/cache/0`, { token: TOKEN })).status !== 404) {
        assert.ok(Date.now() < deadline, 'the oldest entry was never evicted')
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const newest = await request(`${served.url}/v1/cache/11`, { token: TOKEN })
      assert.is(newest.status, 200, 'the newest entry stays')
      assert.ok(newest.body.equals(blobs[11] as Buffer), 'whole')
      const metrics = (await request(`${served.url}/metrics`, { token: TOKEN })).body.toString()
      assert.match(metrics, /^cairn_serve_gc_entries_removed_total [1-9]/m)
      // ccache's entries were the oldest of all: gone, so a fresh ccache misses, compiles and stores again.
      rmSync(join(dir, 'ccache'), { recursive: true, force: true })
      rmSync(join(dir, 'hello.o'))
      const again = ccacheCompile(dir, 'cc')
      assert.is(again.remote_storage_miss, 1, JSON.stringify(again))
      assert.ok(readFileSync(join(dir, 'hello.o')).length > 0)
    } finally {
      await served.stop()
      removeTempDirs()
    }
  },
)

budget.run()

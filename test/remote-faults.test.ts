// The remote never breaks a build: through a proxy that delays, hangs, drops connections,
// answers 500, truncates, extends and flips bytes, every lookup is a miss or the right bytes,
// never an error and never wrong data; uploads give up quietly; a hung server costs at most the
// timeout; and after repeated failures the circuit breaker stops the waiting.

import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHasher, type Hasher } from '@cairn/hash'
import { openRemoteStore, type RemoteOptions, type RemoteStore } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type FaultKind, type FaultProxy, startFaultProxy } from './fixtures/remote-proxy.js'
import { freePort, type Nginx, startNginx } from './helpers/nginx.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const TIMEOUT_MS = 400
/**
 * What a hung request may cost beyond the timeout: scheduling, a retry's connect, a machine busy
 * with other work (1 s was exceeded there). The bounds below catch a wait that is not cut off at
 * all (a hang, a delay longer than the bound); that a lookup costs one timeout and not several
 * is asserted by counting requests, which no load can change.
 */
const SLACK_MS = 5000

let nginx: Nginx
let proxy: FaultProxy
let hasher: Hasher
let writer: RemoteStore

function machine(
  url: string,
  remote: Partial<RemoteOptions> = {},
  warnings: string[] = [],
): Promise<RemoteStore> {
  return openRemoteStore(tempDir(), {
    algorithm: 'sha256',
    remote: {
      url,
      timeoutMs: TIMEOUT_MS,
      failureThreshold: 1000,
      warn: (line) => warnings.push(line),
      ...remote,
    },
  })
}

/** Puts an entry straight into nginx (no faults) and returns its key and bytes. */
async function seed(name: string, size = 50_000): Promise<{ key: string; data: Buffer }> {
  const key = hasher.key(['faults', name])
  const data = randomBytes(size)
  await writer.put(key, data)
  await writer.flush()
  return { key, data }
}

async function timed<T>(action: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await action()
  return { value, ms: performance.now() - started }
}

const faults = suite('reads through a misbehaving network')
faults.before(async () => {
  nginx = await startNginx()
  proxy = await startFaultProxy(nginx.url)
  hasher = await createHasher({ algorithm: 'sha256' })
  writer = await machine(nginx.url)
})
faults.before.each(() => {
  proxy.fault = undefined
})
faults.after(async () => {
  await proxy?.close()
  await nginx?.stop()
  removeTempDirs()
})

const kinds: FaultKind[] = ['drop', 'status-500', 'truncate', 'flip', 'extend', 'hang', 'stall', 'delay']

faults(
  'every fault on the record or the content is a miss or the right bytes, within the timeout',
  async () => {
    const warnings: string[] = []
    const reader = await machine(proxy.url, {}, warnings)
    for (const kind of kinds) {
      for (const target of ['ac', 'cas'] as const) {
        const { key, data } = await seed(`${kind}-${target}`)
        const before = proxy.log.length
        // A delay beyond the bound: only the timeout can end the lookup within it.
        proxy.fault = { kind, match: new RegExp(`^GET /cache/${target}/`), ms: 2 * (TIMEOUT_MS + SLACK_MS) }
        const { value, ms } = await timed(() => reader.get(key))
        const what = `${kind} on ${target}/`
        if (value !== undefined) assert.ok(value.data.equals(data), `${what}: wrong bytes`)
        else assert.is(reader.local.infoSync(key), undefined, `${what}: a miss published nothing`)
        assert.ok(proxy.log.at(-1)?.faulted, `${what}: the fault was applied`)
        assert.ok(ms < TIMEOUT_MS + SLACK_MS, `${what}: took ${Math.round(ms)} ms`)
        if (kind === 'hang' || kind === 'stall' || kind === 'delay') {
          const faulted = proxy.log.slice(before).filter((entry) => entry.faulted).length
          assert.is(faulted, 1, `${what}: one request timed out, and was not retried`)
        }
        proxy.fault = undefined
        assert.ok((await reader.get(key))?.data.equals(data), `${what}: a hit once the network behaves`)
      }
    }
    if (process.env.SHOW_WARNINGS) console.log(warnings.join('\n'))
    // Each kind of failure is said once, with the request it was about; a timeout also says,
    // once, that uploads pause.
    const failures = warnings.filter((line) => !line.includes('not uploading'))
    assert.ok(failures.length >= 3 && failures.length <= 8, warnings.join('\n'))
    for (const line of failures)
      assert.match(line, /^cairn: remote: GET http:\/\/127\.0\.0\.1:\d+\/cache\/(ac|cas)\//)
    assert.ok(warnings.length - failures.length <= 1, warnings.join('\n'))
    assert.ok(reader.remoteStats().errors >= kinds.length * 2 - 2)
  },
)

faults('a damaged download through materialize and getStream is a miss and leaves no file', async () => {
  const reader = await machine(proxy.url)
  for (const kind of ['flip', 'truncate', 'extend', 'drop', 'stall'] as const) {
    const { key, data } = await seed(`stream-${kind}`, 300_000)
    proxy.fault = { kind, match: /^GET \/cache\/cas\// }
    const dest = join(tempDir(), 'out.bin')
    assert.not.ok(await reader.materialize(key, dest), kind)
    assert.not.ok(existsSync(dest), kind)
    assert.is(await reader.getStream(key), undefined, kind)
    assert.is(reader.local.infoSync(key), undefined, kind)
    proxy.fault = undefined
    assert.ok(await reader.materialize(key, dest), kind)
    assert.ok(readFileSync(dest).equals(data), kind)
  }
})

faults('a slow answer within the timeout is a hit', async () => {
  // The answer comes TIMEOUT_MS late, far within this reader's timeout. (A quarter of a 400 ms
  // timeout as the delay left a busy machine too little time for the rest of the request.)
  const reader = await machine(proxy.url, { timeoutMs: TIMEOUT_MS + 2 * SLACK_MS })
  const { key, data } = await seed('slow')
  proxy.fault = { kind: 'delay', ms: TIMEOUT_MS }
  assert.ok((await reader.get(key))?.data.equals(data))
})

faults(
  'after a lookup times out, uploads pause: a miss against a hung server costs one timeout',
  async () => {
    const warnings: string[] = []
    const builder = await machine(proxy.url, {}, warnings)
    proxy.fault = { kind: 'hang' }
    const before = proxy.log.length
    const { ms } = await timed(async () => {
      // What `cairn run` does on a miss: look up, run the step, store its outputs, flush.
      assert.is(await builder.get(hasher.key(['hung build step'])), undefined)
      for (let i = 0; i < 5; i++) await builder.put(hasher.key(['hung output', i]), randomBytes(10_000))
      await builder.flush()
    })
    proxy.fault = undefined
    assert.ok(ms < TIMEOUT_MS + SLACK_MS, `the miss took ${Math.round(ms)} ms`)
    assert.is(
      proxy.log.slice(before).filter((entry) => entry.request.startsWith('PUT')).length,
      0,
      'no upload went out',
    )
    assert.is(builder.remoteStats().uploadsFailed, 5)
    assert.is(warnings.filter((line) => line.includes('not uploading')).length, 1)
  },
)

faults('failed uploads are dropped quietly, and a record is never uploaded without its content', async () => {
  const warnings: string[] = []
  const uploader = await machine(proxy.url, {}, warnings)
  for (const kind of ['status-500', 'drop', 'hang'] as const) {
    const key = hasher.key(['upload', kind])
    proxy.fault = { kind, match: /^PUT \/cache\/cas\// }
    await uploader.put(key, randomBytes(20_000))
    const { ms } = await timed(() => uploader.flush())
    assert.ok(ms < TIMEOUT_MS + SLACK_MS, `${kind}: flush took ${Math.round(ms)} ms`)
    assert.not.ok(existsSync(join(nginx.root, 'ac', key)), `${kind}: no record without content`)
  }
  assert.is(uploader.remoteStats().uploadsFailed, 3)
  assert.is(uploader.remoteStats().uploads, 0)
  // A record upload that fails leaves content nobody names: a miss for readers, not an error.
  // (A fresh machine: the hang above holds this one's uploads for a while.)
  const recordUploader = await machine(proxy.url, {}, warnings)
  const key = hasher.key(['upload', 'record fails'])
  proxy.fault = { kind: 'status-500', match: /^PUT \/cache\/ac\// }
  await recordUploader.put(key, 'orphan content')
  await recordUploader.flush()
  assert.is(recordUploader.remoteStats().uploadsFailed, 1, 'the record upload was tried and failed')
  proxy.fault = undefined
  const reader = await machine(proxy.url)
  assert.is(await reader.get(key), undefined)
  assert.ok(warnings.length > 0)
})

faults('a hung server costs each lookup at most the timeout, and the breaker stops the waiting', async () => {
  const warnings: string[] = []
  const reader = await machine(proxy.url, { failureThreshold: 3, cooldownMs: 60_000 }, warnings)
  proxy.fault = { kind: 'hang' }
  const before = proxy.log.length
  // 30 lookups: without the breaker they would cost 30 timeouts, far beyond the bound.
  const { ms } = await timed(async () => {
    for (let i = 0; i < 30; i++) assert.is(await reader.get(hasher.key(['hung', i])), undefined)
  })
  assert.ok(ms < 3 * TIMEOUT_MS + SLACK_MS, `30 lookups took ${Math.round(ms)} ms`)
  assert.is(proxy.log.slice(before).length, 3, 'after three timeouts the remote is left alone')
  assert.is(warnings.filter((line) => line.includes('requests in a row failed')).length, 1)
  assert.equal(reader.remoteStats().misses, 30)
})

faults('a server that refuses connections is a quick miss, said once', async () => {
  const warnings: string[] = []
  // Quick means no lookup waited for the timeout, made long here so that no load can be mistaken
  // for one.
  const timeoutMs = 60_000
  const reader = await machine(`http://127.0.0.1:${await freePort()}/cache`, { timeoutMs }, warnings)
  const { ms } = await timed(async () => {
    for (let i = 0; i < 5; i++) assert.is(await reader.get(hasher.key(['refused', i])), undefined)
  })
  assert.ok(ms < timeoutMs, `took ${Math.round(ms)} ms`)
  assert.is(warnings.length, 1)
  assert.match(warnings[0] as string, 'ECONNREFUSED')
})

faults.run()

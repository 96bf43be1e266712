import * as remote from '@cairn/remote'
import { openRemoteStore, parseRemoteHeaders, type RemoteOptions, remoteOptionsFromEnv } from '@cairn/remote'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { removeTempDirs, tempDir } from './helpers.js'

const exportsSuite = suite('exports')

exportsSuite('the package exports the wrapper, its helpers and its error class', () => {
  assert.type(remote.openRemoteStore, 'function')
  assert.type(remote.RemoteStore, 'function')
  assert.type(remote.remoteOptionsFromEnv, 'function')
  assert.type(remote.parseRemoteHeaders, 'function')
  assert.type(remote.RemoteFailure, 'function')
  assert.is(remote.REMOTE_FORMAT_VERSION, 1)
})

exportsSuite('openStore: with remote a RemoteStore, without it the plain local store', async () => {
  const local = await remote.openStore(tempDir())
  assert.not.ok(local instanceof remote.RemoteStore)
  assert.type(local.flush, 'function')
  const tiered = await remote.openStore(tempDir(), {
    remote: { url: 'http://127.0.0.1:9/cache', warn: () => {} },
  })
  assert.ok(tiered instanceof remote.RemoteStore)
  await tiered.flush()
})

exportsSuite.after(removeTempDirs)
exportsSuite.run()

// ---

/** Runs `action`, which must throw or reject with ERR_CAIRN_INVALID_OPTION; returns the message. */
async function invalid(action: () => unknown): Promise<string> {
  try {
    await action()
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_CAIRN_INVALID_OPTION', (error as Error).message)
    return (error as Error).message
  }
  assert.unreachable('expected ERR_CAIRN_INVALID_OPTION')
  return ''
}

const open = (remote: unknown, algorithm?: 'xxh128' | 'sha256') =>
  openRemoteStore(tempDir(), { remote: remote as RemoteOptions, ...(algorithm ? { algorithm } : {}) })

const options = suite('openRemoteStore options')
options.after(removeTempDirs)

options('bad remote options are refused, quoting the value and saying what was expected', async () => {
  assert.match(await invalid(() => open(undefined)), 'needs options.remote')
  assert.match(await invalid(() => open({ url: 'ftp://x/y' })), 'expected http:// or https://')
  assert.match(await invalid(() => open({ url: 'not a url' })), 'is not a valid URL')
  assert.match(await invalid(() => open({ url: 'http://x/?a=1' })), 'query or fragment')
  assert.match(await invalid(() => open({ url: 'http://x', timeoutMs: 0 })), 'remote.timeoutMs is 0')
  assert.match(await invalid(() => open({ url: 'http://x', concurrency: 1.5 })), 'remote.concurrency is 1.5')
  assert.match(await invalid(() => open({ url: 'http://x', mode: 'write' })), "'read-write' or 'read-only'")
  assert.match(await invalid(() => open({ url: 'http://x', server: 'redis' })), "'generic' or 'bazel-remote'")
  assert.match(await invalid(() => open({ url: 'http://x', headers: { 'Bad Name': 'v' } })), 'invalid name')
})

options('credentials in a refused URL are never quoted', async () => {
  const message = await invalid(() => open({ url: 'ftp://ci:s3cret-pass@host/' }))
  assert.not.match(message, 's3cret')
})

options('bazel-remote needs sha256: a new store gets it, and xxh128 is refused', async () => {
  const store = await open({ url: 'http://127.0.0.1:9', server: 'bazel-remote' })
  assert.is(store.algorithm, 'sha256')
  assert.match(
    await invalid(() => open({ url: 'http://127.0.0.1:9', server: 'bazel-remote' }, 'xxh128')),
    'sha256',
  )
  const generic = await open({ url: 'http://127.0.0.1:9' })
  assert.is(generic.algorithm, 'xxh128')
})

options('an existing xxh128 store cannot be opened for bazel-remote', async () => {
  const dir = tempDir()
  await openRemoteStore(dir, { remote: { url: 'http://127.0.0.1:9' } })
  try {
    await openRemoteStore(dir, { remote: { url: 'http://127.0.0.1:9', server: 'bazel-remote' } })
    assert.unreachable('expected ERR_CAIRN_ALGORITHM_MISMATCH')
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_CAIRN_ALGORITHM_MISMATCH')
  }
})

options('plain http to another machine warns once at open; loopback and https do not', async () => {
  const warned = async (url: string) => {
    const lines: string[] = []
    await open({ url, warn: (line: string) => lines.push(line) })
    return lines
  }
  const lines = await warned('http://cache.internal:8080/c')
  assert.is(lines.length, 1)
  assert.match(lines[0] as string, /^cairn: remote: http:\/\/cache\.internal:8080\/c is plain http:\/\//)
  assert.is((await warned('http://10.0.0.5')).length, 1)
  assert.equal(await warned('http://127.0.0.1:9090'), [])
  assert.equal(await warned('http://localhost'), [])
  assert.equal(await warned('http://[::1]:80'), [])
  assert.equal(await warned('https://cache.internal'), [])
})

options.run()

// ---

const headers = suite('parseRemoteHeaders')

headers('parses lines, lowercases names, and a later header replaces an earlier one', () => {
  assert.equal(parseRemoteHeaders('Authorization: Bearer a\r\n\nX-Team:  build  '), {
    authorization: 'Bearer a',
    'x-team': 'build',
  })
  assert.equal(parseRemoteHeaders(['authorization: one', 'Authorization: two']), { authorization: 'two' })
})

headers('a malformed header is refused without showing its value', async () => {
  assert.not.match(await invalid(() => parseRemoteHeaders('Bearer secret-token-xyz')), 'secret-token')
  assert.match(await invalid(() => parseRemoteHeaders('Bad Name: v')), 'invalid name')
  assert.match(await invalid(() => parseRemoteHeaders('Content-Length: 5')), 'manages itself')
  assert.not.match(await invalid(() => parseRemoteHeaders(['X-Key: secret\u0000value'])), 'secret')
})

headers.run()

// ---

const env = suite('remoteOptionsFromEnv')

env('no URL means no remote', () => {
  assert.is(remoteOptionsFromEnv({}), undefined)
  assert.is(remoteOptionsFromEnv({ CAIRN_REMOTE: 'http://x' }, { remote: '' }), undefined)
})

env('reads CAIRN_REMOTE_*, and flags win over the environment', () => {
  const options = remoteOptionsFromEnv(
    {
      CAIRN_REMOTE: 'http://a.example',
      CAIRN_REMOTE_HEADERS: 'Authorization: Bearer env\nX-Team: build',
      CAIRN_REMOTE_MODE: 'read-write',
      CAIRN_REMOTE_TIMEOUT: '2500',
      CAIRN_REMOTE_SERVER: 'bazel-remote',
    },
    { remote: 'https://b.example/c', remoteHeaders: ['Authorization: Bearer flag'], remoteReadOnly: true },
  )
  assert.equal(options, {
    url: 'https://b.example/c',
    headers: { authorization: 'Bearer flag', 'x-team': 'build' },
    mode: 'read-only',
    timeoutMs: 2500,
    server: 'bazel-remote',
  })
})

env('bad values are refused', async () => {
  assert.match(
    await invalid(() => remoteOptionsFromEnv({ CAIRN_REMOTE: 'http://x', CAIRN_REMOTE_MODE: 'ro' })),
    'read-only',
  )
  assert.match(
    await invalid(() => remoteOptionsFromEnv({ CAIRN_REMOTE: 'http://x', CAIRN_REMOTE_TIMEOUT: '1s' })),
    '"1s"',
  )
})

env.run()

// The transformer through its public entry, with a local inner transformer that counts its
// calls and returns a source map naming the absolute file: a hit in another checkout serves the
// stored output with that checkout's paths, without calling the inner transformer.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import cairnJest, { createTransformer } from '@cairn/jest'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const test = suite('@cairn/jest transformer')
let dir: string
let inner: string

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-jest-unit-'))
  inner = join(dir, 'inner.cjs')
  writeFileSync(
    inner,
    `const { appendFileSync } = require('node:fs')
module.exports = {
  process(source, filename) {
    appendFileSync(${JSON.stringify(join(dir, 'calls'))}, filename + '\\n')
    return { code: source.toUpperCase(), map: { version: 3, sources: [filename], file: filename, mappings: '' } }
  },
}
`,
  )
})

test.after(() => {
  rmSync(dir, { recursive: true, force: true })
})

const calls = (): string[] => readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter(Boolean)
const options = (rootDir: string) => ({ config: { rootDir } })

test("a hit in another checkout points the map at that checkout's files; the inner runs once", async () => {
  assert.is(cairnJest.createTransformer, createTransformer, 'Jest reads the default export')
  const transformer = await createTransformer({ transformer: inner, store: join(dir, 'store') })
  const first = transformer.process?.('let a = 1', '/checkouts/one/src/a.js', options('/checkouts/one'))
  assert.equal(first, {
    code: 'LET A = 1',
    map: { version: 3, sources: ['/checkouts/one/src/a.js'], file: '/checkouts/one/src/a.js', mappings: '' },
  })
  const second = transformer.process?.('let a = 1', '/checkouts/two/src/a.js', options('/checkouts/two'))
  assert.equal(second, {
    code: 'LET A = 1',
    map: { version: 3, sources: ['/checkouts/two/src/a.js'], file: '/checkouts/two/src/a.js', mappings: '' },
  })
  assert.equal(calls(), ['/checkouts/one/src/a.js'])
  const keyOne = transformer.getCacheKey?.('let a = 1', '/checkouts/one/src/a.js', options('/checkouts/one'))
  const changed = transformer.getCacheKey?.('let a = 2', '/checkouts/one/src/a.js', options('/checkouts/one'))
  assert.type(keyOne, 'string')
  assert.is.not(keyOne, changed, 'the source is in the key')
})

test('an inline source map naming rootDir keeps the entry to its own directory', async () => {
  // An inner transformer that keeps the code as it is (inline map included).
  const keeping = join(dir, 'keeping.cjs')
  writeFileSync(
    keeping,
    `const { appendFileSync } = require('node:fs')
module.exports = { process(source, filename) { appendFileSync(${JSON.stringify(join(dir, 'calls'))}, filename + '\\n'); return { code: source } } }
`,
  )
  const transformer = await createTransformer({ transformer: keeping, store: join(dir, 'store') })
  const map = Buffer.from(JSON.stringify({ version: 3, sources: ['/checkouts/one/src/b.js'] })).toString(
    'base64',
  )
  const source = `b()\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${map}`
  transformer.process?.(source, '/checkouts/one/src/b.js', options('/checkouts/one'))
  transformer.process?.(source, '/checkouts/two/src/b.js', options('/checkouts/two'))
  assert.equal(
    calls().slice(-2),
    ['/checkouts/one/src/b.js', '/checkouts/two/src/b.js'],
    'no hit in checkout two',
  )
  transformer.process?.(source, '/checkouts/one/src/b.js', options('/checkouts/one'))
  assert.is(calls().length, 3, 'a hit in checkout one')
})

test('another transformer option is another key', async () => {
  const transformer = await createTransformer({
    transformer: inner,
    transformerConfig: { flavour: 'other' },
    store: join(dir, 'store'),
  })
  const before = calls().length
  await transformer.processAsync?.('let a = 1', '/checkouts/one/src/a.js', options('/checkouts/one'))
  assert.is(calls().length, before + 1)
})

test('a mistyped option is a clear error', async () => {
  try {
    await createTransformer({ transformer: inner, maxSize: 'lots' })
    assert.unreachable('maxSize "lots" was accepted')
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_CAIRN_INVALID_OPTION')
    assert.match((error as Error).message, 'maxSize')
  }
})

test("a bad CAIRN_JEST_MAX_SIZE is the teardown's problem, never the transforms'", async () => {
  process.env.CAIRN_JEST_MAX_SIZE = 'lots'
  try {
    const transformer = await createTransformer({ transformer: inner, store: join(dir, 'store') })
    assert.type(transformer.process, 'function')
  } finally {
    delete process.env.CAIRN_JEST_MAX_SIZE
  }
})

test.run()

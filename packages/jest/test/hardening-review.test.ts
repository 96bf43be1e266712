// Regressions from the review of @cairn/jest: a corrupt store entry of unchanged size is a miss,
// processAsync hands the inner transformer its own options, and the teardown's prune failure is
// the process's one warning.

import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTransformer } from '@cairn/jest'
import globalTeardown from '@cairn/jest/global-teardown'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const test = suite('@cairn/jest review regressions')
let dir: string

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-jest-review-'))
})

test.after(() => {
  rmSync(dir, { recursive: true, force: true })
})

const options = (rootDir: string) => ({ config: { rootDir } })

/** Every regular file under `root`. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((name) => join(root, name))
    .filter((path) => statSync(path).isFile())
}

test('a store entry damaged without changing its size is a miss: the inner transformer runs again', async () => {
  const calls = join(dir, 'corrupt-calls')
  const inner = join(dir, 'upper.cjs')
  writeFileSync(
    inner,
    `const { appendFileSync } = require('node:fs')
module.exports = { process(source, filename) { appendFileSync(${JSON.stringify(calls)}, filename + '\\n'); return { code: source.toUpperCase() } } }
`,
  )
  const store = join(dir, 'corrupt-store')
  const first = await createTransformer({ transformer: inner, store })
  assert.equal(first.process?.('let word = 1', '/p/a.js', options('/p')), { code: 'LET WORD = 1' })
  // Flip the stored output in place, wherever the store keeps it (record or content file).
  let flipped = 0
  for (const path of filesUnder(store)) {
    const bytes = readFileSync(path)
    const at = bytes.indexOf('LET WORD')
    if (at < 0) continue
    bytes[at + 1] = 'O'.charCodeAt(0)
    writeFileSync(path, bytes)
    flipped++
  }
  assert.is(flipped, 1, 'the stored output was found')
  // A new transformer, as in the next Jest run (no memo of the key in front of the store).
  const second = await createTransformer({ transformer: inner, store })
  assert.equal(second.process?.('let word = 1', '/p/a.js', options('/p')), { code: 'LET WORD = 1' })
  assert.equal(readFileSync(calls, 'utf8').split('\n').filter(Boolean), ['/p/a.js', '/p/a.js'])
  const third = await createTransformer({ transformer: inner, store })
  assert.equal(third.process?.('let word = 1', '/p/a.js', options('/p')), { code: 'LET WORD = 1' })
  assert.is(
    readFileSync(calls, 'utf8').split('\n').filter(Boolean).length,
    2,
    'the good entry is a hit again',
  )
})

test("processAsync passes the inner transformer its own transformerConfig, not @cairn/jest's options", async () => {
  const inner = join(dir, 'async-only.cjs')
  writeFileSync(
    inner,
    `module.exports = { async processAsync(source, filename, options) { return { code: source + ' // ' + JSON.stringify(options.transformerConfig) } } }
`,
  )
  const transformer = await createTransformer({
    transformer: inner,
    transformerConfig: { mark: 'inner' },
    store: join(dir, 'async-store'),
  })
  assert.is(transformer.process, undefined, 'an async-only inner gives an async-only transformer')
  const result = await transformer.processAsync?.('x()', '/p/b.js', options('/p'))
  assert.is(result?.code, 'x() // {"mark":"inner"}')
})

test("the teardown's prune failure and a transform's store failure are one warning in all", async () => {
  // A store of an unknown format: the transformer cannot open it, nor can prune.
  const notAStore = join(dir, 'unknown-format')
  mkdirSync(notAStore)
  writeFileSync(join(notAStore, 'cairn-store.json'), '{"cairn":"store","version":99}')
  const written: string[] = []
  const write = process.stderr.write
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk))
    return true
  }) as typeof process.stderr.write
  try {
    const inner = join(dir, 'plain.cjs')
    writeFileSync(inner, `module.exports = { process(source) { return { code: source } } }\n`)
    const transformer = await createTransformer({ transformer: inner, store: notAStore })
    assert.equal(transformer.process?.('y()', '/p/c.js', options('/p')), { code: 'y()' })
    const ours = realpathSync(createRequire(import.meta.url).resolve('@cairn/jest'))
    await globalTeardown(undefined, {
      rootDir: dir,
      transform: [['\\.js$', ours, { transformer: inner, store: notAStore, maxSize: '1MB' }]],
    })
  } finally {
    process.stderr.write = write
  }
  const warnings = written
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('@cairn/jest:'))
  assert.is(warnings.length, 1, warnings.join('\n'))
})

test.run()

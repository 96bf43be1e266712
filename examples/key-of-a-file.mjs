#!/usr/bin/env node
// The README's main job until the `cairn` CLI lands: derive a cache key for a build step the way a
// build tool would, from a real input file's digest and the step's options, and show that the key
// ignores property order but not a changed option.
//
// Usage: node examples/key-of-a-file.mjs [file]   (default: this repository's package.json)

import { fileURLToPath } from 'node:url'
import { createHasher } from '@cairn/hash'

const file = process.argv[2] ?? fileURLToPath(new URL('../package.json', import.meta.url))
const hasher = await createHasher()

const started = performance.now()
const digest = await hasher.file(file)
const step = { tool: 'example-minifier', version: '1.0.0', input: { path: 'package.json', digest }, level: 2 }
const key = hasher.key(step)
const micros = Math.round((performance.now() - started) * 1000)

console.log(`input file      ${file}`)
console.log(`content digest  ${digest}  (${hasher.algorithm})`)
console.log(`step key        ${key}  (${micros} µs)`)
console.log(
  `same, reordered ${hasher.key({ level: 2, input: step.input, version: '1.0.0', tool: 'example-minifier' })}`,
)
console.log(`level changed   ${hasher.key({ ...step, level: 3 })}`)

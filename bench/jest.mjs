// @cairn/jest (`pnpm bench --only=jest`): real Jest 30 with babel-jest on a generated project
// of 300 TypeScript modules (10 test files importing 30 modules each, so that transforming,
// not Jest's start-up per test file, is most of a cold run). Four kinds of run, interleaved
// round by round so that all see the same machine load, each a whole `jest` process:
//
// - cold: plain babel-jest, an empty Jest cache directory (what a fresh CI job or worktree pays);
// - Jest warm: plain babel-jest, Jest's own cache warm (a second run in the same checkout);
// - Cairn warm: @cairn/jest around babel-jest, an empty Jest cache, a warm Cairn store (a fresh
//   CI job, worktree or checkout of a commit whose files were transformed before);
// - Cairn cold: @cairn/jest, empty Jest cache and empty store (the price of a miss);
// - Cairn warm, only Jest's transform cache empty: its haste map and test timings kept, which
//   shows how much of "Cairn warm" is Jest rebuilding its own state in an empty cache directory;
// - Cairn and Jest warm: the everyday second run, where Cairn only adds its key computation.

import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { printTable } from './lib.mjs'

const MODULES = 300
const TESTS = 10
const WORKSPACE_MODULES = fileURLToPath(new URL('../node_modules', import.meta.url))

/** A TypeScript module with enough syntax (types, enums, classes, generics) to cost Babel work. */
function moduleSource(index) {
  const n = String(index).padStart(3, '0')
  const lines = [
    `export enum Kind${n} { Alpha = 'alpha', Beta = 'beta', Gamma = 'gamma' }`,
    `export interface Item${n}<T> { id: number; kind: Kind${n}; value: T; tags?: readonly string[] }`,
    `type Mapper${n}<T, U> = (item: Item${n}<T>, index: number) => U`,
  ]
  for (let f = 0; f < 12; f++) {
    lines.push(
      `export function transform${n}_${f}<T extends number>(items: Array<Item${n}<T>>, mapper?: Mapper${n}<T, number>): number {`,
      `  let total: number = ${f}`,
      `  for (const [index, item] of items.entries()) {`,
      `    const mapped: number = mapper?.(item, index) ?? (item.value as number)`,
      `    total += item.kind === Kind${n}.Alpha ? mapped * 2 : item.tags?.length ?? mapped`,
      `  }`,
      `  return total`,
      `}`,
    )
  }
  lines.push(
    `export class Store${n}<K extends string, V> {`,
    `  #entries = new Map<K, V>()`,
    `  constructor(private readonly label: string = 'store ${n}') {}`,
    `  set(key: K, value: V): this { this.#entries.set(key, value); return this }`,
    `  get(key: K): V | undefined { return this.#entries.get(key) }`,
    `  get size(): number { return this.#entries.size }`,
    `  describe(): string { return \`\${this.label}: \${[...this.#entries.keys()].join(', ')}\` }`,
    `}`,
    `export const sample${n} = (): number => transform${n}_0([{ id: 1, kind: Kind${n}.Alpha, value: ${index} }])`,
  )
  return `${lines.join('\n')}\n`
}

function testSource(test) {
  const lines = []
  const first = test * (MODULES / TESTS)
  for (let i = first; i < first + MODULES / TESTS; i++) {
    const n = String(i).padStart(3, '0')
    lines.push(`import { sample${n} } from '../src/m${n}'`)
  }
  lines.push(`test('samples of test ${test}', () => {`)
  for (let i = first; i < first + MODULES / TESTS; i++) {
    lines.push(`  expect(sample${String(i).padStart(3, '0')}()).toBe(${i * 2})`)
  }
  lines.push('})')
  return `${lines.join('\n')}\n`
}

export function makeProject(dir) {
  mkdirSync(join(dir, 'src'), { recursive: true })
  mkdirSync(join(dir, 'test'))
  for (let i = 0; i < MODULES; i++)
    writeFileSync(join(dir, 'src', `m${String(i).padStart(3, '0')}.ts`), moduleSource(i))
  for (let t = 0; t < TESTS; t++) writeFileSync(join(dir, 'test', `t${t}.test.ts`), testSource(t))
  writeFileSync(join(dir, 'package.json'), '{ "private": true }\n')
  writeFileSync(
    join(dir, 'babel.config.js'),
    "module.exports = { presets: [['@babel/preset-env', { targets: { node: 'current' } }], '@babel/preset-typescript'] }\n",
  )
  writeFileSync(
    join(dir, 'jest.config.js'),
    `const cairn = process.env.BENCH_CAIRN === '1'
module.exports = {
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js'],
  transform: { '\\\\.[jt]s$': cairn ? ['@cairn/jest', { transformer: 'babel-jest' }] : 'babel-jest' },
}
`,
  )
  symlinkSync(WORKSPACE_MODULES, join(dir, 'node_modules'))
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

export async function benchJest({ quick = false } = {}) {
  const rounds = quick ? 1 : 3
  const base = mkdtempSync(join(tmpdir(), 'cairn-bench-jest-'))
  let fresh = 0
  const freshDir = (name) => {
    const dir = join(base, `${name}-${++fresh}`)
    mkdirSync(dir)
    return dir
  }
  try {
    const project = join(base, 'project')
    makeProject(project)
    /** Wall time of one `jest` run in ms; throws unless every test passed. */
    const jest = (cacheDirectory, env) => {
      const started = performance.now()
      const result = spawnSync(
        process.execPath,
        [
          join(project, 'node_modules/jest/bin/jest.js'),
          '--ci',
          '-w',
          '2',
          '--cacheDirectory',
          cacheDirectory,
        ],
        {
          cwd: project,
          env: { ...process.env, ...env },
          encoding: 'utf8',
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      )
      const ms = performance.now() - started
      if (result.status !== 0 || !result.stderr.includes(`Tests:       ${TESTS} passed`)) {
        throw new Error(`jest failed:\n${result.stderr}`)
      }
      return ms
    }
    const plain = { BENCH_CAIRN: '0' }
    const warmStore = freshDir('store')
    const warmJestCache = freshDir('jest-warm')
    // Warm-up runs: fill Jest's cache for "Jest warm" and the store for "Cairn warm".
    jest(warmJestCache, plain)
    const cairn = { BENCH_CAIRN: '1', CAIRN_DIR: warmStore }
    const cairnJestCache = freshDir('jest-cairn')
    jest(cairnJestCache, cairn)
    const samples = { cold: [], jestWarm: [], cairnWarm: [], cairnCold: [], cairnHasteWarm: [], bothWarm: [] }
    for (let round = 0; round < rounds; round++) {
      samples.cold.push(jest(freshDir('jest'), plain))
      samples.jestWarm.push(jest(warmJestCache, plain))
      samples.cairnWarm.push(jest(freshDir('jest'), cairn))
      samples.cairnCold.push(jest(freshDir('jest'), { BENCH_CAIRN: '1', CAIRN_DIR: freshDir('store') }))
      samples.bothWarm.push(jest(cairnJestCache, cairn))
      for (const name of readdirSync(cairnJestCache)) {
        if (name.startsWith('jest-transform-cache-')) rmSync(join(cairnJestCache, name), { recursive: true })
      }
      samples.cairnHasteWarm.push(jest(cairnJestCache, cairn))
    }
    const m = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]))
    const s = (value) => `${(value / 1000).toFixed(2)} s`
    console.log(
      `Jest 30 + babel-jest, ${MODULES} TypeScript modules in ${TESTS} test files, -w 2, median of ${rounds}`,
    )
    printTable(
      ['run', 'median', 'vs cold', 'vs Jest warm'],
      [
        ['cold (no Cairn, empty Jest cache)', s(m.cold), '1.00×', `${(m.cold / m.jestWarm).toFixed(2)}×`],
        ["Jest's own cache warm (no Cairn)", s(m.jestWarm), `${(m.jestWarm / m.cold).toFixed(2)}×`, '1.00×'],
        [
          'Cairn store warm, empty Jest cache',
          s(m.cairnWarm),
          `${(m.cairnWarm / m.cold).toFixed(2)}×`,
          `${(m.cairnWarm / m.jestWarm).toFixed(2)}×`,
        ],
        [
          'Cairn store empty, empty Jest cache',
          s(m.cairnCold),
          `${(m.cairnCold / m.cold).toFixed(2)}×`,
          `${(m.cairnCold / m.jestWarm).toFixed(2)}×`,
        ],
        [
          'Cairn warm, only transform cache empty',
          s(m.cairnHasteWarm),
          `${(m.cairnHasteWarm / m.cold).toFixed(2)}×`,
          `${(m.cairnHasteWarm / m.jestWarm).toFixed(2)}×`,
        ],
        [
          'Cairn warm and Jest cache warm',
          s(m.bothWarm),
          `${(m.bothWarm / m.cold).toFixed(2)}×`,
          `${(m.bothWarm / m.jestWarm).toFixed(2)}×`,
        ],
      ],
    )
    console.log(
      `cold / Cairn warm: ${(m.cold / m.cairnWarm).toFixed(2)}× faster (goal ≥ 2×); Cairn warm / Jest warm: ${(m.cairnWarm / m.jestWarm).toFixed(2)}× (goal ≤ 1.2×)`,
    )
    return {
      modules: MODULES,
      tests: TESTS,
      rounds,
      medianMs: m,
      coldOverCairnWarm: m.cold / m.cairnWarm,
      cairnWarmOverJestWarm: m.cairnWarm / m.jestWarm,
      cairnColdOverCold: m.cairnCold / m.cold,
    }
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  await benchJest({ quick: process.argv.includes('--quick') })

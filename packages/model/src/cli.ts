#!/usr/bin/env node
/**
 * `pnpm verify:model`: explores every configuration and prints, per configuration, the states
 * explored and any counterexample with its step-by-step trace; then shows the original bug (rename
 * publishing under Windows) as a counterexample trace.
 *
 * Usage: verify-model [--deep] [--only TEXT] [--random RUNS] [--seed N] [--max-states N]
 * `--only` checks just the configurations whose name contains TEXT (to replay one).
 * Exit 0 when the link protocol holds everywhere and the rename variant fails as expected.
 */

import { parseArgs } from 'node:util'
import { buildConfigurations } from './configurations.js'
import { type ExploreResult, explore, sample, traceOf } from './explore.js'
import { buildRunConfigurations } from './run-configurations.js'

const usage = 'usage: verify-model [--deep] [--only TEXT] [--random RUNS] [--seed N] [--max-states N]'

async function main(argv: string[]): Promise<number> {
  let values: {
    deep?: boolean
    only?: string
    random?: string
    seed?: string
    'max-states'?: string
    help?: boolean
  }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        deep: { type: 'boolean' },
        only: { type: 'string' },
        random: { type: 'string' },
        seed: { type: 'string' },
        'max-states': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    console.error(`verify-model: ${(error as Error).message}\n${usage}`)
    return 2
  }
  if (values.help) {
    console.log(usage)
    return 0
  }
  const numberOption = (name: string, text: string | undefined, fallback: number) => {
    const value = text === undefined ? fallback : Number(text)
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`--${name} takes a whole number, got ${JSON.stringify(text)}`)
    return value
  }
  const runs = numberOption('random', values.random, values.deep ? 2000 : 0)
  const seed = numberOption('seed', values.seed, 1)
  const maxStates = numberOption('max-states', values['max-states'], values.deep ? 2_000_000 : 500_000)

  const { hasher, configurations, counterexample } = await buildConfigurations({ deep: values.deep ?? false })
  const results: ExploreResult[] = []
  let failed = false
  // The cairn run case (issue 18): runs evicted whole, manifest first.
  const runCases = buildRunConfigurations(hasher)
  const chosen = [...configurations, ...runCases.configurations].filter(
    (c) => values.only === undefined || c.name.includes(values.only),
  )
  for (const configuration of chosen) {
    const env = { hasher, platform: configuration.platform }
    const started = performance.now()
    const result = explore(configuration, env, { maxStates, maxDepth: 400, maxViolations: 1 })
    results.push(result)
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    console.log(
      `${result.violations.length ? 'FAIL' : 'ok  '} ${configuration.name}: ${result.states} states, ${result.complete ? 'complete' : 'bounded'}, ${seconds} s`,
    )
    if (runs > 0) {
      const random = sample(configuration, env, runs, seed)
      console.log(
        `     random: ${runs} runs (seed ${seed}), ${random.states} states, ${random.violations.length} counterexamples`,
      )
      result.violations.push(...random.violations)
    }
    for (const violation of result.violations.slice(0, 1)) {
      failed = true
      console.log(`\n${violation.message}\n${traceOf(configuration, env, violation.schedule)}\n`)
    }
  }
  const total = results.reduce((sum, result) => sum + result.states, 0)
  console.log(`\n${total} distinct states explored in ${results.length} configurations`)

  const env = { hasher, platform: counterexample.platform }
  const bug = explore(counterexample, env, { maxStates, maxDepth: 400, maxViolations: 1 })
  const found = bug.violations[0]
  if (!found) {
    console.log(
      '\nFAIL: the rename variant produced no counterexample; the model lost the Windows rename semantics',
    )
    return 1
  }
  console.log(
    `\nThe original bug, found by the same checker: ${found.message}\n${traceOf(counterexample, env, found.schedule)}`,
  )
  const runEnv = { hasher, platform: runCases.counterexample.platform }
  const runBug = explore(runCases.counterexample, runEnv, { maxStates, maxDepth: 400, maxViolations: 1 })
    .violations[0]
  if (!runBug) {
    console.log('\nFAIL: a GC removing a run blobs first produced no counterexample; the model lost the case')
    return 1
  }
  console.log(
    `\nWhy prune removes a run's manifest first: ${runBug.message}\n${traceOf(runCases.counterexample, runEnv, runBug.schedule)}`,
  )
  return failed ? 1 : 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error) => {
    console.error(`verify-model: ${(error as Error).message}`)
    process.exitCode = 2
  },
)

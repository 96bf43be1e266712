// Issue 18, item 6, in the model checker: a GC evicting a `cairn run` (manifest first, blobs
// only if the manifest went) never leaves a manifest whose blobs are gone, under every
// interleaving with a hit that reads the manifest and then its blobs; removing the blobs first
// (what a per-entry LRU does) is shown to break it, with a trace.

import { createHasher } from '@cairn/hash'
import { buildRunConfigurations, explore, traceOf } from '@cairn/model'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const runs = suite('cairn run groups under every interleaving')

runs('a GC evicting a run manifest-first never leaves a manifest without its blobs', async () => {
  const hasher = await createHasher()
  const { configurations } = buildRunConfigurations(hasher)
  for (const configuration of configurations) {
    const env = { hasher, platform: configuration.platform }
    const result = explore(configuration, env, { maxStates: 200_000, maxDepth: 400, maxViolations: 1 })
    const violation = result.violations[0]
    if (violation)
      assert.unreachable(`${violation.message}\n${traceOf(configuration, env, violation.schedule)}`)
    assert.ok(result.complete, `${configuration.name} explored completely`)
    assert.ok(result.states > 10, `${configuration.name}: ${result.states} states`)
  }
})

runs(
  'a GC removing the blobs first leaves a run a hit kept but cannot restore, shown as a trace',
  async () => {
    const hasher = await createHasher()
    const { counterexample } = buildRunConfigurations(hasher)
    const env = { hasher, platform: counterexample.platform }
    const result = explore(counterexample, env, { maxStates: 200_000, maxDepth: 400, maxViolations: 1 })
    const violation = result.violations[0]
    assert.ok(violation, 'a counterexample was found')
    assert.match(violation.message, /survived but its blob/)
    assert.match(traceOf(counterexample, env, violation.schedule), 'hit')
  },
)

runs.run()

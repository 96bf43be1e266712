import { buildConfigurations, explore, type FsError, MemoryFs, sample, traceOf } from '@cairn/model'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const filesystem = suite('the filesystem model')

filesystem('POSIX: a reader keeps an unlinked file; rename replaces at once', () => {
  const fs = new MemoryFs('posix')
  fs.perform({ op: 'mkdir', path: '/d' }, 'a')
  const fd = fs.perform({ op: 'open', path: '/d/f', how: 'create', mode: 0o444 }, 'a')
  assert.ok(fd.done)
  fs.perform({ op: 'write', fd: fd.value as number, data: Buffer.from('one') }, 'a')
  const reader = fs.perform({ op: 'open', path: '/d/f', how: 'read', mode: 0 }, 'b')
  fs.perform({ op: 'unlink', path: '/d/f' }, 'a')
  const read = fs.perform({ op: 'read', fd: (reader as { value: number }).value, length: 10 }, 'b')
  assert.is((read as { value: Buffer }).value.toString(), 'one')
  assert.throws(
    () => fs.perform({ op: 'open', path: '/d/f', how: 'read', mode: 0 }, 'b'),
    (e: FsError) => e.code === 'ENOENT',
  )
})

filesystem('Windows: rename holds the destination; a delete-pending name refuses opens and links', () => {
  const fs = new MemoryFs('windows')
  fs.perform({ op: 'mkdir', path: '/d' }, 'a')
  for (const name of ['f', 'g']) {
    const fd = fs.perform({ op: 'open', path: `/d/${name}`, how: 'create', mode: 0o444 }, 'a') as {
      value: number
    }
    fs.perform({ op: 'close', fd: fd.value }, 'a')
  }
  const first = fs.perform({ op: 'rename', from: '/d/g', to: '/d/f' }, 'a')
  assert.is(first.done, false, 'the first transition only takes the hold')
  assert.throws(
    () => fs.perform({ op: 'open', path: '/d/f', how: 'read', mode: 0 }, 'b'),
    (e: FsError) => e.code === 'EPERM',
  )
  assert.ok(fs.perform({ op: 'rename', from: '/d/g', to: '/d/f' }, 'a').done)
  const reader = fs.perform({ op: 'open', path: '/d/f', how: 'read', mode: 0 }, 'b') as { value: number }
  fs.perform({ op: 'unlink', path: '/d/f' }, 'a')
  assert.throws(
    () => fs.perform({ op: 'open', path: '/d/f', how: 'read', mode: 0 }, 'c'),
    (e: FsError) => e.code === 'EPERM',
  )
  assert.throws(
    () => fs.perform({ op: 'link', from: '/d/f', to: '/d/h' }, 'c'),
    (e: FsError) => e.code === 'EPERM',
  )
  fs.perform({ op: 'close', fd: reader.value }, 'b')
  assert.throws(
    () => fs.perform({ op: 'open', path: '/d/f', how: 'read', mode: 0 }, 'c'),
    (e: FsError) => e.code === 'ENOENT',
  )
})

filesystem.run()

// ---

const checker = suite('the protocol under every interleaving')

checker('the link protocol holds in every configuration, over 100,000 distinct states', async () => {
  const { hasher, configurations } = await buildConfigurations()
  let states = 0
  const semantics = new Set<string>()
  for (const configuration of configurations) {
    const result = explore(
      configuration,
      { hasher, platform: configuration.platform },
      { maxStates: 500_000, maxDepth: 400, maxViolations: 1 },
    )
    const violation = result.violations[0]
    if (violation) {
      assert.unreachable(
        `${violation.message}\n${traceOf(configuration, { hasher, platform: configuration.platform }, violation.schedule)}`,
      )
    }
    assert.ok(result.complete, `${configuration.name} explored completely`)
    states += result.states
    semantics.add(configuration.semantics)
  }
  console.log(`    ${states} distinct states in ${configurations.length} configurations`)
  assert.ok(states >= 100_000, `only ${states} states`)
  assert.equal([...semantics].sort(), ['posix', 'windows'])
})

checker(
  'publishing with rename under Windows gives a reader a permission error, shown as a trace',
  async () => {
    const { hasher, counterexample } = await buildConfigurations()
    const env = { hasher, platform: counterexample.platform }
    const result = explore(counterexample, env, { maxStates: 10_000, maxDepth: 100, maxViolations: 1 })
    const violation = result.violations[0]
    assert.ok(violation, 'a counterexample was found')
    assert.match(violation.message, 'EPERM')
    const trace = traceOf(counterexample, env, violation.schedule)
    assert.match(trace, 'holds entries/ab/')
    assert.match(trace, /reader +open entries\/ab\/ab1111… \(read\) +→ EPERM/)
    // Reproducible: replaying the schedule gives the same trace.
    assert.is(traceOf(counterexample, env, violation.schedule), trace)
  },
)

checker('random long schedules are reproducible from their seed', async () => {
  const { hasher, configurations } = await buildConfigurations()
  const configuration = configurations[0]
  assert.ok(configuration)
  const env = { hasher, platform: configuration.platform }
  const first = sample(configuration, env, 50, 7)
  const second = sample(configuration, env, 50, 7)
  assert.is(first.violations.length, 0)
  assert.is(first.states, second.states)
  assert.is(first.transitions, second.transitions)
})

checker.run()

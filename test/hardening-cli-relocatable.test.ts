// `cairn run` writes the project root as `<root>` in its key, and that rewriting must be
// injective: `echo '<root>/x'` and `echo $PWD/x` are different commands, so neither may restore
// the other's outputs (issue #13, item 8). A property over generated arguments, and the
// bundled CLI on a real project.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { relocatable } from '@cairn/cli'
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cairn, expectOutcome, makeProject } from './fixtures/cli-harness.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const ROOT = '/ci/build-4711/app'

/**
 * Arguments made of the pieces that could confuse the rewriting: the root, the placeholder and
 * its parts, separators, and the characters the path boundaries look at.
 */
const argument = fc
  .array(
    fc.constantFrom(ROOT, '<root>', '<', '>', 'root', '/', '\\', 'x', '=', ':', ' ', '-I', '<<', '/ci'),
    { maxLength: 6 },
  )
  .map((pieces) => pieces.join(''))

const injective = suite('the <root> rewriting of run keys')
injective.after(removeTempDirs)

injective('two different arguments never rewrite to the same string', () => {
  fc.assert(
    fc.property(fc.uniqueArray(argument, { minLength: 2, maxLength: 300 }), (args) => {
      const seen = new Map<string, string>()
      for (const arg of args) {
        const rewritten = relocatable(arg, ROOT)
        const earlier = seen.get(rewritten)
        if (earlier !== undefined) {
          throw new Error(
            `${JSON.stringify(earlier)} and ${JSON.stringify(arg)} both rewrite to ${rewritten}`,
          )
        }
        seen.set(rewritten, arg)
      }
    }),
    { numRuns: 200 },
  )
})

injective('the same holds for a filesystem root and a Windows root', () => {
  for (const root of ['/', 'C:\\w\\a.b']) {
    fc.assert(
      fc.property(argument, argument, (a, b) => {
        const [x, y] = [a.replaceAll(ROOT, root), b.replaceAll(ROOT, root)]
        return x === y || relocatable(x, root) !== relocatable(y, root)
      }),
      { numRuns: 2000 },
    )
  }
})

injective('the root is rewritten only where it starts a path', () => {
  assert.is(relocatable(`/x${ROOT}/y`, ROOT), `/x${ROOT}/y`, 'inside another path')
  assert.is(relocatable(`a.b${ROOT}`, ROOT), `a.b${ROOT}`)
  assert.is(relocatable(`${ROOT}\\x`, ROOT), `${ROOT}\\x`, 'a backslash is a name character on POSIX')
  assert.is(relocatable(`-I${ROOT}/include`, ROOT), '-I<root>/include')
  assert.is(relocatable(`cd ${ROOT} && make`, ROOT), `cd ${ROOT} && make`, 'a space does not end the root')
  assert.is(relocatable(`cd ${ROOT}/src && make`, ROOT), 'cd <root>/src && make')
  assert.is(relocatable('<root>/x', ROOT), '<<root>/x')
})

injective("cairn run: an argument '<root>/x' and the root's own /x are different runs", async () => {
  const base = tempDir('cairn-cli-relocatable-')
  const project = makeProject(join(base, 'checkout'))
  const store = join(base, 'store')
  const step = (arg: string) =>
    cairn(
      [
        'run',
        '--store',
        store,
        '--allow-empty',
        '--outputs',
        'out.txt',
        '--',
        process.execPath,
        '-e',
        "require('fs').writeFileSync('out.txt', process.argv[1]); console.log(process.argv[1])",
        arg,
      ],
      { cwd: project },
    )
  const literal = await step('<root>/x')
  expectOutcome(literal, 'miss')
  assert.is(literal.stdout, '<root>/x\n')
  const real = await step(join(project, 'x'))
  expectOutcome(real, 'miss')
  assert.is(real.stdout, `${join(project, 'x')}\n`)
  assert.is(readFileSync(join(project, 'out.txt'), 'utf8'), join(project, 'x'))
  // Each is its own hit afterwards.
  const again = await step('<root>/x')
  expectOutcome(again, 'hit')
  assert.is(readFileSync(join(project, 'out.txt'), 'utf8'), '<root>/x')
})

injective.run()

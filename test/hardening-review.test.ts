// Issue 13, review of the hardening: defects an adversarial review found in the fixes.
// D: `cairn verify --fix` run as root deleted in a store another user owns, where `cairn rm`,
// put and gc refuse (the root rule, ERR_CAIRN_FOREIGN_OWNER).

import { appendFileSync, chmodSync, chownSync, existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cli } from './fixtures/cli-in-process.js'
import { removeTempDirs, tempDir } from './helpers/processes.js'

const KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
const NOBODY = 65534

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid)
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid)
}

/** The one content file of `store`. */
function contentFile(store: string): string {
  for (const shard of readdirSync(join(store, 'content')))
    for (const name of readdirSync(join(store, 'content', shard))) return join(store, 'content', shard, name)
  throw new Error('no content file')
}

const verifyFix = suite('review D: a root cairn verify --fix in a store another user owns')
verifyFix.after.each(removeTempDirs)

if (process.getuid?.() === 0) {
  verifyFix(
    'refuses with ERR_CAIRN_FOREIGN_OWNER and removes nothing; CAIRN_ALLOW_FOREIGN_OWNER=1 opts in',
    async () => {
      const cwd = tempDir('cairn-foreign-')
      const store = join(cwd, 'store')
      assert.is((await cli(['put', '--store', store, KEY, '-'], { cwd, stdin: 'x'.repeat(20_000) })).code, 0)
      const damaged = contentFile(store)
      chmodSync(damaged, 0o644)
      appendFileSync(damaged, 'junk')
      chownTree(store, NOBODY)
      const refused = await cli(['verify', '--store', store, '--fix'], { cwd })
      assert.is(refused.code, 1, refused.stderr)
      assert.match(refused.stderr, 'Refusing to remove damaged files from the store')
      assert.match(refused.stderr, 'CAIRN_ALLOW_FOREIGN_OWNER=1')
      assert.ok(existsSync(damaged), 'nothing was removed')
      const allowed = await cli(['verify', '--store', store, '--fix'], {
        cwd,
        env: { CAIRN_ALLOW_FOREIGN_OWNER: '1' },
      })
      assert.is(allowed.code, 0, allowed.stdout + allowed.stderr)
      assert.not.ok(existsSync(damaged), 'opted in: the damaged file is removed')
      // Without --fix, a report only: allowed as any read is.
      assert.is((await cli(['verify', '--store', store], { cwd })).code, 0)
    },
  )
} else {
  verifyFix.skip('(needs root to chown a store to nobody)', () => {})
}

verifyFix.run()

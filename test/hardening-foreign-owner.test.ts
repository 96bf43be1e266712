// Issue 13, item 1: a root `cairn` refuses to write into a store another user owns unless
// CAIRN_ALLOW_FOREIGN_OWNER=1; reading stays allowed.

import { chownSync, readdirSync, statSync } from 'node:fs'
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

const root = suite('a root cairn in a store another user owns')
root.after.each(removeTempDirs)

if (process.getuid?.() === 0) {
  root(
    'put refuses with ERR_CAIRN_FOREIGN_OWNER; get reads; CAIRN_ALLOW_FOREIGN_OWNER=1 opts in',
    async () => {
      const cwd = tempDir('cairn-foreign-')
      const store = join(cwd, 'store')
      assert.is((await cli(['put', '--store', store, KEY, '-'], { cwd, stdin: 'first' })).code, 0)
      chownTree(store, NOBODY)
      const refused = await cli(['put', '--store', store, 'ffffeeeeddddccccbbbbaaaa99998888', '-'], {
        cwd,
        stdin: 'second',
      })
      assert.is.not(refused.code, 0)
      assert.match(refused.stderr, 'CAIRN_ALLOW_FOREIGN_OWNER=1')
      const got = await cli(['get', '--store', store, KEY], { cwd })
      assert.is(got.code, 0, got.stderr)
      assert.is(got.stdout, 'first')
      const env = { CAIRN_ALLOW_FOREIGN_OWNER: '1' }
      const allowed = await cli(['put', '--store', store, 'ffffeeeeddddccccbbbbaaaa99998888', '-'], {
        cwd,
        env,
        stdin: 'second',
      })
      assert.is(allowed.code, 0, allowed.stderr)
      const gc = await cli(['gc', '--store', store, '--max-entries', '0', '--json'], { cwd })
      assert.is(gc.code, 1)
      assert.match(gc.stderr, 'ERR_CAIRN_FOREIGN_OWNER')
      assert.is((await cli(['gc', '--store', store, '--max-entries', '0', '--json'], { cwd, env })).code, 0)
    },
  )
} else {
  root.skip('(needs root to chown a store to nobody)', () => {})
}

root.run()

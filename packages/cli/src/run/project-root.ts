import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

/** Names whose presence makes a directory a project root. */
const ROOT_MARKERS = ['.git', 'package.json']

/**
 * The project root of `dir`: the nearest directory, `dir` itself or an ancestor, holding a `.git`
 * (a directory, or a file in worktrees and submodules) or a `package.json`. `cairn run` keys on
 * paths relative to it, so two checkouts of one repository in different places share hits. With
 * no such directory up to the filesystem root, `dir` itself.
 */
export function findProjectRoot(dir: string): string {
  const start = resolve(dir)
  for (let current = start; ; ) {
    if (ROOT_MARKERS.some((name) => existsSync(join(current, name)))) return current
    const parent = dirname(current)
    if (parent === current) return start
    current = parent
  }
}

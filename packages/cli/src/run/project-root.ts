import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

/**
 * The project root of `dir`, which every path in a `cairn run` key is relative to, so that two
 * checkouts of one repository in different places share hits. Searched in this order, each over
 * `dir` and all its ancestors before the next:
 *
 * 1. the nearest directory holding a `.git` (a directory, or a file in worktrees and
 *    submodules): the repository root;
 * 2. else the nearest workspace root: a `pnpm-workspace.yaml`, or a `package.json` with
 *    `workspaces` (npm, yarn, bun);
 * 3. else the nearest `package.json`;
 * 4. else `dir` itself.
 *
 * The repository root comes first because a package of a monorepo (`packages/core`, with its own
 * package.json) routinely names files above itself (`../../tsconfig.json`); relative to the
 * package they would leave the root, and a key must never hold where the checkout is.
 */
export function findProjectRoot(dir: string): string {
  const start = resolve(dir)
  return (
    nearest(start, (current) => existsSync(join(current, '.git'))) ??
    nearest(start, isWorkspaceRoot) ??
    nearest(start, (current) => existsSync(join(current, 'package.json'))) ??
    start
  )
}

/** The nearest of `start` and its ancestors for which `test` holds. */
function nearest(start: string, test: (dir: string) => boolean): string | undefined {
  for (let current = start; ; ) {
    if (test(current)) return current
    const parent = dirname(current)
    if (parent === current) return undefined
    current = parent
  }
}

/** A directory with a pnpm-workspace.yaml, or a package.json that declares `workspaces`. */
function isWorkspaceRoot(dir: string): boolean {
  if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return true
  let text: string
  try {
    text = readFileSync(join(dir, 'package.json'), 'utf8')
  } catch {
    return false
  }
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && 'workspaces' in value
  } catch {
    return false
  }
}

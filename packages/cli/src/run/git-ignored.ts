import { spawnSync } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { containsPath } from './contains-path.js'

/** Bytes of paths git may answer with: bounded, as all bytes from outside are. */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024

/** How long git may take to answer before its answer is given up (as if not a checkout). */
const TIMEOUT_MS = 60_000

/**
 * Which of `files` (absolute paths under `root`) git ignores: matched by a `.gitignore`,
 * `.git/info/exclude` or the user's `core.excludesFile`, and not tracked (git never reports a
 * tracked file as ignored, so a file committed despite a pattern stays an input, as turbo and nx
 * count it). Empty when `root` is not in a git checkout, git is not installed, or git fails or
 * takes too long: then nothing is left out, which can cost a hit but never give a wrong one.
 *
 * git is asked only about paths it can answer for, by their real paths: one path it refuses
 * (reached through a symbolic link: "beyond a symbolic link"; inside a submodule) fails the
 * whole question, and every ignored file would silently count. So files whose real path is
 * outside this repository's work tree, or in a submodule (a directory below the top holding its
 * own `.git`), are kept as inputs without asking. When a `.git` is there but git still fails (a
 * checkout owned by another user: "dubious ownership"), `warn` gets one line naming git's
 * error: keys would otherwise differ silently between a laptop and CI.
 */
export function gitIgnored(
  root: string,
  files: readonly string[],
  warn: (message: string) => void = () => {},
): Set<string> {
  if (files.length === 0) return new Set()
  const top = askGit(root, ['rev-parse', '--show-toplevel'])
  if (typeof top !== 'string') {
    if (top !== undefined && hasGitAbove(root)) warn(cannotAsk(top.error))
    return new Set()
  }
  const realTop = realOrUndefined(top.replace(/\n$/, ''))
  if (realTop === undefined) return new Set()
  const byReal = new Map<string, string[]>()
  const submodule = new Map<string, boolean>()
  for (const file of files) {
    const real = realOrUndefined(file)
    if (real === undefined || !containsPath(realTop, real) || inSubmodule(real, realTop, submodule)) continue
    const same = byReal.get(real)
    if (same === undefined) byReal.set(real, [file])
    else same.push(file)
  }
  if (byReal.size === 0) return new Set()
  const answer = askGit(realTop, ['check-ignore', '--stdin', '-z'], `${[...byReal.keys()].join('\0')}\0`)
  if (typeof answer !== 'string') {
    if (answer !== undefined) warn(cannotAsk(answer.error))
    return new Set()
  }
  const ignored = new Set<string>()
  for (const path of answer.split('\0')) {
    for (const file of byReal.get(resolve(realTop, path)) ?? []) ignored.add(file)
  }
  return ignored
}

/**
 * git's stdout, or `{ error }` with the first line of its stderr when it ran and failed, or
 * undefined when it could not run (not installed) or took too long. check-ignore's exit code 1
 * (nothing ignored) is an answer.
 */
function askGit(cwd: string, args: string[], input?: string): string | { error: string } | undefined {
  const answer = spawnSync('git', args, {
    cwd,
    input: input ?? '',
    maxBuffer: MAX_ANSWER_BYTES,
    timeout: TIMEOUT_MS,
    stdio: ['pipe', 'pipe', 'pipe'],
    // Paths go in and out as given, never quoted: core.quotePath does not apply with -z.
    env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' },
  })
  if (answer.error !== undefined || answer.status === null) return undefined
  if (answer.status === 0 || (answer.status === 1 && args[0] === 'check-ignore')) {
    return answer.stdout.toString('utf8')
  }
  const stderr = answer.stderr.toString('utf8').trim().split('\n')[0] ?? ''
  return { error: stderr === '' ? `git ${args[0]} exited with ${answer.status}` : stderr.slice(0, 300) }
}

function cannotAsk(error: string): string {
  return `cannot ask git which inputs it ignores (${error}); files .gitignore ignores are hashed too, so keys may differ from a checkout where git answers`
}

/** True if `dir` or an ancestor holds a `.git`. */
function hasGitAbove(dir: string): boolean {
  for (let current = resolve(dir); ; current = dirname(current)) {
    if (existsSync(join(current, '.git'))) return true
    if (dirname(current) === current) return false
  }
}

/** True if a directory between `real` and `top` (exclusive) holds a `.git`: a submodule. */
function inSubmodule(real: string, top: string, cache: Map<string, boolean>): boolean {
  const dir = dirname(real)
  if (dir === top || !containsPath(top, dir)) return false
  let found = cache.get(dir)
  if (found === undefined) {
    found = existsSync(join(dir, '.git')) || inSubmodule(dir, top, cache)
    cache.set(dir, found)
  }
  return found
}

function realOrUndefined(path: string): string | undefined {
  try {
    return realpathSync.native(path)
  } catch {
    return undefined
  }
}

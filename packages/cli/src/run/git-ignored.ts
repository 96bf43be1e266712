import { spawnSync } from 'node:child_process'

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
 */
export function gitIgnored(root: string, files: readonly string[]): Set<string> {
  if (files.length === 0) return new Set()
  const answer = spawnSync('git', ['check-ignore', '--stdin', '-z'], {
    cwd: root,
    input: `${files.join('\0')}\0`,
    maxBuffer: MAX_ANSWER_BYTES,
    timeout: TIMEOUT_MS,
    stdio: ['pipe', 'pipe', 'ignore'],
    // Paths go in and out as given, never quoted: core.quotePath does not apply with -z.
    env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' },
  })
  // 0: some are ignored; 1: none is; anything else (128: not a repository) is no answer.
  if (answer.error !== undefined || answer.status !== 0) return new Set()
  return new Set(
    answer.stdout
      .toString('utf8')
      .split('\0')
      .filter((path) => path !== ''),
  )
}

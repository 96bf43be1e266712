import { type BigIntStats, lstatSync, realpathSync } from 'node:fs'
import { dirname, relative, resolve, sep } from 'node:path'
import { escapePath, glob, isDynamicPattern } from 'tinyglobby'
import { UsageError } from '../args.js'
import { toPosixPath } from '../format.js'
import { containsPath } from './contains-path.js'
import { gitIgnored } from './git-ignored.js'

/** One input file of a `cairn run` step. */
export interface InputFile {
  /** Relative to the project root, with `/` separators: the same in every checkout. */
  path: string
  /** Absolute path, for reading it. */
  absolute: string
  /**
   * Its stat, when the expansion took one that stands for the file's own (the file is not a
   * symbolic link), so that hashing need not stat it again.
   */
  stat?: BigIntStats
}

/** How {@link expandInputs} matches. */
export interface ExpandOptions {
  /** Patterns are relative to this directory. */
  cwd: string
  /** Paths in the result are relative to this directory; no input may lie outside it. */
  root: string
  /** Whether a pattern may match nothing (`--allow-empty`); otherwise that is a UsageError. */
  allowEmpty: boolean
  /** Absolute paths (the declared outputs, the store) whose files are never inputs. */
  exclude: readonly string[]
  /** Whether files git ignores are left out (the default; `--no-gitignore` turns it off). */
  gitignore: boolean
  /** Told, in one line, when git is there but cannot say which files it ignores. */
  warn?: (message: string) => void
}

/** Never entered by a `*`, a `**` or a directory pattern unless a pattern names it. */
const NODE_MODULES = 'node_modules'

/**
 * The files matched by `--inputs` patterns, sorted by their root-relative path, each once.
 * Patterns are tinyglobby globs relative to the working directory (rewritten relative to the
 * project root and matched from there, so `../../**` and `../*\/src` work), with shell conventions:
 * `*` and `**` do not match names starting with a dot (name them explicitly), and a directory
 * stands for every file under it. Only files are inputs; symbolic links are followed. What is
 * left out:
 *
 * - files matched by a `!pattern` (every negation applies to every pattern);
 * - in a git checkout, files git ignores (see {@link gitIgnored}), unless `gitignore` is false:
 *   build outputs, logs and caches are not what a step depends on, and hashing them costs time
 *   and hits (turbo and nx hash only what git tracks or would track);
 * - anything in a `node_modules` directory, reached by name or through a symbolic link, unless
 *   the pattern names `node_modules` itself: a monorepo's `--inputs packages` would otherwise
 *   hash thousands of installed files (the lockfile is the input that stands for them);
 * - files under a declared output or the store: `--inputs '**\/*.ts' --outputs dist` would
 *   otherwise count the `.d.ts` files the step writes as its inputs, and every run would change
 *   the next one's key, so the step would never hit.
 *
 * A pattern that matches nothing (after these) is a UsageError (exit 2) unless `allowEmpty`: it
 * is almost always a typo, and a typo in an input list makes a key that ignores the inputs it
 * meant, so the cache would return stale outputs after they change. So is a file outside the
 * project root: relative to the root its path would depend on where the checkout is.
 */
export async function expandInputs(
  patterns: readonly string[],
  options: ExpandOptions,
): Promise<InputFile[]> {
  if (patterns.length > 0 && patterns.every((pattern) => pattern.startsWith('!'))) {
    throw new UsageError(
      `--inputs has only negated patterns (${patterns.map((pattern) => JSON.stringify(pattern)).join(', ')}): a !pattern leaves files out of the others; name the files to hash too (e.g. --inputs src '!src/a.ts').`,
    )
  }
  const negated = patterns
    .filter((pattern) => pattern.startsWith('!'))
    .flatMap((pattern) => {
      const rooted = fromRoot(pattern.slice(1), options)
      // A negation outside the root cannot leave out any input: every input is inside it.
      return rooted === undefined ? [] : [rooted]
    })
  const realRoot = realOrSelf(options.root)
  const realDirs = new Map<string, string>()
  // What decides whether a file is an input mostly depends on its directory alone: judged once
  // per directory rather than once per file (a third of finding 10,000 inputs).
  const dirVerdicts = new Map<string, DirectoryVerdict>()
  const lstats = new Map<string, BigIntStats | undefined>()
  const lstatOf = (absolute: string) => {
    if (!lstats.has(absolute)) lstats.set(absolute, lstatOrUndefined(absolute))
    return lstats.get(absolute)
  }
  const byPath = new Map<string, InputFile>()
  const matchedBy = new Map<string, string[]>()
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) continue
    const namesNodeModules = pattern.split(/[/\\]/).includes(NODE_MODULES)
    const ignore = namesNodeModules ? negated : [...negated, `**/${NODE_MODULES}/**`]
    const rooted = fromRoot(pattern, options)
    if (rooted === undefined)
      throw outsideRoot(pattern, resolve(options.cwd, staticPrefix(pattern)), options.root)
    const matches = await glob(rooted, { cwd: options.root, onlyFiles: true, dot: false, ignore })
    const files: string[] = []
    for (const match of matches) {
      const absolute = resolveMatch(options.root, match)
      const dir = dirname(absolute)
      let verdict = dirVerdicts.get(dir)
      if (verdict === undefined) {
        verdict = judgeDirectory(dir, options, realRoot, realDirs)
        dirVerdicts.set(dir, verdict)
      }
      if (verdict.excluded || options.exclude.includes(absolute)) continue
      if (!namesNodeModules) {
        const lstat = lstatOf(absolute)
        // A symbolic link is judged by where it leads; any other file by its directory.
        const inNodeModules =
          lstat === undefined || lstat.isSymbolicLink()
            ? reachedThroughNodeModules(realOrSelf(absolute), realRoot)
            : verdict.inNodeModules
        if (inNodeModules) continue
      }
      if (!verdict.insideRoot) throw outsideRoot(pattern, absolute, options.root)
      files.push(absolute)
    }
    matchedBy.set(pattern, files)
    if (files.length === 0 && !options.allowEmpty) throw matchesNothing(pattern, matches.length, options)
  }
  const all = [...new Set([...matchedBy.values()].flat())]
  const ignored = options.gitignore ? gitIgnored(options.root, all, options.warn) : new Set<string>()
  for (const [pattern, files] of matchedBy) {
    const kept = files.filter((absolute) => !ignored.has(absolute))
    if (kept.length === 0 && files.length > 0 && !options.allowEmpty) {
      throw new UsageError(
        `--inputs ${JSON.stringify(pattern)} matches only files git ignores (pass --no-gitignore to hash them, or --allow-empty if that is expected).`,
      )
    }
    for (const absolute of kept) {
      const path = toPosixPath(relativeBelow(options.root, absolute))
      const stat = lstatOf(absolute)
      byPath.set(path, stat?.isFile() ? { path, absolute, stat } : { path, absolute })
    }
  }
  return [...byPath.values()].sort((a, b) => compareStrings(a.path, b.path))
}

/**
 * `pattern` (relative to the working directory) rewritten relative to the project root, to be
 * globbed from there; undefined if its fixed leading part lies outside the root. Why: tinyglobby
 * matches nothing under a `..` followed by a wildcard (`../../**` from packages/core matched only
 * the root's own files, `../*\/src` missed the working directory's own src), so the key silently
 * left out inputs and hits went stale. The leading segments without wildcards (`..` included)
 * are resolved against the working directory; the rest of the pattern is kept as written.
 */
function fromRoot(pattern: string, options: { cwd: string; root: string }): string | undefined {
  const prefix = staticPrefix(pattern)
  const rest = pattern.slice(prefix.length).replace(/^[/\\]+/, '')
  const base = relative(options.root, resolve(options.cwd, prefix))
  if (
    base === '..' ||
    base.startsWith(`..${sep}`) ||
    resolve(options.root, base) !== resolve(options.cwd, prefix)
  ) {
    return undefined
  }
  const escaped = base === '' ? '' : escapePath(toPosixPath(base))
  if (rest === '') return escaped === '' ? '**' : escaped
  return escaped === '' ? rest : `${escaped}/${rest}`
}

/** The leading path segments of `pattern` that hold no wildcard (`../..` of `../../**`). */
function staticPrefix(pattern: string): string {
  const segments = pattern.split(/(?<=[/\\])/)
  let prefix = ''
  for (const segment of segments) {
    if (isDynamicPattern(segment.replace(/[/\\]$/, ''))) break
    prefix += segment
  }
  return prefix
}

/** What a directory says about the files matched in it (see {@link judgeDirectory}). */
interface DirectoryVerdict {
  /** The directory is, or lies under, a declared output or the store. */
  excluded: boolean
  /** The directory is, or lies under, the project root. */
  insideRoot: boolean
  /** The directory really lies in a node_modules directory (after resolving symbolic links). */
  inNodeModules: boolean
}

/**
 * Judges directory `dir` for the files in it. A file directly in `dir` is under an excluded path
 * or the root exactly when `dir` is (or the file is that path itself, checked by the caller), and
 * a file that is not a symbolic link lies in node_modules exactly when its directory does: pnpm
 * links packages into node_modules/.pnpm, and a link into it must not bring the installed files
 * back in under another name.
 */
function judgeDirectory(
  dir: string,
  options: ExpandOptions,
  realRoot: string,
  realDirs: Map<string, string>,
): DirectoryVerdict {
  let realDir = realDirs.get(dir)
  if (realDir === undefined) {
    realDir = realOrSelf(dir)
    realDirs.set(dir, realDir)
  }
  return {
    excluded: options.exclude.some((excluded) => containsPath(excluded, dir)),
    insideRoot: containsPath(options.root, dir),
    inNodeModules: reachedThroughNodeModules(realDir, realRoot),
  }
}

/** True if the real path `real` lies in a node_modules directory below the root, or anywhere outside it. */
function reachedThroughNodeModules(real: string, realRoot: string): boolean {
  const below = containsPath(realRoot, real) ? relativeBelow(realRoot, real) : real
  return below.split(sep).includes(NODE_MODULES)
}

/** The file's lstat in nanoseconds, or undefined if it is gone (hashing then reports it). */
function lstatOrUndefined(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/**
 * `resolve(cwd, match)`, without its cost for the usual match: a plain relative path (no `.` or
 * `..` segment, no doubled or trailing separator) under a normalized absolute `cwd`.
 */
function resolveMatch(cwd: string, match: string): string {
  if (sep === '/' && cwd.startsWith('/') && PLAIN_RELATIVE.test(match) && !DOT_SEGMENT.test(cwd)) {
    return cwd === '/' ? `/${match}` : `${cwd}/${match}`
  }
  return resolve(cwd, match)
}

const PLAIN_RELATIVE = /^(?!\.\.?(\/|$))(?!.*\/\.\.?(\/|$))(?!.*\/\/)[^/](.*[^/])?$/
const DOT_SEGMENT = /\/\/|(^|\/)\.\.?(\/|$)|.\/$/

/** `relative(root, absolute)` for a path known to lie under the root (containsPath). */
function relativeBelow(root: string, absolute: string): string {
  if (sep === '/' && !DOT_SEGMENT.test(root) && absolute.startsWith(root === '/' ? '/' : `${root}/`)) {
    return absolute.slice(root === '/' ? 1 : root.length + 1)
  }
  return relative(root, absolute)
}

function realOrSelf(path: string): string {
  try {
    return realpathSync.native(path)
  } catch {
    return path
  }
}

function matchesNothing(pattern: string, matched: number, options: ExpandOptions): UsageError {
  const where =
    matched === 0 ? `no file in ${options.cwd}` : 'only files under the declared outputs or the store'
  return new UsageError(
    `--inputs ${JSON.stringify(pattern)} matches ${where} (pass --allow-empty if that is expected).`,
  )
}

/** The error for an input outside the project root: it names the file and how to fix it. */
export function outsideRoot(given: string, absolute: string, root: string): UsageError {
  return new UsageError(
    `--inputs ${JSON.stringify(given)} names ${absolute}, which is outside the project root ${root}. Every path in the key is relative to the root (the nearest .git, else workspace root, else package.json), so that checkouts elsewhere share hits: pass --root DIR with a directory that holds it, or leave it out of --inputs.`,
  )
}

/** Orders strings by UTF-16 code units: the same on every machine, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

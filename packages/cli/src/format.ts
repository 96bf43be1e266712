import { sep } from 'node:path'

/** Small formatting helpers shared by the subcommands' human-readable output. */

/** The first 8 characters of a key: enough to tell entries apart in a log line. */
export function shortKey(key: string): string {
  return key.slice(0, 8)
}

/**
 * `count` and the noun, singular for exactly one: `1 file`, `0 files`, `2 entries`. Every count
 * cairn prints goes through it, so none reads "1 files".
 */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`
}

/** Bytes as decimal megabytes with two decimals (`0.01 MB`, `10.49 MB`), as the run lines show. */
export function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(2)} MB`
}

/** Bytes in the largest fitting unit, for listings: `512 B`, `4.0 kB`, `12.3 MB`. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit += 1
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`
}

/** Milliseconds, rounded: `840 ms`, or seconds with one decimal from 10 s on: `12.5 s`. */
export function duration(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

/**
 * A relative path with `/` separators, as Cairn records paths on every platform. Only Windows'
 * separator is converted: on POSIX a backslash is an ordinary file name character.
 */
export function toPosixPath(path: string): string {
  return sep === '\\' ? path.split(sep).join('/') : path
}

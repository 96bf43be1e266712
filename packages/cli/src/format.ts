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

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/**
 * Bytes in the largest fitting binary unit: `512 B`, `4.0 KiB`, `12.3 MiB`. Every size cairn
 * prints is in binary units (powers of 1024), as `cairn gc` prints them, so the same store never
 * reads as kB in one command and KiB in another; and in the unit its magnitude calls for, so a
 * run of two small files does not read "0.00 MiB".
 */
export function humanBytes(bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`
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

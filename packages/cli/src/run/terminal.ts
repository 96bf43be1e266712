import { Transform } from 'node:stream'

/**
 * Colours and progress bars: the command runs with its output in pipes (cairn captures it to
 * cache it), so tools that look for a terminal print plain text. When cairn's own stdout or
 * stderr is a terminal, the command is told to colour anyway; on a hit, the captured sequences
 * are replayed as they are to a terminal and stripped for anything else (a log file, a pipe).
 */

/** The variables most tools read to colour without a terminal (chalk, supports-color, CLICOLOR). */
export const FORCE_COLOR_VARIABLES = ['FORCE_COLOR', 'CLICOLOR_FORCE'] as const

/** True if the stream is a terminal. */
export function isTerminal(stream: NodeJS.WritableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true
}

/**
 * The command's environment: `env`, plus FORCE_COLOR=1 and CLICOLOR_FORCE=1 (each unless the user
 * set it) when cairn's stdout or stderr is a terminal. Not part of the key: whether a terminal
 * is attached must not split the cache (a hit replays the colours, stripped where they do not
 * belong).
 */
export function commandEnv(
  env: NodeJS.ProcessEnv,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
): NodeJS.ProcessEnv {
  if (!isTerminal(stdout) && !isTerminal(stderr)) return env
  const forced: NodeJS.ProcessEnv = { ...env }
  for (const name of FORCE_COLOR_VARIABLES) if (forced[name] === undefined) forced[name] = '1'
  return forced
}

/**
 * ANSI escape sequences: CSI (`ESC [ … final`, colours and cursor moves), OSC (`ESC ] … BEL` or
 * `ESC ] … ESC \`, titles and links) and two-character escapes (`ESC =`).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_=>]/g

/** `data` for `stream`: as captured for a terminal, without ANSI sequences for anything else. */
export function forStream(data: Buffer, stream: NodeJS.WritableStream): Buffer {
  if (isTerminal(stream) || !data.includes(0x1b)) return data
  return Buffer.from(data.toString('latin1').replace(ANSI, ''), 'latin1')
}

/** A sequence at the start of a string, to tell a complete one from one a chunk cut short. */
const ANSI_AT_START = new RegExp(`^(?:${ANSI.source})`)

/** The longest unfinished sequence held back for the next chunk; past it, it is passed on. */
const MAX_HELD = 4096

/**
 * A stream that passes bytes on without ANSI sequences, for a miss's output going to something
 * that is not a terminal (as a hit replays it, see {@link forStream}), while the command's colours
 * still reach the other stream's terminal. A sequence cut in two by a chunk boundary is held back
 * until the next chunk completes it.
 */
export function ansiStripper(): Transform {
  let held = ''
  const strip = (text: string) => text.replace(ANSI, '')
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const text = held + chunk.toString('latin1')
      held = ''
      const last = text.lastIndexOf('\x1b')
      let ready = text
      if (last !== -1 && text.length - last < MAX_HELD && !ANSI_AT_START.test(text.slice(last))) {
        ready = text.slice(0, last)
        held = text.slice(last)
      }
      done(null, ready === '' ? undefined : Buffer.from(strip(ready), 'latin1'))
    },
    flush(done) {
      done(null, held === '' ? undefined : Buffer.from(strip(held), 'latin1'))
    },
  })
}

import { readFileSync } from 'node:fs'
import { UsageError, wantsHelp } from './args.js'
import type { Command } from './command.js'
import { gcCommand } from './commands/gc.js'
import { getCommand } from './commands/get.js'
import { hasCommand } from './commands/has.js'
import { keyCommand } from './commands/key.js'
import { lsCommand } from './commands/ls.js'
import { putCommand } from './commands/put.js'
import { rmCommand } from './commands/rm.js'
import { serveCommand } from './commands/serve.js'
import { statsCommand } from './commands/stats.js'
import { verifyCommand } from './commands/verify.js'
import { EXIT_OK } from './exit-codes.js'
import { type Io, processIo, writeLine } from './io.js'
import { reportError } from './report-error.js'
import { runCommandLine } from './run/run-command-line.js'

/** Every subcommand, in the order `cairn --help` lists them. */
export const COMMANDS: readonly Command[] = [
  runCommandLine,
  putCommand,
  getCommand,
  hasCommand,
  rmCommand,
  keyCommand,
  lsCommand,
  statsCommand,
  verifyCommand,
  gcCommand,
  serveCommand,
]

const USAGE = 'cairn <command> [options]   (cairn --help lists the commands)'

/**
 * Runs the `cairn` command line `argv` (without the node and script paths) and resolves to its
 * exit code: 0 success, 1 failure or miss, 2 bad usage; `cairn run` resolves to its command's
 * code. It never throws for anything the user did: errors are printed as one `cairn: ...` line
 * (with the stack only when CAIRN_DEBUG=1). `io` replaces any of the process's streams,
 * environment and working directory, so tests can run the CLI in-process.
 */
export async function main(argv: readonly string[], io: Partial<Io> = {}): Promise<number> {
  const streams = processIo(io)
  const [name, ...rest] = argv
  try {
    if (name === '--help' || name === '-h' || name === 'help') {
      writeLine(streams.stdout, await helpText(rest[0]))
      return EXIT_OK
    }
    if (name === '--version' || name === '-v') {
      writeLine(streams.stdout, version())
      return EXIT_OK
    }
    if (name === undefined) throw new UsageError('missing command.', USAGE)
    const command = COMMANDS.find((candidate) => candidate.name === name)
    if (command === undefined) {
      throw new UsageError(
        `unknown command ${JSON.stringify(name)}: expected one of ${COMMANDS.map((c) => c.name).join(', ')}.`,
        USAGE,
      )
    }
    if (wantsHelp(rest)) {
      writeLine(streams.stdout, await helpText(command.name))
      return EXIT_OK
    }
    return await command.run(rest, streams)
  } catch (error) {
    return reportError(error, streams)
  }
}

/** `cairn --help`, or `cairn <command> --help` when `name` is a command. */
async function helpText(name: string | undefined): Promise<string> {
  const command = COMMANDS.find((candidate) => candidate.name === name)
  if (name !== undefined && command === undefined) {
    throw new UsageError(`no help for ${JSON.stringify(name)}: it is not a command.`, USAGE)
  }
  if (command !== undefined) {
    const help = typeof command.help === 'string' ? command.help : await command.help()
    return `usage: ${command.usage}\n\n${help}`
  }
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    `cairn ${version()}: a content-addressed cache for build steps, from the shell`,
    '',
    `usage: ${USAGE}`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Every command takes --help. Exit codes: 0 success, 1 failure or miss, 2 bad usage;',
    "cairn run exits with its command's code.",
    '',
    'Environment:',
    '  CAIRN_DIR       the store when --store is not given (default: $XDG_CACHE_HOME/cairn or',
    '                  ~/.cache/cairn on Linux, ~/Library/Caches/cairn on macOS,',
    '                  %LOCALAPPDATA%\\cairn\\Cache on Windows)',
    '  CAIRN_DISABLE=1 cairn run runs its command without the cache',
    '  CAIRN_VERIFY=1  cairn run --verify',
    '  CAIRN_REMOTE    a shared HTTP cache (nginx WebDAV, bazel-remote), as --remote URL: used by',
    '                  run, put (uploads), get and has (a local miss asks it); rm, ls, stats,',
    '                  verify and gc are about the local store only',
    '  CAIRN_REMOTE_HEADERS',
    '                  request headers for it, one "Name: value" a line (as --remote-header)',
    '  CAIRN_COMPRESSION',
    '                  the codec new content is stored with, as --compression: none (default),',
    '                  gzip, brotli, zstd (Node 22.15+), or CODEC:LEVEL; used by run, put, serve,',
    '                  and get and has with a remote tier (what they download is stored)',
    '  CAIRN_DEBUG=1   print stack traces with errors',
  ].join('\n')
}

function version(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}

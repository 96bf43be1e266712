import { PassThrough } from 'node:stream'
import type { Command } from '../command.js'
import { EXIT_USAGE } from '../exit-codes.js'
import { type Io, writeLine } from '../io.js'
import { resolveStoreDir } from '../store-dir.js'

const usage =
  'cairn gc [--store DIR | <store-dir>] [--max-size SIZE] [--max-entries N] [--max-age DURATION] [--policy STRING] [cairn-gc options]'

/**
 * cairn-gc's options that take a value, so that a word after one is not taken for the
 * <store-dir>. Only used to decide whether to add the default store: cairn-gc itself parses and
 * checks every option, so an option added there and missing here can at worst make `cairn gc`
 * report two store directories (exit 2), never prune the wrong one.
 */
const VALUE_OPTIONS: ReadonlySet<string> = new Set([
  '--max-size',
  '--max-entries',
  '--max-age',
  '--interval',
  '--temp-grace',
  '--policy',
  '--concurrency',
])

export const gcCommand: Command = {
  name: 'gc',
  summary: 'prune the store to a budget, least recently used first (as cairn-gc)',
  usage,
  help: async () =>
    `Runs cairn-gc on the store: --store DIR, or <store-dir>, or else the default store ($CAIRN_DIR,
else the platform's cache directory). Every other option is cairn-gc's, passed on as given, and
the exit codes are its: 0 pruned or skipped, 1 failed, 2 bad usage. cairn-gc's help:

${await gcHelp()}`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const gcArgv = withStoreDir(argv, io)
  const { gcMain } = await loadGc()
  const code = await gcMain(gcArgv, { stdout: io.stdout, stderr: io.stderr, env: io.env })
  if (code === EXIT_USAGE) writeLine(io.stderr, `usage: ${usage}`)
  return code
}

/**
 * cairn-gc's argv for `cairn gc` argv: `--store DIR` becomes the <store-dir> positional, and
 * without either the default store is used, as by every other subcommand. A <store-dir> after
 * `--` counts as given (`cairn gc --max-entries 0 -- ./store`), and so does not add the default.
 */
function withStoreDir(argv: readonly string[], io: Io): string[] {
  const rest: string[] = []
  let store: string | undefined
  let hasPositional = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--store' && i + 1 < argv.length) {
      store = argv[++i] as string
    } else if (arg.startsWith('--store=')) {
      store = arg.slice('--store='.length)
    } else if (arg === '--') {
      // Everything after `--` is a positional, even a name starting with `-`: pass it all on.
      const after = argv.slice(i + 1)
      rest.push(arg, ...after)
      if (after.length > 0) hasPositional = true
      break
    } else {
      rest.push(arg)
      if (VALUE_OPTIONS.has(arg) && i + 1 < argv.length) rest.push(argv[++i] as string)
      else if (!arg.startsWith('-')) hasPositional = true
    }
  }
  if (store !== undefined) return [resolveStoreDir(store, io.env, io.cwd), ...rest]
  if (hasPositional) return rest
  return [resolveStoreDir(undefined, io.env, io.cwd), ...rest]
}

/** cairn-gc's own help text, so this help cannot drift from its options. */
async function gcHelp(): Promise<string> {
  const out = new PassThrough()
  const chunks: Buffer[] = []
  out.on('data', (chunk: Buffer) => chunks.push(chunk))
  const { gcMain } = await loadGc()
  await gcMain(['--help'], { stdout: out, stderr: out, env: {} })
  await new Promise((resolve) => setImmediate(resolve))
  return Buffer.concat(chunks).toString('utf8').trimEnd()
}

/** @cairn/gc, loaded when `cairn gc` runs: it adds about 15 ms to the start-up of every command. */
function loadGc(): Promise<typeof import('@cairn/gc')> {
  return import('@cairn/gc')
}

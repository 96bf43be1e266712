import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { CacheStore } from '@cairn/remote'
import { CairnError } from '@cairn/store'
import { errnoOf } from '@cairn/store/protocol'
import { parseCommandLine } from '../args.js'
import { CliError } from '../cli-error.js'
import type { Command } from '../command.js'
import {
  QUIET_HELP,
  QUIET_OPTION,
  REMOTE_HELP,
  REMOTE_OPTIONS,
  remoteFlags,
  STORE_HELP,
  STORE_OPTION,
  storeFlag,
} from '../common-options.js'
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js'
import { type Io, note } from '../io.js'
import { keyArgument } from '../key-argument.js'
import { closeStore, openStoreForReading } from '../open-store.js'

const usage =
  "cairn get [--store DIR] [--remote URL] [--remote-header 'Name: value'] [--quiet] <key> [-o FILE]"

export const getCommand: Command = {
  name: 'get',
  summary: "write an entry's content to stdout or a file",
  usage,
  help: `Writes the content stored under <key> to standard output (the bytes put, decompressed if
the entry is stored compressed), or to FILE with -o (replacing it atomically; a copy-on-write
clone where the filesystem can). On a miss, writes nothing to standard output and says
"cairn: miss <key>" on stderr. With a remote tier (--remote, CAIRN_REMOTE), a local miss asks
the remote: its entry is checked against its digest and stored locally (creating the store if
need be; compressed with CAIRN_COMPRESSION's codec, if set), then written out.

Options:
  -o, --output FILE    write to FILE instead of standard output
${STORE_HELP}
${REMOTE_HELP}
${QUIET_HELP}

Exit codes: 0 found; 1 miss or failure; 2 bad usage (an invalid key, a bad --remote URL or
--remote-header).`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    usage,
    options: { ...STORE_OPTION, ...REMOTE_OPTIONS, ...QUIET_OPTION, output: { type: 'string', short: 'o' } },
    positionals: { min: 1, max: 1 },
  })
  const key = keyArgument(positionals[0], usage)
  const store = await openStoreForReading(storeFlag(values), io, remoteFlags(values), usage)
  let found = false
  if (store !== undefined) {
    try {
      const output = values.output as string | undefined
      if (output !== undefined) {
        found = await materialize(store, key, output, io)
      } else {
        const entry = await store.getStream(key)
        if (entry !== undefined) {
          await copyTo(entry.stream, io.stdout)
          found = true
        }
      }
    } finally {
      // With a remote tier: its counters are kept for `cairn stats`.
      await closeStore(store)
    }
  }
  if (found) return EXIT_OK
  note(io, values.quiet === true, `miss ${key}`)
  return EXIT_FAILURE
}

/**
 * store.materialize to `output` (as typed, relative to the working directory). A file that
 * cannot be written there is one line naming it and saying why, in the CLI's words: the store's
 * own message is about store directories, and repeats the errno.
 */
async function materialize(store: CacheStore, key: string, output: string, io: Io): Promise<boolean> {
  const dest = resolve(io.cwd, output)
  try {
    return await store.materialize(key, dest)
  } catch (error) {
    // Only an error writing the destination (the store names it, or its directory for ENOENT);
    // one reading the store keeps the store's message.
    if (!(error instanceof CairnError) || (error.path !== dest && error.path !== dirname(dest))) throw error
    const cause = error.cause ?? error
    const code = errnoOf(cause)
    if (code === undefined) throw error
    const why =
      code === 'ENOENT' && !existsSync(dirname(dest))
        ? `its directory ${dirname(output)} does not exist`
        : whyNotWritable(code, cause, dirname(output))
    throw new CliError(`cannot write ${output}: ${why}.`, {
      path: dest,
      cause: error,
    })
  }
}

function whyNotWritable(code: string, error: unknown, dir: string): string {
  switch (code) {
    case 'ENOTDIR':
      return `${dir} is not a directory`
    case 'EISDIR':
      return 'it is a directory'
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EROFS':
      return 'read-only file system'
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on the disk'
    default: {
      // Node's text without its "CODE: " prefix and ", syscall 'path'" suffix: "CODE (text)".
      const text = (error instanceof Error ? error.message : String(error))
        .replace(/^[A-Z0-9]+: /, '')
        .replace(/, \w+ '.*$/, '')
      return `${code} (${text})`
    }
  }
}

/** Copies a stream to `out` without ending it (it may be the process's stdout), with backpressure. */
async function copyTo(source: NodeJS.ReadableStream, out: NodeJS.WritableStream): Promise<void> {
  for await (const chunk of source) {
    if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve))
  }
}

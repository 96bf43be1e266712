import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { PutResult } from '@cairn/store'
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
import { COMPRESSION_HELP, COMPRESSION_OPTION, compressionFlag } from '../compression-option.js'
import { EXIT_OK } from '../exit-codes.js'
import { counted } from '../format.js'
import type { Io } from '../io.js'
import { note } from '../io.js'
import { keyArgument } from '../key-argument.js'
import { closeStore, openStoreForWriting } from '../open-store.js'

const usage =
  "cairn put [--store DIR] [--remote URL] [--remote-header 'Name: value'] [--compression CODEC] [--quiet] <key> [FILE|-]"

export const putCommand: Command = {
  name: 'put',
  summary: 'store a file (or stdin) under a key',
  usage,
  help: `Stores FILE, or standard input when FILE is - or missing, under <key>, streamed. If an entry
for <key> exists it stays (the first writer wins) and this is still a success. With a remote
tier (--remote, CAIRN_REMOTE), the entry is also uploaded before cairn exits; a failed upload
is a warning, not a failure.

Options:
${STORE_HELP}
${REMOTE_HELP}
${COMPRESSION_HELP}
${QUIET_HELP}

Exit codes: 0 stored or already there; 1 FILE cannot be read or the store cannot be written;
2 bad usage (an invalid key, a bad --remote URL or --remote-header, a bad --compression).`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    usage,
    options: { ...STORE_OPTION, ...REMOTE_OPTIONS, ...COMPRESSION_OPTION, ...QUIET_OPTION },
    positionals: { min: 1, max: 2 },
  })
  const key = keyArgument(positionals[0], usage)
  const source = positionals[1] ?? '-'
  const file = source === '-' ? undefined : resolve(io.cwd, source)
  if (file !== undefined) checkReadableFile(file, source)
  const store = await openStoreForWriting(
    storeFlag(values),
    io,
    remoteFlags(values),
    usage,
    compressionFlag(values),
  )
  let result: PutResult
  try {
    result = file === undefined ? await store.put(key, io.stdin) : await store.putFile(key, file)
  } finally {
    // With a remote tier: the upload finishes before cairn exits, and its counters are kept for
    // `cairn stats`.
    await closeStore(store)
  }
  note(
    io,
    values.quiet === true,
    result.published
      ? `stored ${key} (${counted(result.size, 'byte')})`
      : `${key} was already stored; the first entry stays`,
  )
  return EXIT_OK
}

function checkReadableFile(file: string, shown: string): void {
  let isFile: boolean
  try {
    isFile = statSync(file).isFile()
  } catch (error) {
    throw new CliError(
      `cannot read ${shown}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}.`,
      { path: file, cause: error },
    )
  }
  if (!isFile) throw new CliError(`cannot store ${shown}: it is not a file.`, { path: file })
}

import { parseCommandLine } from '../args.js'
import type { Command } from '../command.js'
import {
  REMOTE_HELP,
  REMOTE_OPTIONS,
  remoteFlags,
  STORE_HELP,
  STORE_OPTION,
  storeFlag,
} from '../common-options.js'
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js'
import type { Io } from '../io.js'
import { keyArgument } from '../key-argument.js'
import { closeStore, openStoreForReading } from '../open-store.js'

const usage = "cairn has [--store DIR] [--remote URL] [--remote-header 'Name: value'] <key>"

export const hasCommand: Command = {
  name: 'has',
  summary: 'tell by the exit code whether an entry exists',
  usage,
  help: `Exits with 0 if the store holds a whole entry for <key> (its content present, of the right
size), 1 if not. Prints nothing, for use in shell conditions: if cairn has "$key"; then ...
With a remote tier (--remote, CAIRN_REMOTE), a local miss asks the remote; an entry it has is
downloaded, checked and stored locally to answer (a \`cairn get\` that follows is local;
compressed with CAIRN_COMPRESSION's codec, if set).

Options:
${STORE_HELP}
${REMOTE_HELP}

Exit codes: 0 present; 1 absent or failure; 2 bad usage (an invalid key, a bad --remote URL or
--remote-header).`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    usage,
    options: { ...STORE_OPTION, ...REMOTE_OPTIONS },
    positionals: { min: 1, max: 1 },
  })
  const key = keyArgument(positionals[0], usage)
  const store = await openStoreForReading(storeFlag(values), io, remoteFlags(values), usage)
  if (store === undefined) return EXIT_FAILURE
  try {
    return (await store.has(key)) ? EXIT_OK : EXIT_FAILURE
  } finally {
    // With a remote tier: its counters are kept for `cairn stats`.
    await closeStore(store)
  }
}

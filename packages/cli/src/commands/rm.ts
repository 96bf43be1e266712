import { parseCommandLine } from '../args.js'
import type { Command } from '../command.js'
import { QUIET_HELP, QUIET_OPTION, STORE_HELP, STORE_OPTION, storeFlag } from '../common-options.js'
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js'
import { type Io, note } from '../io.js'
import { keyArgument } from '../key-argument.js'
import { openStoreIfExists } from '../open-store.js'

const usage = 'cairn rm [--store DIR] [--quiet] <key>'

export const rmCommand: Command = {
  name: 'rm',
  summary: 'remove an entry',
  usage,
  help: `Removes the entry for <key>. Its content stays until \`cairn gc\` finds no entry using it,
since other entries may share it. A process already reading the entry finishes its read.

Options:
${STORE_HELP}
${QUIET_HELP}

Exit codes: 0 removed; 1 there was no such entry, or failure; 2 bad usage (an invalid key).`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    usage,
    options: { ...STORE_OPTION, ...QUIET_OPTION },
    positionals: { min: 1, max: 1 },
  })
  const key = keyArgument(positionals[0], usage)
  const { store } = await openStoreIfExists(storeFlag(values), io)
  if (store !== undefined && (await store.delete(key))) return EXIT_OK
  note(io, values.quiet === true, `no entry ${key}`)
  return EXIT_FAILURE
}

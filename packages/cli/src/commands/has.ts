import { parseCommandLine } from '../args.js'
import type { Command } from '../command.js'
import { STORE_HELP, STORE_OPTION } from '../common-options.js'
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js'
import type { Io } from '../io.js'
import { keyArgument } from '../key-argument.js'
import { openStoreIfExists } from '../open-store.js'

const usage = 'cairn has [--store DIR] <key>'

export const hasCommand: Command = {
  name: 'has',
  summary: 'tell by the exit code whether an entry exists',
  usage,
  help: `Exits with 0 if the store holds a whole entry for <key> (its content present, of the right
size), 1 if not. Prints nothing, for use in shell conditions: if cairn has "$key"; then ...

Options:
${STORE_HELP}

Exit codes: 0 present; 1 absent or failure; 2 bad usage (an invalid key).`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    usage,
    options: { ...STORE_OPTION },
    positionals: { min: 1, max: 1 },
  })
  const key = keyArgument(positionals[0], usage)
  const { store } = await openStoreIfExists(values.store as string | undefined, io)
  return store !== undefined && (await store.has(key)) ? EXIT_OK : EXIT_FAILURE
}

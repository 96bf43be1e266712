import { parseCommandLine } from '../args.js'
import type { Command } from '../command.js'
import { JSON_OPTION, STORE_HELP, STORE_OPTION, storeFlag } from '../common-options.js'
import { entriesWithUse } from '../entry-uses.js'
import { EXIT_OK } from '../exit-codes.js'
import { type Io, writeLine } from '../io.js'
import { openStoreIfExists } from '../open-store.js'
import { runCommandOf, runCwdOf } from '../run/run-metadata.js'

const usage = 'cairn ls [--store DIR] [--json]'

export const lsCommand: Command = {
  name: 'ls',
  summary: 'list entries: key, size, last use',
  usage,
  help: `Lists every entry: its key, content size in bytes and last use, one per line, in key order.
Entries stored by \`cairn run\` also show their working directory (relative to the project
root) and command: \`run in packages/core: tsc -p .\`.

With --json, prints one JSON array of {key, size, digest, created, lastUsed, metadata}
(times as ISO 8601 strings; metadata null when there is none) and nothing else on stdout.

Options:
  --json               print JSON
${STORE_HELP}

Exit codes: 0 listed (a store that does not exist yet lists nothing); 1 failure; 2 bad usage.`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandLine(argv, {
    usage,
    options: { ...STORE_OPTION, ...JSON_OPTION },
    positionals: { min: 0, max: 0 },
  })
  const { store } = await openStoreIfExists(storeFlag(values), io)
  const json = values.json === true
  const listed: unknown[] = []
  if (store !== undefined) {
    for await (const entry of entriesWithUse(store)) {
      if (json) {
        listed.push({
          key: entry.key,
          size: entry.size,
          digest: entry.digest,
          created: entry.time.toISOString(),
          lastUsed: entry.lastUsed.toISOString(),
          metadata: entry.metadata ?? null,
        })
      } else {
        const command = runCommandOf(entry.metadata)
        const cwd = runCwdOf(entry.metadata)
        const line = `${entry.key}  ${String(entry.size).padStart(12)}  ${entry.lastUsed.toISOString()}`
        const run = cwd === undefined ? `run: ${command}` : `run in ${cwd}: ${command}`
        writeLine(io.stdout, command === undefined ? line : `${line}  ${run}`)
      }
    }
  }
  if (json) writeLine(io.stdout, JSON.stringify(listed, null, 2))
  return EXIT_OK
}

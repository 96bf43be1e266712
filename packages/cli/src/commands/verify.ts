import { parseCommandLine } from '../args.js'
import { checkStore, type Damage, fixContext, removeDamaged } from '../check-store.js'
import type { Command } from '../command.js'
import { JSON_OPTION, STORE_HELP, STORE_OPTION, storeFlag } from '../common-options.js'
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js'
import { counted, duration, humanBytes } from '../format.js'
import { type Io, writeLine } from '../io.js'
import { openStoreIfExists } from '../open-store.js'

const usage = 'cairn verify [--store DIR] [--fix] [--json]'

export const verifyCommand: Command = {
  name: 'verify',
  summary: 're-hash every content file and report (or, with --fix, remove) corrupt entries',
  usage,
  help: `Re-hashes every content file and inline content and checks every entry record against it,
listing each damaged entry or content file with the reason. Compressed content is decompressed
and its original bytes hashed; a compressed file that does not decompress to its size (damaged,
truncated) is damaged. One compressed with a codec this Node cannot decode (zstd before Node
22.15) is listed as unchecked, and never removed. Reads never return damaged data
(they check sizes, or hashes with verify: 'hash'), but bit rot that keeps a file's size is only
found by hashing: run this from time to time on long-lived stores. It reads everything once,
in bounded memory.

With --fix, removes what is damaged (the next put of those keys stores them afresh). Run as root
in a store another user owns, --fix refuses (as put and gc do) unless CAIRN_ALLOW_FOREIGN_OWNER=1.

With --json, prints one JSON object {entries, contentFiles, bytesHashed, ms, fixed,
damage: [{kind: "entry"|"content", name, reason, removed}], unchecked: [{name, reason}]} and
nothing else on stdout; bytesHashed counts original (uncompressed) bytes.

Options:
  --fix                remove damaged entries and content files
  --json               print JSON
${STORE_HELP}

Exit codes: 0 nothing damaged, or all of it removed with --fix; 1 damage found without --fix,
or failure; 2 bad usage.`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandLine(argv, {
    usage,
    options: { ...STORE_OPTION, ...JSON_OPTION, fix: { type: 'boolean' } },
    positionals: { min: 0, max: 0 },
  })
  const fix = values.fix === true
  const started = performance.now()
  const { store } = await openStoreIfExists(storeFlag(values), io)
  // Judged before the walk: a root --fix in another user's store is refused up front.
  const fixing = fix && store ? fixContext(store.dir, io.env.CAIRN_ALLOW_FOREIGN_OWNER === '1') : undefined
  const report = store
    ? await checkStore(store)
    : { entries: 0, contentFiles: 0, bytesHashed: 0, damage: [], unchecked: [] }
  const notRemoved = new Set<Damage>(fixing ? removeDamaged(fixing, report.damage) : report.damage)
  const ms = performance.now() - started

  if (values.json === true) {
    const damage = report.damage.map((item) => ({
      kind: item.kind,
      name: item.name,
      reason: item.reason,
      removed: !notRemoved.has(item),
    }))
    const { entries, contentFiles, bytesHashed } = report
    writeLine(
      io.stdout,
      JSON.stringify(
        {
          entries,
          contentFiles,
          bytesHashed,
          ms: Math.round(ms),
          fixed: fix,
          damage,
          unchecked: report.unchecked,
        },
        null,
        2,
      ),
    )
  } else {
    for (const item of report.damage) {
      const state = notRemoved.has(item) ? (fix ? ' (could not remove it)' : '') : ' (removed)'
      writeLine(io.stdout, `damaged ${item.kind} ${item.name}: ${item.reason}${state}`)
    }
    for (const item of report.unchecked) {
      writeLine(io.stdout, `unchecked content ${item.name}: ${item.reason} (left in place)`)
    }
    const found = report.damage.length
    const outcome =
      found === 0
        ? 'nothing damaged'
        : `${found} damaged${fix ? `, ${found - notRemoved.size} removed` : ' (run with --fix to remove)'}`
    writeLine(
      io.stdout,
      `checked ${counted(report.entries, 'entry', 'entries')} and ${counted(report.contentFiles, 'content file')} (${humanBytes(report.bytesHashed)} hashed) in ${duration(ms)}: ${outcome}${report.unchecked.length > 0 ? `; ${report.unchecked.length} unchecked` : ''}`,
    )
  }
  return notRemoved.size > 0 ? EXIT_FAILURE : EXIT_OK
}

import { resolve } from 'node:path'
import { ALGORITHMS, type Algorithm, createHasher, type Hasher, type KeyValue } from '@cairn/hash'
import { parseCommandLine, UsageError } from '../args.js'
import { CliError } from '../cli-error.js'
import type { Command } from '../command.js'
import { EXIT_OK } from '../exit-codes.js'
import { type Io, writeLine } from '../io.js'

const usage = "cairn key [--algorithm xxh128|sha256] <FILE|-> | cairn key --json '<value>'"

export const keyCommand: Command = {
  name: 'key',
  summary: 'print the content digest of a file, or the key of a JSON value',
  usage,
  help: `cairn key FILE prints the content digest of FILE (of standard input with -), as the store
names content: \`cairn put "$(cairn key a.out)" a.out\` stores a file under its own digest.
cairn key --json '<value>' prints the key @cairn/hash computes for a JSON value, as a build tool
would with hasher.key(value): property order does not matter, types do.

Options:
  --json VALUE         print the key of this JSON value instead
  --algorithm NAME     xxh128 (default) or sha256; must match the store's to use with it

Exit codes: 0 printed; 1 FILE cannot be read; 2 bad usage (bad JSON, an unknown algorithm).`,
  run,
}

async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    usage,
    options: { json: { type: 'string' }, algorithm: { type: 'string' } },
    positionals: { min: 0, max: 1 },
  })
  const algorithm = (values.algorithm as string | undefined) ?? 'xxh128'
  if (!ALGORITHMS.includes(algorithm as Algorithm)) {
    throw new UsageError(
      `unknown --algorithm ${JSON.stringify(algorithm)}: expected xxh128 or sha256.`,
      usage,
    )
  }
  const hasher = await createHasher({ algorithm: algorithm as Algorithm })
  const json = values.json as string | undefined
  const source = positionals[0]
  if ((json === undefined) === (source === undefined)) {
    throw new UsageError('give either a FILE (or - for standard input) or --json VALUE.', usage)
  }
  if (json !== undefined) {
    writeLine(io.stdout, hasher.key(parseJson(json)))
  } else {
    writeLine(
      io.stdout,
      source === '-'
        ? await digestStream(hasher, io.stdin)
        : await digestFile(hasher, io.cwd, source as string),
    )
  }
  return EXIT_OK
}

function parseJson(text: string): KeyValue {
  try {
    return JSON.parse(text) as KeyValue
  } catch (error) {
    throw new UsageError(
      `--json ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)} is not JSON: ${(error as Error).message}.`,
      usage,
    )
  }
}

async function digestFile(hasher: Hasher, cwd: string, file: string): Promise<string> {
  try {
    return await hasher.file(resolve(cwd, file))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message
    throw new CliError(`cannot read ${file}: ${reason}.`, { path: file, cause: error })
  }
}

async function digestStream(hasher: Hasher, input: NodeJS.ReadableStream): Promise<string> {
  const digest = hasher.stream()
  for await (const chunk of input) digest.update(chunk as Uint8Array | string)
  return digest.digest()
}

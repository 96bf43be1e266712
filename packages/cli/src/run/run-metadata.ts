/**
 * The metadata `cairn run` stores with a manifest entry, so that `cairn ls` and `cairn stats`
 * can tell manifests from the blobs they name without reading them. A type rather than an
 * interface, so that it is assignable to the store's JsonValue (interfaces have no index signature).
 */
export type RunMetadata = {
  cairnRun: 1
  /** The command line, shortened to 200 characters. */
  command: string
  /** The working directory relative to the project root (`.` for the root). */
  cwd: string
  /** Output files and their total bytes. */
  files: number
  bytes: number
}

/**
 * The metadata of a `cairn run` of `command` in `cwd` (relative to the project root) that stored
 * `files` files of `bytes` bytes.
 */
export function runMetadata(
  command: readonly string[],
  cwd: string,
  files: number,
  bytes: number,
): RunMetadata {
  const line = command.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ')
  return { cairnRun: 1, command: line.length > 200 ? `${line.slice(0, 199)}…` : line, cwd, files, bytes }
}

/** The working directory an entry `cairn run` stored records, else undefined. */
export function runCwdOf(metadata: unknown): string | undefined {
  if (runCommandOf(metadata) === undefined) return undefined
  const { cwd } = metadata as { cwd?: unknown }
  return typeof cwd === 'string' ? cwd : undefined
}

/** The command of an entry `cairn run` stored (its metadata says so), else undefined. */
export function runCommandOf(metadata: unknown): string | undefined {
  if (typeof metadata !== 'object' || metadata === null) return undefined
  const { cairnRun, command } = metadata as { cairnRun?: unknown; command?: unknown }
  return cairnRun === 1 && typeof command === 'string' ? command : undefined
}

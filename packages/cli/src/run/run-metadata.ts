/**
 * The metadata `cairn run` stores with a manifest entry, so that `cairn ls` and `cairn stats`
 * can tell manifests from the blobs they name without reading them. A type rather than an
 * interface, so that it is assignable to the store's JsonValue (interfaces have no index signature).
 */
export type RunMetadata = {
  cairnRun: 1
  /** The command line, shortened to 200 characters. */
  command: string
  /** Output files and their total bytes. */
  files: number
  bytes: number
}

/** The metadata of a `cairn run` of `command` that stored `files` files of `bytes` bytes. */
export function runMetadata(command: readonly string[], files: number, bytes: number): RunMetadata {
  const line = command.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ')
  return { cairnRun: 1, command: line.length > 200 ? `${line.slice(0, 199)}…` : line, files, bytes }
}

/** The command of an entry `cairn run` stored (its metadata says so), else undefined. */
export function runCommandOf(metadata: unknown): string | undefined {
  if (typeof metadata !== 'object' || metadata === null) return undefined
  const { cairnRun, command } = metadata as { cairnRun?: unknown; command?: unknown }
  return cairnRun === 1 && typeof command === 'string' ? command : undefined
}

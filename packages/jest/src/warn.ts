let warned = false

/**
 * Tells the user once per process (Jest's main process and each worker) that the cache is not
 * working, then stays quiet: the run goes on with the inner transformer, and a line per file
 * would bury the test output.
 */
export function warnOnce(
  what: string,
  error: unknown,
  consequence = 'Transforming without the cache in this process',
): void {
  if (warned) return
  warned = true
  const code = (error as { code?: unknown } | null)?.code
  const reason = error instanceof Error ? error.message : String(error)
  process.stderr.write(
    `@cairn/jest: ${what} (${typeof code === 'string' ? `${code}: ` : ''}${reason}). ${consequence}; set CAIRN_DISABLE=1 to turn it off.\n`,
  )
}

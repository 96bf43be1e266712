import { resolve } from 'node:path'
import { defaultStoreDir, storeDirContext } from '@cairn/store'
import { UsageError } from './args.js'

// The platform logic lives in @cairn/store so that libraries embedding Cairn (which must not
// depend on the CLI) pick the same default store as the `cairn` command.
export { defaultStoreDir, type StoreDirContext } from '@cairn/store'

/**
 * The store directory a command uses, as an absolute path: `--store` if given (relative to the
 * working directory), else {@link defaultStoreDir}.
 */
export function resolveStoreDir(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  if (flag === '') throw new UsageError('--store needs a directory, got an empty string.')
  const chosen = flag ?? defaultStoreDir(storeDirContext(env))
  return resolve(cwd, chosen)
}

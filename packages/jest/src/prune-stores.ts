import { realpathSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Policy, prune } from '@cairn/gc'
import { checkOptions } from './options.js'
import { isDisabled, storeDirFor } from './store-dir.js'
import { warnOnce } from './warn.js'

/** The part of Jest's project config the teardown reads. */
export interface ProjectConfig {
  rootDir: string
  transform?: readonly (readonly [string, string, unknown?])[]
}

/**
 * What `@cairn/jest/global-teardown` does: prunes the store of every `@cairn/jest` entry in the project's
 * `transform` to its `maxSize` (or `CAIRN_JEST_MAX_SIZE`) and `maxAge`, at most once per
 * `pruneInterval`, so that a developer's store stays bounded with no cron job. It never fails
 * the run: a prune that cannot run is one warning.
 */
export async function pruneStores(projectConfig: ProjectConfig | undefined): Promise<void> {
  if (isDisabled() || projectConfig === undefined) return
  const ours = ownDir()
  const seen = new Set<string>()
  for (const [, transformPath, rawOptions] of projectConfig.transform ?? []) {
    if (!isOurs(transformPath, ours)) continue
    try {
      const options = checkOptions(rawOptions)
      if (options.maxSize === undefined && options.maxAge === undefined) continue
      const dir = storeDirFor(options.store, projectConfig.rootDir)
      if (seen.has(dir)) continue
      seen.add(dir)
      const policy: Policy = { interval: options.pruneInterval }
      if (options.maxSize !== undefined) policy.maxBytes = options.maxSize
      if (options.maxAge !== undefined) policy.maxAge = options.maxAge
      await prune(dir, policy)
    } catch (error) {
      // No store yet (nothing was cached) is not worth a warning.
      if ((error as { code?: unknown }).code === 'ERR_CAIRN_NOT_A_STORE') continue
      // The same one warning per process as the transformer's: a read-only store must not
      // print a second line at the end of the run.
      warnOnce('could not prune the store', error, 'The store was not pruned')
    }
  }
}

/** This package's dist directory, real path: the transformer Jest resolved lives there. */
function ownDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  try {
    return realpathSync(here)
  } catch {
    return here
  }
}

function isOurs(transformPath: string, ours: string): boolean {
  try {
    return dirname(realpathSync(transformPath)) === ours
  } catch {
    return false
  }
}

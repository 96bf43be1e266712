import { resolve } from 'node:path'
import { defaultStoreDir } from '@cairn/store'

/**
 * The store a project uses: the `store` option (relative to rootDir, `<rootDir>/...` allowed), else `$CAIRN_DIR`, else
 * the platform cache directory the `cairn` CLI uses, so both share one store.
 */
export function storeDirFor(store: string | undefined, rootDir: string): string {
  return resolve(rootDir, store === undefined ? defaultStoreDir() : withRootDir(store, rootDir))
}

/** Jest's `<rootDir>` token, which Jest itself does not replace in a transformer's options. */
export function withRootDir(path: string, rootDir: string): string {
  return path.startsWith('<rootDir>') ? rootDir + path.slice('<rootDir>'.length) : path
}

/** `CAIRN_DISABLE=1` turns the cache off: the inner transformer runs as if used directly. */
export function isDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CAIRN_DISABLE === '1'
}

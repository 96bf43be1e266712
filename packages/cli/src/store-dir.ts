import { homedir } from 'node:os'
import { posix, resolve, win32 } from 'node:path'
import { UsageError } from './args.js'

/** What the default store directory depends on; injectable so tests can check every platform. */
export interface StoreDirContext {
  env: NodeJS.ProcessEnv
  platform: NodeJS.Platform
  home: string
}

/**
 * The store directory to use when `--store` is not given, following each platform's convention
 * for caches (which backup tools and disk cleaners know to treat as disposable):
 *
 * - `$CAIRN_DIR`, if set, everywhere;
 * - Linux and other Unixes: `$XDG_CACHE_HOME/cairn` (when it is an absolute path, as the XDG
 *   spec requires), else `~/.cache/cairn`;
 * - macOS: `~/Library/Caches/cairn`;
 * - Windows: `%LOCALAPPDATA%\cairn\Cache`, else `~\AppData\Local\cairn\Cache`.
 */
export function defaultStoreDir(context: StoreDirContext): string {
  const { env, platform, home } = context
  const fromEnv = env.CAIRN_DIR
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA
    return local
      ? win32.join(local, 'cairn', 'Cache')
      : win32.join(home, 'AppData', 'Local', 'cairn', 'Cache')
  }
  if (platform === 'darwin') return posix.join(home, 'Library', 'Caches', 'cairn')
  const xdg = env.XDG_CACHE_HOME
  if (xdg !== undefined && posix.isAbsolute(xdg)) return posix.join(xdg, 'cairn')
  return posix.join(home, '.cache', 'cairn')
}

/**
 * The store directory a command uses, as an absolute path: `--store` if given (relative to the
 * working directory), else {@link defaultStoreDir}.
 */
export function resolveStoreDir(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  if (flag === '') throw new UsageError('--store needs a directory, got an empty string.')
  const chosen = flag ?? defaultStoreDir({ env, platform: process.platform, home: homeOf(env) })
  return resolve(cwd, chosen)
}

function homeOf(env: NodeJS.ProcessEnv): string {
  // os.homedir() reads $HOME on POSIX too, but the environment given to main wins for tests.
  return (process.platform === 'win32' ? env.USERPROFILE : env.HOME) || homedir()
}

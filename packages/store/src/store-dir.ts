import { homedir } from 'node:os'
import { posix, win32 } from 'node:path'

/** What the default store directory depends on; injectable so tests can check every platform. */
export interface StoreDirContext {
  env: NodeJS.ProcessEnv
  platform: NodeJS.Platform
  home: string
}

/**
 * The store directory to use when the caller names none, following each platform's convention
 * for caches (which backup tools and disk cleaners know to treat as disposable). The `cairn` CLI
 * and the libraries that embed Cairn (`@cairn/jest`) share it, so they share one store:
 *
 * - `$CAIRN_DIR`, if set, everywhere;
 * - Linux and other Unixes: `$XDG_CACHE_HOME/cairn` (when it is an absolute path, as the XDG
 *   spec requires), else `~/.cache/cairn`;
 * - macOS: `~/Library/Caches/cairn`;
 * - Windows: `%LOCALAPPDATA%\cairn\Cache`, else `~\AppData\Local\cairn\Cache`.
 *
 * Without a context it reads this process's environment, platform and home directory.
 */
export function defaultStoreDir(context: StoreDirContext = storeDirContext(process.env)): string {
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

/** The context of this process, with `env` as its environment. */
export function storeDirContext(env: NodeJS.ProcessEnv): StoreDirContext {
  // os.homedir() reads $HOME on POSIX too, but the environment given wins for tests.
  const home = (process.platform === 'win32' ? env.USERPROFILE : env.HOME) || homedir()
  return { env, platform: process.platform, home }
}

import { CairnError } from '@cairn/store'
import { parseRemoteHeaders } from './headers.js'
import type { RemoteOptions } from './options.js'

/** Remote settings given on a command line, which win over the environment's. */
export interface RemoteFlags {
  /** `--remote URL`. An empty string turns the remote off, whatever CAIRN_REMOTE says. */
  remote?: string | undefined
  /** Each `--remote-header 'Name: value'`, in order. */
  remoteHeaders?: readonly string[] | undefined
  /** `--remote-read-only`. */
  remoteReadOnly?: boolean | undefined
}

/**
 * The remote options a command line and environment ask for, or undefined when no remote is
 * configured. Reads:
 *
 * - `CAIRN_REMOTE` (or `flags.remote`): the cache's base URL.
 * - `CAIRN_REMOTE_HEADERS`: request headers, `Name: value` one per line; each
 *   `flags.remoteHeaders` entry adds one, replacing an environment header of the same name.
 * - `CAIRN_REMOTE_MODE`: `read-only` or `read-write` (default); `flags.remoteReadOnly` wins.
 * - `CAIRN_REMOTE_TIMEOUT`: ms to wait for an answer or progress (default 10,000).
 * - `CAIRN_REMOTE_SERVER`: `bazel-remote` to check the store's algorithm at open.
 *
 * The result goes to openRemoteStore as `remote`, which checks the URL and the rest.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_OPTION for a malformed header (never quoting its value),
 *   mode, timeout or server.
 */
export function remoteOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  flags: RemoteFlags = {},
): RemoteOptions | undefined {
  const url = flags.remote ?? env.CAIRN_REMOTE
  if (url === undefined || url.trim() === '') return undefined
  const options: RemoteOptions = { url: url.trim() }
  const headers = parseRemoteHeaders([env.CAIRN_REMOTE_HEADERS ?? '', ...(flags.remoteHeaders ?? [])])
  if (Object.keys(headers).length > 0) options.headers = headers
  const mode = flags.remoteReadOnly ? 'read-only' : env.CAIRN_REMOTE_MODE
  if (mode !== undefined && mode !== '') {
    if (mode !== 'read-only' && mode !== 'read-write')
      throw invalid('CAIRN_REMOTE_MODE', mode, "'read-only' or 'read-write'")
    options.mode = mode
  }
  const timeout = env.CAIRN_REMOTE_TIMEOUT
  if (timeout !== undefined && timeout !== '') {
    const ms = Number(timeout)
    if (!/^\d+$/.test(timeout) || ms < 1)
      throw invalid('CAIRN_REMOTE_TIMEOUT', timeout, 'a whole number of milliseconds, 1 or more')
    options.timeoutMs = ms
  }
  const server = env.CAIRN_REMOTE_SERVER
  if (server !== undefined && server !== '') {
    if (server !== 'generic' && server !== 'bazel-remote') {
      throw invalid('CAIRN_REMOTE_SERVER', server, "'generic' or 'bazel-remote'")
    }
    options.server = server
  }
  return options
}

function invalid(name: string, value: string, expected: string): CairnError {
  return new CairnError(
    'ERR_CAIRN_INVALID_OPTION',
    `${name} is ${JSON.stringify(value.slice(0, 60))}; expected ${expected}.`,
  )
}

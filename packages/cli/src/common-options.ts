import type { RemoteFlags } from '@cairn/remote'
import type { OptionSpecs } from './args.js'

/** `--store DIR`, which every subcommand that uses a store takes. */
export const STORE_OPTION: OptionSpecs = { store: { type: 'string' } }

/** `--quiet`/`-q`: no `cairn: ...` notes on stderr (errors are still printed). */
export const QUIET_OPTION: OptionSpecs = { quiet: { type: 'boolean', short: 'q' } }

/** `--json`: machine-readable output on stdout, and nothing else there. */
export const JSON_OPTION: OptionSpecs = { json: { type: 'boolean' } }

/**
 * `--remote URL` and `--remote-header 'Name: value'` (repeatable): a remote tier over a shared
 * HTTP cache, for the commands that use one (`run`, `put`, `get`, `has`). CAIRN_REMOTE and
 * CAIRN_REMOTE_HEADERS say the same from the environment; the flags win.
 */
export const REMOTE_OPTIONS: OptionSpecs = {
  remote: { type: 'string' },
  'remote-header': { type: 'string', multiple: true },
}

/** The `--store` value of parsed {@link STORE_OPTION}: undefined for the default store. */
export function storeFlag(values: Record<string, unknown>): string | undefined {
  return values.store as string | undefined
}

/** The RemoteFlags of parsed {@link REMOTE_OPTIONS}, for openStoreForWriting and openStoreForReading. */
export function remoteFlags(values: Record<string, unknown>): RemoteFlags {
  return {
    remote: values.remote as string | undefined,
    remoteHeaders: values['remote-header'] as string[] | undefined,
  }
}

/** The help text's lines for the options above. */
export const STORE_HELP =
  '  --store DIR          the store (default: $CAIRN_DIR, else the platform cache directory)'
export const QUIET_HELP = '  --quiet, -q          print no notes on stderr (errors still are)'
export const REMOTE_HELP = `  --remote URL         also use the shared HTTP cache at URL (nginx WebDAV, bazel-remote);
                       default $CAIRN_REMOTE
  --remote-header 'Name: value'  a request header for it (credentials), never printed;
                       repeatable; also $CAIRN_REMOTE_HEADERS, one "Name: value" a line`

import type { OptionSpecs } from './args.js'

/** `--store DIR`, which every subcommand that uses a store takes. */
export const STORE_OPTION: OptionSpecs = { store: { type: 'string' } }

/** `--quiet`/`-q`: no `cairn: ...` notes on stderr (errors are still printed). */
export const QUIET_OPTION: OptionSpecs = { quiet: { type: 'boolean', short: 'q' } }

/** `--json`: machine-readable output on stdout, and nothing else there. */
export const JSON_OPTION: OptionSpecs = { json: { type: 'boolean' } }

/** The help text's lines for the options above. */
export const STORE_HELP =
  '  --store DIR          the store (default: $CAIRN_DIR, else the platform cache directory)'
export const QUIET_HELP = '  --quiet, -q          print no notes on stderr (errors still are)'

import { isValidKey } from '@cairn/store'
import { UsageError } from './args.js'

/**
 * Checks a key given on the command line before anything touches the disk. A bad key is bad
 * usage (exit 2), not a miss: `cairn has typo` must not look like "not cached".
 */
export function keyArgument(value: string | undefined, usage: string): string {
  if (value !== undefined && isValidKey(value)) return value
  const text = value ?? ''
  const shown = JSON.stringify(text.length > 140 ? `${text.slice(0, 140)}…` : text)
  throw new UsageError(
    `invalid key ${shown}: a key is 16 to 128 lowercase hex characters (\`cairn key\` makes one).`,
    usage,
  )
}

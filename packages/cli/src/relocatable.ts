import { dirname } from 'node:path'

/** What stands for the project root's absolute path in a key. */
export const ROOT_PLACEHOLDER = '<root>'

/**
 * `text` with every occurrence of the project root's absolute path, where it is a whole path
 * prefix (followed by a separator or the end), replaced by `<root>`. A command given absolute
 * paths into its own checkout (`node /ci/build-4711/scripts/build.js`,
 * `--outDir=/ci/build-4711/dist`) then has the same key in every checkout: the key must never
 * hold the checkout's location. A root that is the filesystem root is left alone, since every
 * absolute path starts with it.
 */
export function relocatable(text: string, root: string): string {
  if (dirname(root) === root) return text
  const escaped = root.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')
  return text.replace(new RegExp(`${escaped}(?=[/\\\\]|$)`, 'g'), ROOT_PLACEHOLDER)
}

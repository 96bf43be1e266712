import { dirname } from 'node:path'

/** What stands for the project root's absolute path in a key. */
export const ROOT_PLACEHOLDER = '<root>'

/**
 * What may come right before the root for it to count as the start of a path: the start of the
 * word, white space, a character that separates values in options, lists and shell lines
 * (`--outDir=/…`, `PATH=/…:/…`, `sh -c 'cd /…'`), or a short option written together with its
 * value (`-I/…`, `-L/…`). After any other character (`/x/ci/build-4711`, `a.b/ci/build-4711`) the
 * root's text is part of another path, which must not be rewritten: checkouts elsewhere would
 * share its key.
 */
const LEFT_BOUNDARY = String.raw`(?<=^|[\s=:;,'"\x60()[\]{}<>|&]|^-[A-Za-z]+)`

/**
 * `text` made independent of where the checkout is: every occurrence of the project root's
 * absolute path that is a whole path (see {@link LEFT_BOUNDARY} before it; a separator or the
 * end of the word after it) is written `<root>`, so a command given absolute paths into its own
 * checkout (`node /ci/build-4711/scripts/build.js`, `--outDir=/ci/build-4711/dist`) has the same
 * key in every checkout: the key must never hold the checkout's location.
 *
 * The rewriting is injective (two different texts never give the same result), because a key
 * must never confuse two commands: every `<` in the text is first written `<<`, so a `<` in the
 * result followed by `r` can only be the placeholder, and `'<root>/x'` (written `<<root>/x`) no
 * longer looks like the root's `/x`. A root that is the filesystem root is left alone, since
 * every absolute path starts with it. After a POSIX root only `/` separates (a backslash is an
 * ordinary name character there, so `/ci/app\x` is a sibling of the root, not inside it).
 */
export function relocatable(text: string, root: string): string {
  if (dirname(root) === root) return text.replace(/</g, '<<')
  const escaped = root.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')
  const after = root.startsWith('/') ? '(?=/|$)' : String.raw`(?=[/\\]|$)`
  const pattern = new RegExp(`${LEFT_BOUNDARY}${escaped}${after}|<`, 'g')
  return text.replace(pattern, (match) => (match === '<' ? '<<' : ROOT_PLACEHOLDER))
}

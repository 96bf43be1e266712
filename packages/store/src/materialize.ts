/**
 * Writing an entry's content to a file outside the store, for `Store.materialize`. Everything
 * written comes from what the read checked: the record's inline bytes, or the content file the
 * read opened (O_NOFOLLOW) and checked with fstat. Nothing is read again by path, since in a
 * store others can write a co-user may swap `content/<cd>/<digest>` for a symlink or another
 * file right after the check (issue 13, item 3), and in copy mode a writer may be re-creating
 * the file under that name (item 6).
 */

import type { Readable } from 'node:stream'
import { errnoOf } from './errors.js'
import { copyFromDescriptor } from './fs.js'
import { NO_LINKS } from './publish.js'
import { closeQuietly, type ReadOutcome } from './read.js'
import { chmod, type FileStat, fstat, link, lstat, open, type Protocol, unlink, write } from './steps.js'

type Runner = <T>(protocol: Protocol<T>) => Promise<T>

/**
 * Writes the content of a found entry (read with depth `data` or `open`) to the new file `temp`.
 * `link` hard-links the content file when the new name proves to be the very file checked, and
 * copies from the descriptor otherwise; a compressed entry's `decoded` stream (its original
 * bytes, store.ts) is written out, never linked. False if what was written is not the entry's content
 * (the temp file may then remain, for the caller to remove): a miss after all. The caller still
 * owns and closes `outcome.fd`.
 */
export async function writeOutput(
  outcome: ReadOutcome & { found: true },
  temp: string,
  mode: 'copy' | 'link',
  run: Runner,
  decoded?: Readable,
): Promise<boolean> {
  if (outcome.data !== undefined) {
    await run(writeNewFile(temp, outcome.data))
    return true
  }
  if (decoded !== undefined) {
    // A compressed entry: its content file is not the output, so there is nothing to link.
    await writeStreamToNewFile(temp, decoded, run)
    await run(chmod(temp, 0o644))
    const written = await run(lstat(temp))
    return written.kind === 'file' && written.size === outcome.record.size
  }
  const fd = outcome.fd as number
  const size = outcome.record.size
  if (mode === 'link') {
    const checked = await run(fstat(fd))
    if (await run(linkChecked(outcome.contentPath as string, temp, checked))) return true
  }
  await copyFromDescriptor(fd, temp, size)
  await run(chmod(temp, 0o644))
  const copied = await run(lstat(temp))
  return copied.kind === 'file' && copied.size === size
}

async function writeStreamToNewFile(path: string, stream: Readable, run: Runner): Promise<void> {
  const fd = await run(open(path, 'create', 0o644))
  try {
    for await (const chunk of stream) await run(write(fd, chunk as Buffer))
  } finally {
    await run(closeQuietly(fd))
  }
}

function* writeNewFile(path: string, data: Uint8Array): Protocol<void> {
  const fd = yield* open(path, 'create', 0o644)
  try {
    yield* write(fd, data)
  } finally {
    yield* closeQuietly(fd)
  }
}

/**
 * Hard-links `contentPath` to `temp`, and keeps the link only if it names the file that was
 * checked (`checked`, from fstat of the open descriptor). link(2) does not follow a symlink, so a
 * symlink swapped in would become a symlink at `temp`, and a hard link swapped in would be another
 * inode: either is undone. False when the caller should copy from the descriptor instead: no
 * such file any more, no hard links here, or a link to something else.
 */
function* linkChecked(contentPath: string, temp: string, checked: FileStat): Protocol<boolean> {
  try {
    yield* link(contentPath, temp)
  } catch (error) {
    const code = errnoOf(error)
    if (code === 'ENOENT' || (code !== undefined && NO_LINKS.has(code))) return false
    throw error
  }
  const linked = yield* lstat(temp)
  if (linked.kind === 'file' && linked.ino === checked.ino && linked.size === checked.size) return true
  yield* unlink(temp)
  return false
}

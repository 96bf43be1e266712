import { isAbsolute, relative, sep } from 'node:path'

/** True if the absolute path `inner` is `outer` or lies under it. */
export function containsPath(outer: string, inner: string): boolean {
  const path = relative(outer, inner)
  return path === '' || (!path.startsWith(`..${sep}`) && path !== '..' && !isAbsolute(path))
}

import { isAbsolute, relative, sep } from 'node:path'

/** True if the absolute path `inner` is `outer` or lies under it. */
export function containsPath(outer: string, inner: string): boolean {
  // On POSIX, for normalized absolute paths (what resolve() returns), a prefix test says the
  // same as relative() at a fraction of its cost: `cairn run` asks it for every input file.
  if (sep === '/' && isAbsolute(outer) && isAbsolute(inner) && isNormal(outer) && isNormal(inner)) {
    if (inner === outer) return true
    return inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`)
  }
  const path = relative(outer, inner)
  return path === '' || (!path.startsWith(`..${sep}`) && path !== '..' && !isAbsolute(path))
}

/** No `.` or `..` segment, no `//`, no trailing `/` except for the root itself. */
const NOT_NORMAL = /\/\/|(^|\/)\.\.?(\/|$)|.\/$/

function isNormal(path: string): boolean {
  return !NOT_NORMAL.test(path)
}

/**
 * Nx's self-hosted remote cache API (`NX_SELF_HOSTED_REMOTE_CACHE_SERVER`): `GET` and `PUT
 * /v1/cache/<hash>`. A PUT of a hash that exists is a 409: the first writer wins, as in the store,
 * and Nx carries on after it.
 */

import type { RequestLine, Route } from './route.js'

const PREFIX = '/v1/cache/'
const HASH = /^[A-Za-z0-9._-]{1,128}$/

/** The route of an Nx request, or undefined when the path is not under /v1/cache/. */
export function nxRoute(line: RequestLine): Route | undefined {
  if (!line.path.startsWith(PREFIX)) return undefined
  const name = line.path.slice(PREFIX.length)
  if (!HASH.test(name)) {
    return {
      op: 'refuse',
      protocol: 'nx',
      status: 400,
      message: `${JSON.stringify(line.path)} is not a cache entry: expected ${PREFIX}<hash> with a hash of 1 to 128 letters, digits, '.', '_' or '-'.`,
    }
  }
  const target = { protocol: 'nx' as const, namespace: '', name }
  switch (line.method) {
    case 'GET':
      return { op: 'get', target }
    case 'HEAD':
      return { op: 'head', target }
    case 'PUT':
      return { op: 'put', target, existing: 'conflict', created: 202 }
    default:
      return {
        op: 'refuse',
        protocol: 'nx',
        status: 405,
        message: `${line.method} is not allowed on ${line.path}: use GET or PUT.`,
        allow: 'GET, HEAD, PUT',
      }
  }
}

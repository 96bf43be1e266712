/**
 * Bazel's HTTP cache protocol, which ccache (`layout=bazel`) and Cairn's remote tier also speak:
 * `GET`/`HEAD`/`PUT` of `[/<namespace>]/ac/<hex>` (action results, opaque bytes) and
 * `[/<namespace>]/cas/<hex>` (content named by its digest).
 */

import type { RequestLine, Route } from './route.js'

/**
 * Any prefix is a namespace, as bazel-remote allows (`--remote_cache=http://host/team-a`); the
 * name is lowercase hex of 16 to 128 characters: SHA-256 for Bazel and ccache, and Cairn's keys
 * and xxh128 digests (32) for its remote tier.
 */
const PATH = /^\/(?:(.+)\/)?(ac|cas)\/([^/]*)$/
const NAME = /^[a-f0-9]{16,128}$/

/** The route of a Bazel-protocol request, or undefined when the path is not one. */
export function bazelRoute(line: RequestLine): Route | undefined {
  const match = PATH.exec(line.path)
  if (!match) return undefined
  const [, namespace = '', kind = '', name = ''] = match
  if (!NAME.test(name)) {
    return {
      op: 'refuse',
      protocol: 'bazel',
      status: 400,
      message: `${JSON.stringify(line.path)} is not a cache name: expected ${kind}/ followed by 16 to 128 lowercase hex characters (a SHA-256 digest is 64).`,
    }
  }
  // ac/ and cas/ are two maps: the same hex names an action in one and content in the other.
  const target = { protocol: 'bazel' as const, namespace: `${namespace}\0${kind}`, name }
  switch (line.method) {
    case 'GET':
      return { op: 'get', target }
    case 'HEAD':
      return { op: 'head', target }
    case 'PUT':
      return {
        op: 'put',
        target,
        existing: 'success',
        created: 200,
        // Only a SHA-256-sized cas/ name can be checked; other sizes are Cairn's xxh128 digests,
        // which its own client checks on every download.
        ...(kind === 'cas' && name.length === 64 ? { sha256: name } : {}),
      }
    default:
      return {
        op: 'refuse',
        protocol: 'bazel',
        status: 405,
        message: `${line.method} is not allowed on ${kind}/: use GET, HEAD or PUT.`,
        allow: 'GET, HEAD, PUT',
      }
  }
}

/**
 * Turborepo's remote cache API (v8), as turbo 2.x calls it with `--api`:
 * `GET /v8/artifacts/status`, `GET`/`HEAD`/`PUT /v8/artifacts/<hash>`, `POST /v8/artifacts`
 * (which of these hashes exist) and `POST /v8/artifacts/events` (analytics, dropped). The team
 * (`teamId` or `slug` in the query) is the namespace.
 */

import type { RequestLine, Route } from './route.js'

const PREFIX = '/v8/artifacts'
const HASH = /^[A-Za-z0-9._-]{1,128}$/
/** Turbo's tag is a base64 HMAC signature; anything longer than this is not one. */
const TAG_MAX = 1024

/** The route of a Turborepo request, or undefined when the path is not under /v8/artifacts. */
export function turboRoute(line: RequestLine): Route | undefined {
  const { path, method } = line
  if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return undefined
  const namespace = line.query.get('teamId') ?? line.query.get('slug') ?? ''
  const rest = path.slice(PREFIX.length + 1)
  if (path === PREFIX || rest === '') {
    if (method === 'POST') return { op: 'query', protocol: 'turbo', namespace }
    return refuse(405, `${method} is not allowed on ${PREFIX}: use POST.`, 'POST')
  }
  if (rest === 'status') {
    if (method === 'GET')
      return { op: 'static', protocol: 'turbo', status: 200, body: { status: 'enabled' }, write: false }
    return refuse(405, `${method} is not allowed on ${path}: use GET.`, 'GET')
  }
  if (rest === 'events') {
    if (method === 'POST') return { op: 'static', protocol: 'turbo', status: 200, body: {}, write: false }
    return refuse(405, `${method} is not allowed on ${path}: use POST.`, 'POST')
  }
  if (!HASH.test(rest)) {
    return refuse(
      400,
      `${JSON.stringify(path)} is not an artifact: expected ${PREFIX}/<hash> with a hash of 1 to 128 letters, digits, '.', '_' or '-'.`,
    )
  }
  const target = { protocol: 'turbo' as const, namespace, name: rest }
  switch (method) {
    case 'GET':
      return { op: 'get', target }
    case 'HEAD':
      return { op: 'head', target }
    case 'PUT': {
      const metadata: Record<string, string | number> = {}
      const duration = Number(line.header('x-artifact-duration'))
      if (Number.isSafeInteger(duration) && duration >= 0) metadata.duration = duration
      const tag = line.header('x-artifact-tag')
      if (tag !== undefined && tag.length <= TAG_MAX) metadata.tag = tag
      return { op: 'put', target, existing: 'success', created: 200, metadata }
    }
    default:
      return refuse(405, `${method} is not allowed on ${path}: use GET, HEAD or PUT.`, 'GET, HEAD, PUT')
  }
}

/** Turbo's headers for an artifact with `metadata` (what its PUT sent). */
export function turboHeaders(metadata: unknown): Record<string, string> {
  const headers: Record<string, string> = {}
  const fields =
    typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {}
  // turbo reports time saved from this, and expects it on every hit: 0 when the PUT had none.
  headers['x-artifact-duration'] = String(typeof fields.duration === 'number' ? fields.duration : 0)
  if (typeof fields.tag === 'string') headers['x-artifact-tag'] = fields.tag
  return headers
}

/** One answer of the batch query, from an entry's size and metadata. */
export function turboQueryAnswer(
  size: number,
  metadata: unknown,
): { size: number; taskDurationMs: number; tag: string } {
  const fields =
    typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {}
  return {
    size,
    taskDurationMs: typeof fields.duration === 'number' ? fields.duration : 0,
    tag: typeof fields.tag === 'string' ? fields.tag : '',
  }
}

/** Reads the batch query's body: the hashes asked about, or an error message. */
export function parseTurboQuery(text: string): string[] | string {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return 'the body is not JSON: expected {"hashes": ["<hash>", ...]}.'
  }
  const hashes = (body as { hashes?: unknown } | null)?.hashes
  if (!Array.isArray(hashes) || !hashes.every((hash) => typeof hash === 'string' && HASH.test(hash))) {
    return "expected {\"hashes\": [\"<hash>\", ...]} with hashes of 1 to 128 letters, digits, '.', '_' or '-'."
  }
  return hashes as string[]
}

function refuse(status: number, message: string, allow?: string): Route {
  return { op: 'refuse', protocol: 'turbo', status, message, ...(allow === undefined ? {} : { allow }) }
}

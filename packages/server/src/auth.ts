/**
 * Who may do what: Bearer tokens (or HTTP Basic with the token as password, for clients that only
 * do Basic), each read-write or read-only. Tokens are kept as SHA-256 digests and looked up by the
 * digest of what a request presents, so the lookup's timing says nothing about a token's bytes.
 */

import { createHash } from 'node:crypto'
import { CairnError } from '@cairn/store'

/** How many Authorization headers a TokenSet remembers the standing of. */
const RECENT_MAX = 256

/** What a token allows: `rw` read and write, `ro` read only. */
export type Access = 'rw' | 'ro'

/** A request's standing: a token's access, no credentials, or credentials matching no token. */
export type Standing = Access | 'missing' | 'invalid'

/** One line of a token file. */
export interface TokenGrant {
  token: string
  access: Access
}

/** The tokens a server accepts; empty means anyone may read and write. */
export class TokenSet {
  readonly #digests: Map<string, Access>
  readonly #recent = new Map<string, Standing>()

  constructor(grants: readonly TokenGrant[] = []) {
    this.#digests = new Map()
    // A token given both ways keeps its read-write grant.
    for (const { token, access } of grants) {
      if (this.#digests.get(digestOf(token)) !== 'rw') this.#digests.set(digestOf(token), access)
    }
  }

  /** How many distinct tokens there are. */
  get size(): number {
    return this.#digests.size
  }

  /** The standing of a request with this `Authorization` header (`rw` for all when no tokens). */
  standing(authorization: string | undefined): Standing {
    if (this.#digests.size === 0) return 'rw'
    if (authorization === undefined) return 'missing'
    // Clients send the same header on every request: its standing is remembered (for the few
    // headers seen most recently) rather than hashed again each time.
    const known = this.#recent.get(authorization)
    if (known !== undefined) return known
    const token = credentialOf(authorization)
    const standing = token === undefined ? 'missing' : (this.#digests.get(digestOf(token)) ?? 'invalid')
    if (this.#recent.size >= RECENT_MAX) this.#recent.clear()
    this.#recent.set(authorization, standing)
    return standing
  }
}

/**
 * The token in an `Authorization` header: `Bearer <token>`, or `Basic base64(user:token)` (the
 * user is ignored). Undefined when there is none.
 */
export function credentialOf(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const space = authorization.indexOf(' ')
  if (space < 0) return undefined
  const scheme = authorization.slice(0, space).toLowerCase()
  const value = authorization.slice(space + 1).trim()
  if (value === '') return undefined
  if (scheme === 'bearer') return value
  if (scheme !== 'basic') return undefined
  const decoded = Buffer.from(value, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  const password = colon < 0 ? decoded : decoded.slice(colon + 1)
  return password === '' ? undefined : password
}

/**
 * Reads a token file's text: one grant a line as `rw TOKEN` or `ro TOKEN`; blank lines and lines
 * starting with `#` are skipped.
 *
 * @throws {CairnError} ERR_CAIRN_INVALID_OPTION naming the line that is neither.
 */
export function parseTokenFile(text: string, path: string): TokenGrant[] {
  const grants: TokenGrant[] = []
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const match = /^(rw|ro)\s+(\S+)$/.exec(line)
    if (!match) {
      throw new CairnError(
        'ERR_CAIRN_INVALID_OPTION',
        `${path} line ${index + 1} is not a token: expected "rw TOKEN" or "ro TOKEN" (or a # comment).`,
        { path },
      )
    }
    grants.push({ access: match[1] as Access, token: match[2] as string })
  }
  return grants
}

function digestOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

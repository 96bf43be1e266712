import { CairnError } from '@cairn/store'

/** An HTTP field name (RFC 9110 `token`). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** Whether `value` has a control character other than tab, which could smuggle in another header. */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true
  }
  return false
}

/**
 * Headers that describe the request's own bytes or connection; undici sets them, and a user's
 * value would corrupt the exchange (a wrong Content-Length truncates an upload).
 */
const RESERVED = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
])

/**
 * Parses remote cache headers as `CAIRN_REMOTE_HEADERS` and `--remote-header` give them:
 * `Name: value` pairs, one per line (`\n` or `\r\n`; blank lines are skipped). Pass several
 * texts (the environment variable, then each flag) and a later pair replaces an earlier one of
 * the same name, compared case-insensitively. Names come back lowercased; values trimmed.
 *
 * @example parseRemoteHeaders('Authorization: Bearer xyz') // { authorization: 'Bearer xyz' }
 * @throws {CairnError} ERR_CAIRN_INVALID_OPTION for a line without a colon, a bad name, a value
 *   with control characters, or a reserved name (Host, Content-Length, Transfer-Encoding,
 *   Connection, Keep-Alive, Upgrade). The message names the header by its position and name,
 *   never by its value: the value may be a credential.
 */
export function parseRemoteHeaders(texts: string | readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  let position = 0
  for (const text of typeof texts === 'string' ? [texts] : texts) {
    if (typeof text !== 'string') {
      throw invalidHeader(`Remote headers must be text, got ${typeof text}.`)
    }
    for (const line of text.split(/\r?\n/)) {
      if (line.trim() === '') continue
      position += 1
      const colon = line.indexOf(':')
      if (colon < 0) {
        throw invalidHeader(
          `Remote header ${position} is not in the form "Name: value" (it has no colon). Its text is not shown, since it may hold a credential.`,
        )
      }
      const [name, value] = [line.slice(0, colon).trim(), line.slice(colon + 1).trim()]
      checkHeader(name, value, `Remote header ${position}`)
      headers[name.toLowerCase()] = value
    }
  }
  return headers
}

/**
 * Checks one header given as an object property (`remote.headers`), as parseRemoteHeaders
 * checks a parsed line. `where` names it in the message.
 */
export function checkHeader(name: string, value: unknown, where: string): asserts value is string {
  if (!HEADER_NAME.test(name)) {
    throw invalidHeader(
      `${where} has an invalid name ${JSON.stringify(name.slice(0, 60))}: a header name is letters, digits and !#$%&'*+.^_\`|~-.`,
    )
  }
  if (RESERVED.has(name.toLowerCase())) {
    throw invalidHeader(`${where} sets ${name}, which Cairn's HTTP client manages itself; remove it.`)
  }
  if (typeof value !== 'string') {
    throw invalidHeader(`${where} (${name}) must have a string value, got ${typeof value}.`)
  }
  if (hasControlCharacter(value)) {
    throw invalidHeader(
      `${where} (${name}) has a control character (such as a line break) in its value; the value is not shown, since it may hold a credential.`,
    )
  }
}

function invalidHeader(message: string): CairnError {
  return new CairnError('ERR_CAIRN_INVALID_OPTION', message)
}

/**
 * Keeps credentials out of everything Cairn prints. A remote cache URL may carry a user and
 * password (`https://ci:s3cret@cache.example.com`), and its headers an `Authorization` token;
 * warnings and errors quote URLs and the messages of network errors, so every such text passes
 * through a Redactor first.
 */

/** What replaces a secret in printed text. */
export const REDACTED = '[redacted]'

/**
 * Secrets shorter than this are not searched for in free text: scrubbing every `1` or `ci`
 * from a message would make it unreadable, and messages never quote header values anyway.
 * URLs are redacted structurally (userinfo removed) whatever the length.
 */
const MIN_SCRUBBED_LENGTH = 4

export class Redactor {
  readonly #secrets: string[]

  /** @param secrets header values and URL credentials; each whole value and each word of it. */
  constructor(secrets: Iterable<string>) {
    const found = new Set<string>()
    for (const secret of secrets) {
      for (const part of [secret, ...secret.split(/\s+/)]) {
        if (part.length >= MIN_SCRUBBED_LENGTH) found.add(part)
      }
    }
    // Longest first, so "Bearer abcd1234" goes as a whole before its word "abcd1234".
    this.#secrets = [...found].sort((a, b) => b.length - a.length)
  }

  /** `text` with every secret and every URL's userinfo replaced by [redacted]. */
  redact(text: string): string {
    let out = redactUserinfo(text)
    for (const secret of this.#secrets) out = out.split(secret).join(REDACTED)
    return out
  }
}

/**
 * `text` with the userinfo of every URL in it replaced: `https://u:p@host/x` becomes
 * `https://[redacted]@host/x`. Works on free text too (an error message quoting a URL).
 */
export function redactUserinfo(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s@]*@/gi, `$1${REDACTED}@`)
}

import type { Redactor } from './redact.js'

/**
 * Prints remote warnings, one line each, at most once per kind: a build with a thousand
 * lookups against a broken cache should say what is wrong once, not a thousand times. Every
 * line is redacted (credentials never reach a log) and prefixed `cairn: remote: `.
 */
export class Warnings {
  readonly #log: (line: string) => void
  readonly #redactor: Redactor
  readonly #said = new Set<string>()

  constructor(log: (line: string) => void, redactor: Redactor) {
    this.#log = log
    this.#redactor = redactor
  }

  /** Prints `text` unless a warning of `kind` was printed before. */
  once(kind: string, text: string): void {
    if (this.#said.has(kind)) return
    this.#said.add(kind)
    try {
      this.#log(`cairn: remote: ${this.#redactor.redact(text)}`)
    } catch {
      // A failing logger must not turn a cache miss into a build failure.
    }
  }
}

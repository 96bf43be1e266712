/** A word and where it starts in the text. */
export interface Token {
  word: string
  offset: number
}

const WORD = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu

/** Splits text into words: letters and digits, with inner apostrophes and hyphens kept. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  for (const match of text.matchAll(WORD)) {
    tokens.push({ word: match[0].toLowerCase(), offset: match.index ?? 0 })
  }
  return tokens
}

/** Splits text into sentences at `.`, `!` or `?` followed by white space or the end. */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+/u)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0)
}

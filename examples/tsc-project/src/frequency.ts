import type { Token } from './tokenize.js'

/** How often a word occurs. */
export interface WordCount {
  word: string
  count: number
}

/** Words that say little about a text, left out of its top words. */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  'a an and are as at be but by for from has have in is it its of on or that the this to was were will with'.split(
    ' ',
  ),
)

/** The `limit` most frequent words, most frequent first; ties in alphabetical order. */
export function topWords(tokens: readonly Token[], limit = 10): WordCount[] {
  const counts = new Map<string, number>()
  for (const { word } of tokens) {
    if (!STOP_WORDS.has(word)) counts.set(word, (counts.get(word) ?? 0) + 1)
  }
  return [...counts]
    .map(([word, count]) => ({ word, count }))
    .sort((a, b) => b.count - a.count || (a.word < b.word ? -1 : 1))
    .slice(0, limit)
}

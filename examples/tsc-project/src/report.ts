import { topWords, type WordCount } from './frequency.js'
import { type Readability, readability } from './readability.js'
import { sentences, tokenize } from './tokenize.js'

/** Everything wordstats says about a text. */
export interface Report {
  words: number
  sentences: number
  distinctWords: number
  readability: Readability
  topWords: WordCount[]
}

/** Analyses a text. */
export function analyse(text: string, top = 5): Report {
  const tokens = tokenize(text)
  return {
    words: tokens.length,
    sentences: sentences(text).length,
    distinctWords: new Set(tokens.map((token) => token.word)).size,
    readability: readability(text),
    topWords: topWords(tokens, top),
  }
}

/** A report as a few lines of text. */
export function formatReport(report: Report): string {
  const words = report.topWords.map(({ word, count }) => `${word} (${count})`).join(', ')
  return [
    `${report.words} words in ${report.sentences} sentences, ${report.distinctWords} distinct`,
    `readability ${report.readability.score} (${report.readability.grade})`,
    `top words: ${words || '-'}`,
  ].join('\n')
}

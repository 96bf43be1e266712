import { syllables } from './syllables.js'
import { sentences, tokenize } from './tokenize.js'

/** Readability of a text by the Flesch reading-ease formula. */
export interface Readability {
  /** 0 (very hard) to about 100 (very easy). */
  score: number
  grade:
    | 'very easy'
    | 'easy'
    | 'fairly easy'
    | 'standard'
    | 'fairly difficult'
    | 'difficult'
    | 'very difficult'
  wordsPerSentence: number
  syllablesPerWord: number
}

/** The Flesch reading-ease score of `text`; an empty text scores 100. */
export function readability(text: string): Readability {
  const words = tokenize(text)
  const sentenceCount = Math.max(1, sentences(text).length)
  const wordCount = Math.max(1, words.length)
  const syllableCount = words.reduce((sum, token) => sum + syllables(token.word), 0)
  const wordsPerSentence = words.length / sentenceCount
  const syllablesPerWord = words.length === 0 ? 0 : syllableCount / wordCount
  const score = words.length === 0 ? 100 : 206.835 - 1.015 * wordsPerSentence - 84.6 * syllablesPerWord
  return {
    score: round(score),
    grade: gradeOf(score),
    wordsPerSentence: round(wordsPerSentence),
    syllablesPerWord: round(syllablesPerWord),
  }
}

function gradeOf(score: number): Readability['grade'] {
  if (score >= 90) return 'very easy'
  if (score >= 80) return 'easy'
  if (score >= 70) return 'fairly easy'
  if (score >= 60) return 'standard'
  if (score >= 50) return 'fairly difficult'
  if (score >= 30) return 'difficult'
  return 'very difficult'
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}

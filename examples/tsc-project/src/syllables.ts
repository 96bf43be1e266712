const VOWEL_GROUPS = /[aeiouy]+/g

/**
 * An estimate of the syllables in an English word: groups of vowels, less a silent final `e`.
 * Good enough for readability scores, which average over many words.
 */
export function syllables(word: string): number {
  const lower = word.toLowerCase()
  let count = lower.match(VOWEL_GROUPS)?.length ?? 0
  if (lower.length > 2 && lower.endsWith('e') && !lower.endsWith('le')) count -= 1
  return Math.max(1, count)
}

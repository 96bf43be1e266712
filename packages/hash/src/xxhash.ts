/**
 * The 128-bit xxh128 digest Cairn uses by default, built from xxhash-wasm's XXH64.
 *
 * The WASM module is instantiated once per process (about a millisecond) and shared by every
 * hasher. 64 bits alone are not enough for a cache: with millions of entries a collision
 * becomes plausible, and a collision serves one step's output for another. Two XXH64 passes
 * with independent seeds give 128 bits at about half the speed of one pass, which is still
 * several GB/s, far above what the disk delivers.
 */

import xxhash from 'xxhash-wasm'

/** Seeds of the two halves. They are part of the format (docs/FORMAT.md): never change them. */
export const XXH128_SEEDS = [0n, 0x9e37_79b9_7f4a_7c15n] as const

type XxhashApi = Awaited<ReturnType<typeof xxhash>>

let loading: Promise<XxhashApi> | undefined

/** Loads xxhash-wasm once; later calls return the same instance. */
export function loadXxhash(): Promise<XxhashApi> {
  loading ??= xxhash()
  return loading
}

/** Lowercase hex of two 64-bit halves: always 32 characters. */
export function hex128(high: bigint, low: bigint): string {
  return high.toString(16).padStart(16, '0') + low.toString(16).padStart(16, '0')
}

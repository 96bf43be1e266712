// JSON has no bigint, Uint8Array, NaN, infinities, -0 or undefined, so golden vectors write
// those as one-property objects: {"$bigint": "-12"}, {"$bytes": "00ff"}, {"$number": "NaN"},
// {"$undefined": true}. Plain JSON values stand for themselves.

import type { KeyValue } from '@cairn/hash'

export type VectorJson = null | boolean | number | string | VectorJson[] | { [name: string]: VectorJson }

export function toVectorJson(value: KeyValue | undefined): VectorJson {
  if (value === undefined) return { $undefined: true }
  if (typeof value === 'bigint') return { $bigint: value.toString() }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('hex') }
  if (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))) {
    return { $number: Object.is(value, -0) ? '-0' : String(value) }
  }
  if (Array.isArray(value)) return value.map(toVectorJson)
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, VectorJson> = {}
    for (const [name, inner] of Object.entries(value)) out[name] = toVectorJson(inner)
    return out
  }
  return value
}

export function fromVectorJson(json: VectorJson): KeyValue {
  if (Array.isArray(json)) return json.map(fromVectorJson)
  if (typeof json !== 'object' || json === null) return json
  const names = Object.keys(json)
  const only = names.length === 1 ? names[0] : undefined
  if (only === '$bigint') return BigInt(json.$bigint as string)
  if (only === '$bytes') return Uint8Array.from(Buffer.from(json.$bytes as string, 'hex'))
  if (only === '$number') return json.$number === '-0' ? -0 : Number(json.$number)
  const out: Record<string, KeyValue | undefined> = {}
  for (const name of names) {
    const inner = json[name] as VectorJson
    const isUndefined = typeof inner === 'object' && inner !== null && '$undefined' in inner
    out[name] = isUndefined ? undefined : fromVectorJson(inner)
  }
  return out
}

import { invalidInput } from './errors.js'
import type { JsonValue } from './types.js'

const textEncoder = new TextEncoder()

export function utf8Length(text: string): number {
  return textEncoder.encode(text).length
}

/**
 * Checks that `value` survives a JSON round trip unchanged and returns it without undefined object
 * properties. Rejects what JSON would silently alter or drop: undefined (outside object properties),
 * functions, symbols, BigInt, cycles, non-finite numbers and non-plain objects (Date, Map, class instances).
 */
export function assertJson(value: unknown, what: string): JsonValue {
  return check(value, what, new Set())
}

function check(value: unknown, path: string, ancestors: Set<object>): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value)) throw invalidInput(`${path} is ${value}; JSON has no non-finite numbers: store null or a string instead`)
      return value
    case 'undefined':
      throw invalidInput(`${path} is undefined; JSON cannot represent it: use null or leave the property out`)
    case 'bigint':
      throw invalidInput(`${path} is a BigInt; JSON cannot represent it: convert it to a string or number first`)
    case 'function':
    case 'symbol':
      throw invalidInput(`${path} is a ${typeof value}; only JSON values can be stored`)
  }
  if (value === null) return null
  const object = value as object
  if (ancestors.has(object)) throw invalidInput(`${path} refers back to itself (a cycle); JSON cannot represent cycles`)
  ancestors.add(object)
  try {
    if (Array.isArray(object)) {
      const out: JsonValue[] = new Array(object.length)
      for (let i = 0; i < object.length; i++) out[i] = check(object[i], `${path}[${i}]`, ancestors)
      return out
    }
    const proto = Object.getPrototypeOf(object)
    if (proto !== Object.prototype && proto !== null) {
      const kind = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object'
      const hint = object instanceof Date ? ': store date.toISOString() instead' : ': convert it to a plain object or array first'
      throw invalidInput(`${path} is a ${kind}, not a plain object${hint}`)
    }
    const out: { [key: string]: JsonValue } = {}
    for (const key of Object.keys(object)) {
      const item = (object as Record<string, unknown>)[key]
      if (item === undefined) continue
      // defineProperty keeps an own "__proto__" key (from JSON.parse) as data instead of a prototype.
      Object.defineProperty(out, key, { value: check(item, `${path}.${key}`, ancestors), enumerable: true, writable: true, configurable: true })
    }
    return out
  } finally {
    ancestors.delete(object)
  }
}

/**
 * The canonical JSON text the content hash is computed over: object keys sorted by JavaScript's
 * default sort (UTF-16 code units), no whitespace, strings and numbers as JSON.stringify writes them.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const keys = Object.keys(value).sort()
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`).join(',')}}`
}

import type { FilterCondition } from '../core/filter.js'
import { canonicalJson } from '../core/json.js'
import type { JsonValue } from '../core/types.js'
import type { FsFilter } from './client.js'
import { MAX_METADATA_DEPTH } from './model.js'
import { fieldPath, isValidFieldName, isWellFormed, nullValue, numberValue, stringValue, utf8Bytes, type FsValue } from './values.js'

/**
 * Metadata filters for Firestore, in two parts. `matches` decides every condition in the SDK with
 * exactly the SQL backends' semantics (src/sql/filter.ts): type-strict equality, `$ne`/`$nin` also
 * matching a missing key, ranges only within one type, strings in UTF-8 byte order. `pushdown`
 * picks the conditions Firestore can evaluate identically on the `metadata` map (equality and `$in`
 * on scalars, reached through objects) so fewer documents travel; everything else (`$ne`, `$nin`,
 * `$exists`, ranges, objects, arrays) only runs in the SDK, still before the limit.
 */

type Found = { found: false } | { found: true; value: JsonValue }

/** The value at a path through objects only (as SQLite's `$."a"."b"` path does). */
function at(metadata: JsonValue, path: readonly string[]): Found {
  let current: JsonValue = metadata
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current) || !Object.hasOwn(current, segment)) return { found: false }
    current = current[segment] as JsonValue
  }
  return { found: true, value: current }
}

/** Code point order, which is UTF-8 byte order: how SQLite (BINARY) and Firestore compare strings. */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // A surrogate (an astral code point) sorts after every BMP unit, U+E000-U+FFFF included.
    const xs = x >= 0xd800 && x <= 0xdfff
    const ys = y >= 0xd800 && y <= 0xdfff
    if (xs !== ys) return xs ? 1 : -1
    return x - y
  }
  return a.length - b.length
}

function equals(found: Found, value: JsonValue): boolean {
  if (!found.found) return false
  const actual = found.value
  if (value === null || typeof value !== 'object') return actual === value
  return actual !== null && typeof actual === 'object' && canonicalJson(actual) === canonicalJson(value)
}

function holds(metadata: JsonValue, condition: FilterCondition): boolean {
  const found = at(metadata, condition.path)
  switch (condition.op) {
    case '$eq':
      return equals(found, condition.value)
    case '$ne':
      return !equals(found, condition.value)
    case '$in':
      return condition.values.some((value) => equals(found, value))
    case '$nin':
      return !condition.values.some((value) => equals(found, value))
    case '$exists':
      return found.found === condition.exists
    default: {
      if (!found.found || typeof found.value !== typeof condition.value) return false
      const order = typeof condition.value === 'number' ? (found.value as number) - condition.value : compareCodePoints(found.value as string, condition.value)
      if (condition.op === '$gt') return order > 0
      if (condition.op === '$gte') return order >= 0
      if (condition.op === '$lt') return order < 0
      return order <= 0
    }
  }
}

export function matches(metadata: JsonValue, conditions: readonly FilterCondition[]): boolean {
  return conditions.every((condition) => holds(metadata, condition))
}

/** A scalar Firestore compares exactly as the SQL backends do. */
function pushableScalar(value: JsonValue): FsValue | null {
  if (value === null) return nullValue()
  if (typeof value === 'boolean') return { booleanValue: value }
  if (typeof value === 'number') return numberValue(value)
  // Firestore indexes the first 1500 bytes of a string; longer ones are left to the SDK.
  if (typeof value === 'string' && isWellFormed(value) && utf8Bytes(value) <= 1400) return stringValue(value)
  return null
}

function pushablePath(path: readonly string[]): string | null {
  if (path.length > MAX_METADATA_DEPTH || !path.every(isValidFieldName)) return null
  const text = fieldPath(['metadata', ...path])
  return utf8Bytes(text) <= 1400 ? text : null
}

/** Disjunctions Firestore allows in one query: values of an `array-contains-any`, times those of each `in`. */
export const ANY_OF_LIMIT = 30

/** `terms` in runs of at most ANY_OF_LIMIT, one query each. */
export function anyOfChunks(terms: readonly string[]): string[][] {
  const chunks: string[][] = []
  for (let i = 0; i < terms.length; i += ANY_OF_LIMIT) chunks.push(terms.slice(i, i + ANY_OF_LIMIT))
  return chunks
}

/**
 * The conditions Firestore can apply. `disjunctions` is the number of values an
 * `array-contains-any` in the same query has: Firestore allows at most 30 disjunctions per query
 * (the product of every `in` and `array-contains-any` size), so `$in` is only pushed within that.
 */
export function pushdown(conditions: readonly FilterCondition[], disjunctions = 1): FsFilter[] {
  const filters: FsFilter[] = []
  let product = Math.max(1, disjunctions)
  for (const condition of conditions) {
    const path = pushablePath(condition.path)
    if (path === null) continue
    if (condition.op === '$eq') {
      const value = pushableScalar(condition.value)
      if (value === null) continue
      filters.push('nullValue' in value ? { unaryFilter: { field: { fieldPath: path }, op: 'IS_NULL' } } : { fieldFilter: { field: { fieldPath: path }, op: 'EQUAL', value } })
    } else if (condition.op === '$in') {
      // A list holding null stays in the SDK: equality to null is IS_NULL in Firestore, not a value.
      const values = condition.values.map((v) => (v === null ? null : pushableScalar(v)))
      if (values.length === 0 || values.some((v) => v === null)) continue
      const unique = [...new Map((values as FsValue[]).map((v) => [JSON.stringify(v), v])).values()]
      if (product * unique.length > ANY_OF_LIMIT) continue
      product *= unique.length
      filters.push({ fieldFilter: { field: { fieldPath: path }, op: 'IN', value: { arrayValue: { values: unique } } } })
    }
  }
  return filters
}

import type { FilterCondition } from '../core/filter.js'
import { canonicalJson } from '../core/json.js'
import type { JsonValue } from '../core/types.js'
import { assertStorableJson, assertStorableText, param } from './statements.js'

/**
 * Compiles validated metadata conditions to one predicate over `<alias>.metadata` (jsonb), every
 * value a parameter, with the SQLite core's semantics: equality is type-strict (1 is not '1' nor
 * true) and compares objects regardless of key order, $ne and $nin also match a missing key,
 * comparisons only compare a number with numbers and a string with strings (byte-wise, as SQLite's
 * BINARY collation). Equality is also written as containment (`metadata @> {path: value}`), which
 * the GIN jsonb_path_ops index can answer; the exact comparison then settles it.
 */
export function compileFilter(conditions: FilterCondition[], alias: string, values: unknown[]): string {
  if (conditions.length === 0) return 'TRUE'
  return conditions.map((condition) => `(${compileCondition(condition, `${alias}.metadata`, values)})`).join(' AND ')
}

/**
 * The jsonb at a path, SQL NULL when it is missing. Each step is `-> text`, which never indexes
 * into an array ('0' on an array is missing), as SQLite's quoted path labels.
 */
function valueAt(column: string, path: string[], values: unknown[]): string {
  for (const segment of path) assertStorableText(segment, 'a metadataFilter key')
  return `(${path.reduce((expression, segment) => `${expression} -> ${param(values, segment, 'text')}`, column)})`
}

function compileCondition(condition: FilterCondition, column: string, values: unknown[]): string {
  switch (condition.op) {
    case '$eq':
      return equals(column, condition.path, condition.value, values)
    case '$ne':
      return `NOT ${equals(column, condition.path, condition.value, values)}`
    case '$in':
    case '$nin': {
      const any = condition.values.length === 0 ? 'FALSE' : condition.values.map((value) => equals(column, condition.path, value, values)).join(' OR ')
      return condition.op === '$in' ? `(${any})` : `NOT (${any})`
    }
    case '$exists':
      return `${valueAt(column, condition.path, values)} IS ${condition.exists ? 'NOT ' : ''}NULL`
    default: {
      const operator = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[condition.op]
      const at = valueAt(column, condition.path, values)
      if (typeof condition.value === 'number') {
        return `COALESCE(CASE WHEN jsonb_typeof(${at}) = 'number' THEN ${at}::numeric ${operator} ${param(values, condition.value, 'numeric')} END, FALSE)`
      }
      assertStorableText(condition.value, 'a metadataFilter string')
      return `COALESCE(CASE WHEN jsonb_typeof(${at}) = 'string' THEN (${at} #>> '{}') COLLATE "C" ${operator} ${param(values, condition.value, 'text')} END, FALSE)`
    }
  }
}

/** Always TRUE or FALSE, never NULL, so NOT of it is meaningful for missing keys too. */
function equals(column: string, path: string[], value: JsonValue, values: unknown[]): string {
  const json = canonicalJson(value)
  assertStorableJson(json, 'a metadataFilter value')
  const contained = path.reduceRight((inner, segment) => `{${JSON.stringify(segment)}:${inner}}`, json)
  return `(${column} @> ${param(values, contained, 'jsonb')} AND COALESCE(${valueAt(column, path, values)} = ${param(values, json, 'jsonb')}, FALSE))`
}

import { canonicalJson } from '../core/json.js'
import type { FilterCondition } from '../core/filter.js'
import type { JsonValue } from '../core/types.js'
import type { SqlValue } from '../engines/types.js'

/**
 * Compiles validated metadata conditions to one SQL predicate over `<alias>.metadata`, every value
 * a bound parameter. Equality is type-strict (1 is not '1' nor true), as JSON is.
 */
export function compileFilter(conditions: FilterCondition[], alias: string, args: SqlValue[]): string {
  if (conditions.length === 0) return '1'
  return conditions.map((condition) => `(${compileCondition(condition, `${alias}.metadata`, args)})`).join(' AND ')
}

/** SQLite reads a quoted path label with JSON string escapes, so any key (quotes, backslashes) is safe. */
function jsonPath(path: string[]): string {
  return '$' + path.map((segment) => `.${JSON.stringify(segment)}`).join('')
}

function compileCondition(condition: FilterCondition, column: string, args: SqlValue[]): string {
  const path = jsonPath(condition.path)
  switch (condition.op) {
    case '$eq':
      return equals(column, path, condition.value, args)
    case '$ne':
      return `NOT ${equals(column, path, condition.value, args)}`
    case '$in':
    case '$nin': {
      const any = condition.values.length === 0 ? '0' : condition.values.map((value) => equals(column, path, value, args)).join(' OR ')
      return condition.op === '$in' ? `(${any})` : `NOT (${any})`
    }
    case '$exists':
      args.push(path)
      return `json_type(${column}, ?) IS ${condition.exists ? 'NOT ' : ''}NULL`
    default: {
      const operator = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[condition.op]
      const types = typeof condition.value === 'number' ? `IN ('integer', 'real')` : `= 'text'`
      args.push(path, path, condition.value)
      return `COALESCE(json_type(${column}, ?) ${types} AND json_extract(${column}, ?) ${operator} ?, 0)`
    }
  }
}

/** Always 0 or 1, never NULL, so NOT of it is meaningful for missing keys too. */
function equals(column: string, path: string, value: JsonValue, args: SqlValue[]): string {
  if (value === null) {
    args.push(path)
    return `COALESCE(json_type(${column}, ?) = 'null', 0)`
  }
  if (typeof value === 'boolean') {
    args.push(path)
    return `COALESCE(json_type(${column}, ?) = '${value ? 'true' : 'false'}', 0)`
  }
  const types = typeof value === 'number' ? `IN ('integer', 'real')` : typeof value === 'string' ? `= 'text'` : `IN ('array', 'object')`
  args.push(path, path, typeof value === 'object' ? canonicalJson(value) : value)
  return `COALESCE(json_type(${column}, ?) ${types} AND json_extract(${column}, ?) = ?, 0)`
}

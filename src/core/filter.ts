import { invalidInput } from './errors.js'
import { assertJson } from './json.js'
import type { JsonValue, MetadataFilter } from './types.js'

export type ComparisonOperator = '$gt' | '$gte' | '$lt' | '$lte'

/** A metadata filter after validation: conditions AND-ed, each on one metadata path. */
export type FilterCondition =
  | { path: string[]; op: '$eq' | '$ne'; value: JsonValue }
  | { path: string[]; op: '$in' | '$nin'; values: JsonValue[] }
  | { path: string[]; op: ComparisonOperator; value: number | string }
  | { path: string[]; op: '$exists'; exists: boolean }

const OPERATORS = new Set(['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists'])

/**
 * Validates a metadata filter. Keys are top-level metadata keys or dotted paths; a value is either
 * a JSON value (equality) or an object of operators. Anything else is `invalid_input`.
 */
export function parseFilter(filter: unknown): FilterCondition[] {
  if (filter === undefined || filter === null) return []
  if (typeof filter !== 'object' || Array.isArray(filter)) {
    throw invalidInput('metadataFilter must be an object like { topic: "coffee" } or { priority: { $gte: 2 } }')
  }
  const checked = assertJson(filter, 'metadataFilter') as MetadataFilter
  const conditions: FilterCondition[] = []
  for (const [key, spec] of Object.entries(checked)) {
    const path = key.split('.')
    if (path.some((segment) => segment === '')) throw invalidInput(`metadataFilter key "${key}" has an empty path segment`)
    if (isOperatorObject(spec)) {
      for (const [op, operand] of Object.entries(spec)) conditions.push(operatorCondition(key, path, op, operand as JsonValue))
    } else {
      conditions.push({ path, op: '$eq', value: spec as JsonValue })
    }
  }
  return conditions
}

function isOperatorObject(spec: unknown): spec is Record<string, unknown> {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return false
  const keys = Object.keys(spec)
  return keys.length > 0 && keys.some((k) => k.startsWith('$'))
}

function operatorCondition(key: string, path: string[], op: string, operand: JsonValue): FilterCondition {
  if (!OPERATORS.has(op)) {
    throw invalidInput(`metadataFilter "${key}" uses unknown operator ${op}; supported: ${[...OPERATORS].join(', ')}`)
  }
  switch (op) {
    case '$eq':
    case '$ne':
      return { path, op, value: operand }
    case '$in':
    case '$nin':
      if (!Array.isArray(operand)) throw invalidInput(`metadataFilter "${key}": ${op} needs an array of values`)
      return { path, op, values: operand }
    case '$exists':
      if (typeof operand !== 'boolean') throw invalidInput(`metadataFilter "${key}": $exists needs true or false`)
      return { path, op, exists: operand }
    default:
      if (typeof operand !== 'number' && typeof operand !== 'string') {
        throw invalidInput(`metadataFilter "${key}": ${op} compares numbers or strings, got ${operand === null ? 'null' : typeof operand}`)
      }
      return { path, op: op as ComparisonOperator, value: operand }
  }
}

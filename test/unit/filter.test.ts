import { describe, expect, it } from 'vitest'
import { LtmFailure } from '../../src/core/errors.js'
import { parseFilter } from '../../src/core/filter.js'

function invalid(filter: unknown): string {
  let thrown: unknown
  try {
    parseFilter(filter)
  } catch (error) {
    thrown = error
  }
  expect(thrown, `parseFilter(${JSON.stringify(filter)}) should throw`).toBeInstanceOf(LtmFailure)
  expect((thrown as LtmFailure).errorType).toBe('invalid_input')
  return (thrown as LtmFailure).message
}

describe('parseFilter: valid filters', () => {
  it('no filter is no conditions', () => {
    expect(parseFilter(undefined)).toEqual([])
    expect(parseFilter(null)).toEqual([])
    expect(parseFilter({})).toEqual([])
  })

  it('a bare value is equality', () => {
    expect(parseFilter({ topic: 'coffee' })).toEqual([{ path: ['topic'], op: '$eq', value: 'coffee' }])
    expect(parseFilter({ n: 1, b: false, z: null })).toEqual([
      { path: ['n'], op: '$eq', value: 1 },
      { path: ['b'], op: '$eq', value: false },
      { path: ['z'], op: '$eq', value: null },
    ])
  })

  it('arrays and objects without operators are equality on the whole value', () => {
    expect(parseFilter({ tags: ['a', 'b'] })).toEqual([{ path: ['tags'], op: '$eq', value: ['a', 'b'] }])
    expect(parseFilter({ user: { id: 1, name: 'ann' } })).toEqual([{ path: ['user'], op: '$eq', value: { id: 1, name: 'ann' } }])
    expect(parseFilter({ o: {} })).toEqual([{ path: ['o'], op: '$eq', value: {} }])
  })

  it('dotted keys are paths', () => {
    expect(parseFilter({ 'user.id': 7 })).toEqual([{ path: ['user', 'id'], op: '$eq', value: 7 }])
    expect(parseFilter({ 'a.b.c': { $exists: true } })).toEqual([{ path: ['a', 'b', 'c'], op: '$exists', exists: true }])
  })

  it('every operator', () => {
    expect(
      parseFilter({
        a: { $eq: 1 },
        b: { $ne: 'x' },
        c: { $in: [1, 'one', null] },
        d: { $nin: [] },
        e: { $gt: 1, $gte: 2, $lt: 'm', $lte: '2025-01-01' },
        f: { $exists: false },
      }),
    ).toEqual([
      { path: ['a'], op: '$eq', value: 1 },
      { path: ['b'], op: '$ne', value: 'x' },
      { path: ['c'], op: '$in', values: [1, 'one', null] },
      { path: ['d'], op: '$nin', values: [] },
      { path: ['e'], op: '$gt', value: 1 },
      { path: ['e'], op: '$gte', value: 2 },
      { path: ['e'], op: '$lt', value: 'm' },
      { path: ['e'], op: '$lte', value: '2025-01-01' },
      { path: ['f'], op: '$exists', exists: false },
    ])
  })

  it('$eq and $ne take any JSON value, including objects with $ keys', () => {
    expect(parseFilter({ m: { $eq: { $x: 1 } } })).toEqual([{ path: ['m'], op: '$eq', value: { $x: 1 } }])
    expect(parseFilter({ m: { $ne: [1, { a: null }] } })).toEqual([{ path: ['m'], op: '$ne', value: [1, { a: null }] }])
  })

  it('drops undefined entries like JSON does', () => {
    expect(parseFilter({ a: undefined, b: 1 })).toEqual([{ path: ['b'], op: '$eq', value: 1 }])
  })
})

describe('parseFilter: invalid filters are invalid_input', () => {
  it('non-objects', () => {
    for (const filter of ['x', 5, true, [1], []]) {
      expect(invalid(filter)).toContain('metadataFilter must be an object')
    }
  })

  it('unknown operators, naming key and operator', () => {
    const message = invalid({ a: { $foo: 1 } })
    expect(message).toContain('"a"')
    expect(message).toContain('$foo')
    expect(message).toContain('$exists')
    expect(invalid({ a: { $regex: 'x' } })).toContain('$regex')
    expect(invalid({ a: { $and: [] } })).toContain('$and')
  })

  it('a mix of operators and plain keys', () => {
    expect(invalid({ a: { x: 1, $gt: 1 } })).toContain('unknown operator x')
  })

  it('$in / $nin without an array', () => {
    expect(invalid({ a: { $in: 1 } })).toContain('$in needs an array')
    expect(invalid({ a: { $nin: 'x' } })).toContain('$nin needs an array')
    expect(invalid({ a: { $in: { 0: 1 } } })).toContain('$in needs an array')
  })

  it('$exists without a boolean', () => {
    expect(invalid({ a: { $exists: 1 } })).toContain('$exists needs true or false')
    expect(invalid({ a: { $exists: 'true' } })).toContain('$exists needs true or false')
    expect(invalid({ a: { $exists: null } })).toContain('$exists needs true or false')
  })

  it('comparisons with non-number, non-string operands', () => {
    expect(invalid({ a: { $gt: {} } })).toContain('$gt compares numbers or strings, got object')
    expect(invalid({ a: { $gte: [1] } })).toContain('$gte compares numbers or strings, got object')
    expect(invalid({ a: { $lt: null } })).toContain('$lt compares numbers or strings, got null')
    expect(invalid({ a: { $lte: true } })).toContain('$lte compares numbers or strings, got boolean')
  })

  it('empty path segments', () => {
    expect(invalid({ 'a..b': 1 })).toContain('"a..b" has an empty path segment')
    expect(invalid({ '.a': 1 })).toContain('empty path segment')
    expect(invalid({ 'a.': 1 })).toContain('empty path segment')
    expect(invalid({ '': 1 })).toContain('empty path segment')
  })

  it('values that are not JSON', () => {
    expect(invalid({ a: { $gt: NaN } })).toMatch(/metadataFilter\.a\.\$gt is NaN/)
    expect(invalid({ a: new Date(0) })).toContain('Date')
    expect(invalid({ a: { $in: [1, undefined] } })).toMatch(/metadataFilter\.a\.\$in\[1\] is undefined/)
    expect(invalid({ a: () => 1 })).toContain('function')
  })
})

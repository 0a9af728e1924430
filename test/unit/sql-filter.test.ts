import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LtmFailure } from '../../src/core/errors.js'
import { parseFilter } from '../../src/core/filter.js'
import { canonicalJson } from '../../src/core/json.js'
import type { Metadata } from '../../src/core/types.js'
import type { SqlValue } from '../../src/engines/types.js'
import { compileFilter } from '../../src/sql/filter.js'

const ROWS: Record<string, Metadata> = {
  coffee: {
    topic: 'coffee',
    n: 1,
    b: true,
    z: null,
    user: { id: 1, name: 'ann' },
    tags: ['a', 'b'],
    at: '2025-01-10T00:00:00.000Z',
    score: 2.5,
    label: 'alpha',
  },
  tea: { topic: 'tea', n: '1', b: false, user: { id: 2 }, at: '2025-02-01T00:00:00.000Z', score: 10, label: 'Beta' },
  bool: { topic: 'coffee', n: true, user: { id: '1', name: 'bob' }, z: 0, tags: ['b', 'a'], score: -1, label: 'gamma' },
  empty: {},
  inject: { topic: "x' OR 1=1 --", n: 2, nested: { deep: { k: 'v' } }, "it's": 'quote', score: '10', at: 2025 },
  float: { n: 1.5, odd: { s: 'a\nb"\u2028é😀\u0007', x: 1e21, small: 1e-7 } },
}
const NAMES = Object.keys(ROWS)

let db: Database.Database

beforeAll(() => {
  db = new Database(':memory:')
  db.exec('CREATE TABLE m (metadata TEXT)')
  const insert = db.prepare('INSERT INTO m (rowid, metadata) VALUES (?, ?)')
  NAMES.forEach((name, i) => insert.run(i + 1, canonicalJson(ROWS[name]!)))
})

afterAll(() => db.close())

/** The names of the rows the filter matches, in insertion order. */
function matching(filter: unknown): string[] {
  const args: SqlValue[] = []
  const where = compileFilter(parseFilter(filter), 'm', args)
  const rows = db.prepare(`SELECT rowid AS id FROM m WHERE ${where} ORDER BY rowid`).all(...args) as { id: number }[]
  return rows.map((row) => NAMES[row.id - 1]!)
}

function except(...names: string[]): string[] {
  return NAMES.filter((name) => !names.includes(name))
}

describe('compileFilter', () => {
  it('no conditions match everything', () => {
    const args: SqlValue[] = []
    expect(compileFilter([], 'm', args)).toBe('1')
    expect(args).toEqual([])
    expect(matching({})).toEqual(NAMES)
    expect(matching(null)).toEqual(NAMES)
  })

  it('uses the given table alias', () => {
    const args: SqlValue[] = []
    const sql = compileFilter(parseFilter({ topic: 'coffee' }), 'mem', args)
    expect(sql).toContain('mem.metadata')
    expect(sql).not.toMatch(/(^|[^a-z])m\.metadata/)
  })

  it('binds every value as a parameter', () => {
    const args: SqlValue[] = []
    const sql = compileFilter(parseFilter({ topic: 'needle-value', 'user.name': { $in: ['other-needle'] }, score: { $gt: 12345 } }), 'm', args)
    expect(sql).not.toContain('needle')
    expect(sql).not.toContain('12345')
    expect(args).toContain('needle-value')
    expect(args).toContain('other-needle')
    expect(args).toContain(12345)
    expect(args).toContain('$."user"."name"')
  })

  describe('equality is type-strict', () => {
    it('1 vs "1" vs true', () => {
      expect(matching({ n: 1 })).toEqual(['coffee'])
      expect(matching({ n: '1' })).toEqual(['tea'])
      expect(matching({ n: true })).toEqual(['bool'])
      expect(matching({ n: 1.5 })).toEqual(['float'])
      expect(matching({ n: 2 })).toEqual(['inject'])
    })

    it('booleans', () => {
      expect(matching({ b: true })).toEqual(['coffee'])
      expect(matching({ b: false })).toEqual(['tea'])
      expect(matching({ b: { $eq: false } })).toEqual(['tea'])
    })

    it('numbers vs numeric strings', () => {
      expect(matching({ score: 10 })).toEqual(['tea'])
      expect(matching({ score: '10' })).toEqual(['inject'])
      expect(matching({ score: 2.5 })).toEqual(['coffee'])
    })

    it('strings are case-sensitive', () => {
      expect(matching({ label: 'Beta' })).toEqual(['tea'])
      expect(matching({ label: 'beta' })).toEqual([])
    })

    it('null matches an explicit null only, not a missing key or 0', () => {
      expect(matching({ z: null })).toEqual(['coffee'])
      expect(matching({ z: { $eq: null } })).toEqual(['coffee'])
      expect(matching({ z: 0 })).toEqual(['bool'])
      expect(matching({ missing: null })).toEqual([])
    })

    it('nested objects, whatever the key order of the filter', () => {
      expect(matching({ user: { id: 1, name: 'ann' } })).toEqual(['coffee'])
      expect(matching({ user: { name: 'ann', id: 1 } })).toEqual(['coffee'])
      expect(matching({ user: { id: 1 } })).toEqual([]) // whole-value equality, not a partial match
      expect(matching({ user: { id: 2 } })).toEqual(['tea'])
      expect(matching({ user: { $eq: { name: 'bob', id: '1' } } })).toEqual(['bool'])
    })

    it('nested objects holding escapes, unicode and exponent numbers', () => {
      expect(matching({ odd: { x: 1e21, small: 1e-7, s: 'a\nb"\u2028é😀\u0007' } })).toEqual(['float'])
      expect(matching({ 'odd.s': 'a\nb"\u2028é😀\u0007' })).toEqual(['float'])
      expect(matching({ 'odd.x': 1e21 })).toEqual(['float'])
    })

    it('arrays, in order', () => {
      expect(matching({ tags: ['a', 'b'] })).toEqual(['coffee'])
      expect(matching({ tags: ['b', 'a'] })).toEqual(['bool'])
      expect(matching({ tags: ['a'] })).toEqual([])
      expect(matching({ tags: 'a' })).toEqual([])
    })

    it('an object never equals a string with the same JSON text', () => {
      expect(matching({ user: '{"id":1,"name":"ann"}' })).toEqual([])
    })
  })

  describe('dotted paths', () => {
    it('reach into nested objects', () => {
      expect(matching({ 'user.id': 1 })).toEqual(['coffee'])
      expect(matching({ 'user.id': '1' })).toEqual(['bool'])
      expect(matching({ 'user.name': 'bob' })).toEqual(['bool'])
      expect(matching({ 'nested.deep.k': 'v' })).toEqual(['inject'])
      expect(matching({ 'nested.deep': { k: 'v' } })).toEqual(['inject'])
    })

    it('a missing intermediate object is a missing key', () => {
      expect(matching({ 'nested.none.k': 'v' })).toEqual([])
      expect(matching({ 'nested.none.k': { $ne: 'v' } })).toEqual(NAMES)
      expect(matching({ 'topic.x': { $exists: true } })).toEqual([])
    })

    it('numeric segments are object keys, not array indexes', () => {
      expect(matching({ 'tags.0': 'a' })).toEqual([])
    })
  })

  describe('$in / $nin / $ne', () => {
    it('$in matches any listed value, type-strictly', () => {
      expect(matching({ topic: { $in: ['coffee', 'tea'] } })).toEqual(['coffee', 'tea', 'bool'])
      expect(matching({ n: { $in: [1, true] } })).toEqual(['coffee', 'bool'])
      expect(matching({ n: { $in: ['1', 2] } })).toEqual(['tea', 'inject'])
      expect(matching({ z: { $in: [null, 0] } })).toEqual(['coffee', 'bool'])
      expect(matching({ user: { $in: [{ id: 2 }, { name: 'ann', id: 1 }] } })).toEqual(['coffee', 'tea'])
    })

    it('an empty $in matches nothing', () => {
      expect(matching({ topic: { $in: [] } })).toEqual([])
    })

    it('$nin matches missing keys too', () => {
      expect(matching({ topic: { $nin: ['coffee'] } })).toEqual(except('coffee', 'bool'))
      expect(matching({ n: { $nin: [1, '1'] } })).toEqual(except('coffee', 'tea'))
      expect(matching({ topic: { $nin: [] } })).toEqual(NAMES)
    })

    it('$ne matches missing keys too', () => {
      expect(matching({ topic: { $ne: 'coffee' } })).toEqual(except('coffee', 'bool'))
      expect(matching({ z: { $ne: null } })).toEqual(except('coffee'))
      expect(matching({ n: { $ne: 1 } })).toEqual(except('coffee'))
      expect(matching({ user: { $ne: { id: 2 } } })).toEqual(except('tea'))
      expect(matching({ missing: { $ne: 'x' } })).toEqual(NAMES)
    })
  })

  describe('comparisons', () => {
    it('on numbers, ignoring strings and booleans', () => {
      expect(matching({ score: { $gt: 2.5 } })).toEqual(['tea'])
      expect(matching({ score: { $gte: 2.5 } })).toEqual(['coffee', 'tea'])
      expect(matching({ score: { $lt: 0 } })).toEqual(['bool'])
      expect(matching({ score: { $lte: -1 } })).toEqual(['bool'])
      expect(matching({ score: { $lte: 100 } })).toEqual(['coffee', 'tea', 'bool'])
      expect(matching({ n: { $gte: 1 } })).toEqual(['coffee', 'inject', 'float'])
      expect(matching({ n: { $gt: 0, $lt: 2 } })).toEqual(['coffee', 'float'])
    })

    it('on strings, ignoring numbers', () => {
      expect(matching({ score: { $gt: '1' } })).toEqual(['inject'])
      expect(matching({ label: { $gte: 'b' } })).toEqual(['bool'])
      expect(matching({ label: { $lt: 'b' } })).toEqual(['coffee', 'tea']) // 'Beta' < 'b' (binary order)
    })

    it('on ISO-8601 timestamps', () => {
      expect(matching({ at: { $gte: '2025-01-15T00:00:00.000Z' } })).toEqual(['tea'])
      expect(matching({ at: { $lt: '2025-02-01T00:00:00.000Z' } })).toEqual(['coffee'])
      expect(matching({ at: { $lte: '2025-02-01T00:00:00.000Z' } })).toEqual(['coffee', 'tea'])
      expect(matching({ at: { $gt: '2025-01-01', $lt: '2025-12-31' } })).toEqual(['coffee', 'tea'])
      expect(matching({ at: { $gt: 2000 } })).toEqual(['inject'])
    })

    it('never match missing keys or null', () => {
      expect(matching({ missing: { $gt: 0 } })).toEqual([])
      expect(matching({ z: { $gte: 0 } })).toEqual(['bool'])
      expect(matching({ z: { $lte: '' } })).toEqual([])
    })
  })

  describe('$exists', () => {
    it('true matches present keys, including null values', () => {
      expect(matching({ z: { $exists: true } })).toEqual(['coffee', 'bool'])
      expect(matching({ 'user.name': { $exists: true } })).toEqual(['coffee', 'bool'])
      expect(matching({ tags: { $exists: true } })).toEqual(['coffee', 'bool'])
    })

    it('false matches missing keys', () => {
      expect(matching({ z: { $exists: false } })).toEqual(except('coffee', 'bool'))
      expect(matching({ user: { $exists: false } })).toEqual(['empty', 'inject', 'float'])
    })
  })

  it('ANDs all conditions', () => {
    expect(matching({ topic: 'coffee', 'user.id': 1 })).toEqual(['coffee'])
    expect(matching({ topic: 'coffee', score: { $lt: 0 } })).toEqual(['bool'])
    expect(matching({ topic: 'coffee', b: false })).toEqual([])
  })

  describe('injection-looking input is inert', () => {
    it('in values', () => {
      expect(matching({ topic: "x' OR 1=1 --" })).toEqual(['inject'])
      expect(matching({ topic: "coffee' OR '1'='1" })).toEqual([])
      expect(matching({ topic: { $in: ["') OR 1=1 --", 'tea'] } })).toEqual(['tea'])
      expect(matching({ label: { $gt: "' OR 1=1; DROP TABLE m; --" } })).toEqual(['coffee', 'tea', 'bool'])
      expect(matching({ topic: '$.topic' })).toEqual([])
    })

    it('in keys', () => {
      expect(matching({ "it's": 'quote' })).toEqual(['inject'])
      expect(matching({ "x') OR 1=1 --": 1 })).toEqual([])
      expect(matching({ "x' OR 1=1 --": { $ne: 1 } })).toEqual(NAMES)
      expect(matching({ 'a[0]': 1, '*': 2 })).toEqual([])
      expect((db.prepare('SELECT count(*) AS n FROM m').get() as { n: number }).n).toBe(NAMES.length)
    })

    it('a path segment with a double quote is an inert, escaped label', () => {
      expect(matching({ 'a"); DROP TABLE m; --': 1 })).toEqual([])
      expect(matching({ 'user.na"me': { $exists: true } })).toEqual([])
      expect((db.prepare('SELECT count(*) AS n FROM m').get() as { n: number }).n).toBe(NAMES.length)
    })
  })

  describe('unusual keys', () => {
    let local: Database.Database
    const KEYS = ['a\\b', 'nl\nx', 'tab\tx', 'sp ace', 'ü', '$d', 'a[0]', 'slash/x', "q'x", 'trail\\']
    beforeAll(() => {
      local = new Database(':memory:')
      local.exec('CREATE TABLE m (metadata TEXT)')
      const insert = local.prepare('INSERT INTO m (rowid, metadata) VALUES (?, ?)')
      KEYS.forEach((key, i) => insert.run(i + 1, canonicalJson({ [key]: i })))
    })
    afterAll(() => local.close())

    function rowsFor(key: string, value: number): number[] {
      const args: SqlValue[] = []
      const where = compileFilter(parseFilter({ [key]: value }), 'm', args)
      return (local.prepare(`SELECT rowid AS id FROM m WHERE ${where}`).all(...args) as { id: number }[]).map((r) => r.id)
    }

    it('match keys with spaces, unicode, $, brackets, slashes, quotes and control characters', () => {
      for (const key of ['nl\nx', 'tab\tx', 'sp ace', 'ü', '$d', 'a[0]', 'slash/x', "q'x"]) {
        const i = KEYS.indexOf(key)
        expect(rowsFor(key, i), JSON.stringify(key)).toEqual([i + 1])
      }
    })

    it('match a key containing a backslash', () => {
      // The SQLite JSON path label is written as $."a\b": SQLite reads backslash escapes inside a
      // quoted label, so the backslash must be escaped; unescaped, the key never matches.
      expect(rowsFor('a\\b', 0)).toEqual([1])
    })

    it('a key ending in a backslash is a clean result or invalid_input, not an SQL error', () => {
      let result: number[] | undefined
      let thrown: unknown
      try {
        result = rowsFor('trail\\', KEYS.indexOf('trail\\'))
      } catch (error) {
        thrown = error
      }
      if (thrown === undefined) expect(result).toEqual([KEYS.indexOf('trail\\') + 1])
      else {
        expect(thrown).toBeInstanceOf(LtmFailure)
        expect((thrown as LtmFailure).errorType).toBe('invalid_input')
      }
    })
  })
})

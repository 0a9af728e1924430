import { describe, expect, it } from 'vitest'
import { LtmFailure } from '../../src/core/errors.js'
import { assertJson, canonicalJson, utf8Length } from '../../src/core/json.js'
import type { JsonValue } from '../../src/core/types.js'
import { prng as rng } from '../support/prng.js'

/** Runs `fn`, expects an LtmFailure invalid_input, returns its message. */
function invalid(fn: () => unknown): string {
  let thrown: unknown
  try {
    fn()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(LtmFailure)
  const failure = thrown as LtmFailure
  expect(failure.errorType).toBe('invalid_input')
  expect(failure.toResult()).toEqual({ success: false, error: failure.message, error_type: 'invalid_input' })
  return failure.message
}

describe('assertJson: accepts JSON', () => {
  it('returns primitives unchanged', () => {
    expect(assertJson('text', 'value')).toBe('text')
    expect(assertJson('', 'value')).toBe('')
    expect(assertJson(0, 'value')).toBe(0)
    expect(assertJson(-1.5e300, 'value')).toBe(-1.5e300)
    expect(assertJson(true, 'value')).toBe(true)
    expect(assertJson(false, 'value')).toBe(false)
    expect(assertJson(null, 'value')).toBe(null)
  })

  it('returns nested plain values deep-equal to the input', () => {
    const value = { a: [1, 'two', { three: [null, true, false] }], b: {}, c: [], 'key with spaces': { 'é😀': 'ü' } }
    const checked = assertJson(value, 'value')
    expect(checked).toEqual(value)
    expect(JSON.stringify(checked)).toBe(JSON.stringify(value))
  })

  it('accepts objects without a prototype', () => {
    const bare = Object.create(null) as Record<string, unknown>
    bare.x = 1
    expect(assertJson(bare, 'value')).toEqual({ x: 1 })
  })

  it('accepts a shared, non-cyclic reference used twice', () => {
    const shared = { z: 1 }
    const value = { a: shared, b: shared, c: [shared, [shared]] }
    expect(assertJson(value, 'value')).toEqual({ a: { z: 1 }, b: { z: 1 }, c: [{ z: 1 }, [{ z: 1 }]] })
    const list = [1, 2]
    expect(assertJson([list, list, { l: list }], 'value')).toEqual([[1, 2], [1, 2], { l: [1, 2] }])
  })

  it('drops undefined object properties, at every depth', () => {
    const checked = assertJson({ a: 1, b: undefined, c: { d: undefined, e: [{ f: undefined, g: 2 }] } }, 'value')
    expect(checked).toEqual({ a: 1, c: { e: [{ g: 2 }] } })
    expect(Object.keys(checked as object)).toEqual(['a', 'c'])
    expect(JSON.stringify(checked)).toBe('{"a":1,"c":{"e":[{"g":2}]}}')
  })

  it('does not mutate its input', () => {
    const input = { a: 1, b: undefined, c: [1, 2] }
    assertJson(input, 'value')
    expect(Object.keys(input)).toEqual(['a', 'b', 'c'])
  })

  it('survives a JSON round trip identically', () => {
    const value = { n: -0.000123, big: 1e21, s: 'line\nbreak\t"quoted"\u2028', arr: [[[]]], o: { '': '' } }
    const checked = assertJson(value, 'value')
    expect(JSON.parse(JSON.stringify(checked))).toEqual(checked)
  })

  it('keeps an own "__proto__" key from JSON.parse as data', () => {
    // JSON.parse makes "__proto__" an ordinary own property; a plain `out[key] = ...` copy turns it
    // into a prototype assignment and the key disappears from the stored value.
    const parsed = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as unknown
    const checked = assertJson(parsed, 'value')
    expect(Object.keys(checked as object)).toEqual(['__proto__', 'a'])
    expect(JSON.stringify(checked)).toBe('{"__proto__":{"x":1},"a":1}')
    expect(Object.getPrototypeOf(checked)).toBe(Object.prototype)
  })
})

describe('assertJson: rejects what JSON cannot represent', () => {
  it('undefined at the top', () => {
    expect(invalid(() => assertJson(undefined, 'value'))).toMatch(/^value is undefined/)
  })

  it('undefined inside an array, naming the index', () => {
    expect(invalid(() => assertJson({ a: [1, 2, undefined] }, 'value'))).toMatch(/^value\.a\[2\] is undefined/)
    // eslint-disable-next-line no-sparse-arrays
    expect(invalid(() => assertJson([, 1], 'value'))).toMatch(/^value\[0\] is undefined/)
  })

  it('functions and symbols', () => {
    expect(invalid(() => assertJson({ a: { b: () => 1 } }, 'value'))).toMatch(/^value\.a\.b is a function/)
    expect(invalid(() => assertJson({ a: Symbol('x') }, 'value'))).toMatch(/^value\.a is a symbol/)
    expect(invalid(() => assertJson([Symbol.iterator], 'metadata'))).toMatch(/^metadata\[0\] is a symbol/)
  })

  it('BigInt', () => {
    expect(invalid(() => assertJson(10n, 'value'))).toMatch(/^value is a BigInt/)
    expect(invalid(() => assertJson({ n: [0, 1n] }, 'value'))).toMatch(/^value\.n\[1\] is a BigInt/)
  })

  it('NaN and infinities', () => {
    expect(invalid(() => assertJson({ x: NaN }, 'value'))).toMatch(/^value\.x is NaN/)
    expect(invalid(() => assertJson({ x: Infinity }, 'value'))).toMatch(/^value\.x is Infinity/)
    expect(invalid(() => assertJson([-Infinity], 'value'))).toMatch(/^value\[0\] is -Infinity/)
  })

  it('cycles, naming where the cycle closes', () => {
    const object: Record<string, unknown> = { a: {} }
    ;(object.a as Record<string, unknown>).self = object
    expect(invalid(() => assertJson(object, 'value'))).toMatch(/^value\.a\.self refers back to itself/)
    const array: unknown[] = [1]
    array.push(array)
    expect(invalid(() => assertJson(array, 'value'))).toMatch(/^value\[1\] refers back to itself/)
  })

  it('Date, with a hint to store an ISO string', () => {
    const message = invalid(() => assertJson({ d: new Date(0) }, 'value'))
    expect(message).toMatch(/^value\.d is a Date, not a plain object/)
    expect(message).toContain('toISOString()')
  })

  it('Map, Set, typed arrays, boxed primitives, class instances', () => {
    expect(invalid(() => assertJson(new Map(), 'value'))).toMatch(/^value is a Map, not a plain object/)
    expect(invalid(() => assertJson({ s: new Set([1]) }, 'value'))).toMatch(/^value\.s is a Set, not a plain object/)
    expect(invalid(() => assertJson([new Uint8Array(2)], 'value'))).toMatch(/^value\[0\] is a Uint8Array/)
    expect(invalid(() => assertJson({ s: new String('x') }, 'value'))).toMatch(/^value\.s is a String/)
    class Point {
      x = 1
    }
    expect(invalid(() => assertJson({ a: [{ p: new Point() }] }, 'value'))).toMatch(/^value\.a\[0\]\.p is a Point, not a plain object/)
  })

  it('names the path with the given root name', () => {
    expect(invalid(() => assertJson({ deep: { list: [0, { bad: NaN }] } }, 'metadata'))).toMatch(/^metadata\.deep\.list\[1\]\.bad is NaN/)
  })
})

// ---------------------------------------------------------------------------------------------
// canonicalJson

/** Independent reference: sorted keys by UTF-16 code units, compact, JSON.stringify scalars. */
function referenceCanonical(value: JsonValue): string {
  if (Array.isArray(value)) {
    let out = '['
    value.forEach((item, i) => {
      if (i > 0) out += ','
      out += referenceCanonical(item)
    })
    return out + ']'
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value)
    keys.sort((a, b) => {
      const n = Math.min(a.length, b.length)
      for (let i = 0; i < n; i++) {
        const d = a.charCodeAt(i) - b.charCodeAt(i)
        if (d !== 0) return d
      }
      return a.length - b.length
    })
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + referenceCanonical(value[k]!)).join(',') + '}'
  }
  return JSON.stringify(value)
}


const KEY_POOL = ['a', 'b', 'B', 'aa', 'a b', '', '0', '1', '10', '2', 'é', 'e\u0301', 'z', 'Z', '😀', '\uffff', '\u00ff', '$x', 'key"q', 'k\\b', 'line\n']
const STRING_POOL = ['', 'text', 'café', '咖啡', '😀', '"quoted"', 'back\\slash', '\u2028\u2029', '\u0000\u001f', 'tab\t', 'ﬁ']

function randomJson(random: () => number, depth: number): JsonValue {
  const kind = Math.floor(random() * (depth > 3 ? 5 : 7))
  switch (kind) {
    case 0:
      return null
    case 1:
      return random() < 0.5
    case 2: {
      const choices = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012, -3.25, Number.MAX_SAFE_INTEGER, 5e-324]
      return choices[Math.floor(random() * choices.length)]!
    }
    case 3:
    case 4:
      return STRING_POOL[Math.floor(random() * STRING_POOL.length)]!
    case 5: {
      const length = Math.floor(random() * 4)
      return Array.from({ length }, () => randomJson(random, depth + 1))
    }
    default: {
      const object: { [key: string]: JsonValue } = {}
      const count = Math.floor(random() * 5)
      for (let i = 0; i < count; i++) object[KEY_POOL[Math.floor(random() * KEY_POOL.length)]!] = randomJson(random, depth + 1)
      return object
    }
  }
}

/** The same value with every object's keys inserted in a shuffled order. */
function shuffledCopy(value: JsonValue, random: () => number): JsonValue {
  if (Array.isArray(value)) return value.map((item) => shuffledCopy(item, random))
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value)
    for (let i = keys.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[keys[i], keys[j]] = [keys[j]!, keys[i]!]
    }
    const out: { [key: string]: JsonValue } = {}
    for (const key of keys) out[key] = shuffledCopy(value[key]!, random)
    return out
  }
  return value
}

describe('canonicalJson', () => {
  it('sorts keys recursively and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}')
  })

  it('writes scalars as JSON.stringify does', () => {
    expect(canonicalJson(null)).toBe('null')
    expect(canonicalJson(true)).toBe('true')
    expect(canonicalJson(-0)).toBe('0')
    expect(canonicalJson(1e21)).toBe('1e+21')
    expect(canonicalJson(0.1)).toBe('0.1')
    expect(canonicalJson('a"b\\c\n')).toBe('"a\\"b\\\\c\\n"')
    expect(canonicalJson([])).toBe('[]')
    expect(canonicalJson({})).toBe('{}')
  })

  it('keeps array order', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]')
    expect(canonicalJson([{ b: 1, a: 2 }, 'x'])).toBe('[{"a":2,"b":1},"x"]')
  })

  it('sorts keys as strings, not as integers', () => {
    // Object.keys puts integer-like keys first in numeric order; canonical order is string order.
    expect(canonicalJson({ '10': 'ten', '2': 'two', a: 'a', '1': 'one' })).toBe('{"1":"one","10":"ten","2":"two","a":"a"}')
  })

  it('sorts by UTF-16 code units and writes unicode as is', () => {
    expect(canonicalJson({ é: 1, z: 2, Z: 3, '😀': 4, '\uffff': 5 })).toBe('{"Z":3,"z":2,"é":1,"😀":4,"\uffff":5}')
    expect(canonicalJson({ s: 'café 咖啡 😀 \u2028' })).toBe('{"s":"café 咖啡 😀 \u2028"}')
  })

  it('does not normalise unicode: composed and decomposed keys stay distinct', () => {
    expect(canonicalJson({ 'e\u0301': 1, é: 2 })).toBe('{"e\u0301":1,"é":2}')
  })

  it('ignores the key order of its input', () => {
    expect(canonicalJson({ a: 1, b: { c: 2, d: 3 } })).toBe(canonicalJson({ b: { d: 3, c: 2 }, a: 1 }))
  })

  it('equals the reference implementation on random nested values', () => {
    const random = rng(2024)
    for (let i = 0; i < 2000; i++) {
      const value = randomJson(random, 0)
      const text = canonicalJson(value)
      expect(text).toBe(referenceCanonical(value))
      // valid JSON that parses back to the same value, without whitespace outside strings
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)))
      expect(text).toBe(referenceCanonical(JSON.parse(text) as JsonValue))
    }
  })

  it('is independent of key insertion order on random values', () => {
    const random = rng(7)
    for (let i = 0; i < 1000; i++) {
      const value = randomJson(random, 0)
      expect(canonicalJson(shuffledCopy(value, random))).toBe(canonicalJson(value))
    }
  })

  it('has no whitespace outside strings', () => {
    const text = canonicalJson({ a: [1, 2, { b: null }], c: 'x y' })
    expect(text).toBe('{"a":[1,2,{"b":null}],"c":"x y"}')
  })
})

describe('utf8Length', () => {
  it('counts UTF-8 bytes', () => {
    expect(utf8Length('')).toBe(0)
    expect(utf8Length('abc')).toBe(3)
    expect(utf8Length('é')).toBe(2)
    expect(utf8Length('咖')).toBe(3)
    expect(utf8Length('😀')).toBe(4)
  })
})

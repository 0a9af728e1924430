/**
 * Runs in Chromium: checks the in-page runner (e2e/vitest-shim.ts) itself, so a green conformance
 * run cannot come from a runner that never fails. Each test's name says whether it must pass or
 * fail; the Node side (e2e/chromium.conformance.test.ts) compares. Imports 'vitest' exactly as the
 * suite does, so it goes through the same esbuild alias.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runInPage } from './in-page-run.js'

/** Hook and test order, checked by the last test. */
const order: string[] = []

describe('matchers', () => {
  it('passes: every matcher the suite uses, positive and negated', async () => {
    expect(1).toBe(1)
    expect({ a: [1, { b: 2 }] }).toEqual({ a: [1, { b: 2 }] })
    expect({ a: 1 }).toStrictEqual({ a: 1 })
    expect({ a: 1, b: { c: 2, d: 3 } }).toMatchObject({ b: { c: 2 } })
    expect([1, 2, 3]).toContain(2)
    expect('abc').toContain('b')
    expect([1, 2]).toHaveLength(2)
    expect(2).toBeGreaterThan(1)
    expect(2).toBeGreaterThanOrEqual(2)
    expect(1).toBeLessThan(2)
    expect(new TypeError('x')).toBeInstanceOf(Error)
    expect(() => {
      throw new Error('boom')
    }).toThrow(/boom/)
    await expect(Promise.reject(new Error('no'))).rejects.toThrow('no')
    await expect(Promise.reject(7)).rejects.toBe(7)
    await expect(Promise.resolve(3)).resolves.toBe(3)
    expect('2025-01-15T12:00:00.000Z').toMatch(/^\d{4}-/)
    expect(0.1 + 0.2).toBeCloseTo(0.3)
    expect(undefined).toBeUndefined()
    expect(1).not.toBe(2)
    expect(null).toBeNull()
    expect(0).not.toBeNull()
    expect([1]).not.toContain(2)
    expect({ n: 1, s: 'x', at: 'then' }).toEqual({ n: expect.any(Number), s: expect.stringMatching(/x/), at: expect.any(String) })
    expect(['a', 'b', 'c']).toEqual(expect.arrayContaining(['c', 'a']))
  })
  it('fails: toBe', () => expect(1).toBe(2))
  it('fails: toEqual', () => expect({ a: 1 }).toEqual({ a: 2 }))
  it('fails: toStrictEqual on an undefined property', () => expect({ a: 1, b: undefined }).toStrictEqual({ a: 1 }))
  it('fails: toMatchObject', () => expect({ a: 1 }).toMatchObject({ a: 1, b: 2 }))
  it('fails: toContain', () => expect([1]).toContain(2))
  it('fails: toHaveLength', () => expect([1]).toHaveLength(2))
  it('fails: toBeGreaterThan', () => expect(1).toBeGreaterThan(1))
  it('fails: toBeInstanceOf', () => expect({}).toBeInstanceOf(Error))
  it('fails: toThrow', () => expect(() => undefined).toThrow())
  it('fails: rejects on a resolved promise', async () => expect(Promise.resolve(1)).rejects.toThrow())
  it('fails: resolves on a rejected promise', async () => expect(Promise.reject(new Error('x'))).resolves.toBe(1))
  it('fails: toMatch', () => expect('abc').toMatch(/z/))
  it('fails: toBeCloseTo', () => expect(0.3).toBeCloseTo(0.4))
  it('fails: not.toBe', () => expect(1).not.toBe(1))
  it('fails: expect.any in toEqual', () => expect({ n: '1' }).toEqual({ n: expect.any(Number) }))
  it('fails: a thrown error', () => {
    throw new Error('thrown on purpose')
  })
})

describe('runner', () => {
  describe('hooks', () => {
    beforeEach(() => {
      order.push('outer before')
    })
    afterEach(() => {
      order.push('outer after')
    })
    describe('inner', () => {
      beforeEach(async () => {
        await new Promise((resolve) => setTimeout(resolve, 5))
        order.push('inner before')
      })
      afterEach(() => {
        order.push('inner after')
      })
      it('passes: runs inside its hooks', () => {
        order.push('test')
      })
    })
  })
  describe('failing beforeEach', () => {
    beforeEach(() => {
      throw new Error('setup failed on purpose')
    })
    afterEach(() => {
      order.push('after despite failed setup')
    })
    it('fails: a test whose beforeEach throws', () => {
      order.push('must not run')
    })
  })
  describe('failing afterEach', () => {
    afterEach(() => {
      throw new Error('teardown failed on purpose')
    })
    it('fails: a passing test whose afterEach throws', () => undefined)
  })
  it('fails: a test over its timeout', () => new Promise((resolve) => setTimeout(resolve, 2_000)), 50)
  it('passes: hooks ran outermost-first before, innermost-first after, afterEach even after a failed setup', () => {
    expect(order).toEqual(['outer before', 'inner before', 'test', 'inner after', 'outer after', 'after despite failed setup'])
  })
})

// The tests above registered themselves when this module ran.
runInPage(() => undefined)

import { describe, expect, it } from 'vitest'
import { LtmFailure } from '../../src/core/errors.js'
import { CACHE_EXPIRES_AT, isoOrNull, resolveExpiry } from '../../src/core/ttl.js'
import type { Metadata, StoreOptions } from '../../src/core/types.js'

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0)

function invalid(options: unknown, metadata: Metadata = {}): string {
  let thrown: unknown
  try {
    resolveExpiry(options as StoreOptions | undefined, metadata, NOW)
  } catch (error) {
    thrown = error
  }
  expect(thrown, `resolveExpiry(${JSON.stringify(options)}, ${JSON.stringify(metadata)}) should throw`).toBeInstanceOf(LtmFailure)
  expect((thrown as LtmFailure).errorType).toBe('invalid_input')
  return (thrown as LtmFailure).message
}

describe('resolveExpiry', () => {
  it('no options and no cache metadata: no expiry, not explicit', () => {
    expect(resolveExpiry(undefined, {}, NOW)).toEqual({ expiresAt: null, explicit: false })
    expect(resolveExpiry({}, {}, NOW)).toEqual({ expiresAt: null, explicit: false })
    expect(resolveExpiry({ ttl: undefined, expiresAt: undefined }, { other: 1 }, NOW)).toEqual({ expiresAt: null, explicit: false })
  })

  describe('ttl', () => {
    it('is seconds from now', () => {
      expect(resolveExpiry({ ttl: 60 }, {}, NOW)).toEqual({ expiresAt: NOW + 60_000, explicit: true })
      expect(resolveExpiry({ ttl: 86_400 }, {}, NOW)).toEqual({ expiresAt: NOW + 86_400_000, explicit: true })
    })

    it('accepts fractions, rounded to the millisecond', () => {
      expect(resolveExpiry({ ttl: 1.5 }, {}, NOW)).toEqual({ expiresAt: NOW + 1500, explicit: true })
      expect(resolveExpiry({ ttl: 0.0015 }, {}, NOW)).toEqual({ expiresAt: NOW + 2, explicit: true })
      expect(resolveExpiry({ ttl: 0.0004 }, {}, NOW)).toEqual({ expiresAt: NOW, explicit: true })
    })

    it('rejects zero, negative, non-finite and non-number ttl', () => {
      expect(invalid({ ttl: 0 })).toBe('ttl must be a positive number of seconds, got 0')
      expect(invalid({ ttl: -1 })).toBe('ttl must be a positive number of seconds, got -1')
      expect(invalid({ ttl: NaN })).toBe('ttl must be a positive number of seconds, got NaN')
      expect(invalid({ ttl: Infinity })).toBe('ttl must be a positive number of seconds, got Infinity')
      expect(invalid({ ttl: '60' })).toBe('ttl must be a positive number of seconds, got 60')
      expect(invalid({ ttl: null })).toContain('ttl must be a positive number')
    })

    it('wins over _cache_expires_at', () => {
      expect(resolveExpiry({ ttl: 10 }, { [CACHE_EXPIRES_AT]: 1735689600 }, NOW)).toEqual({ expiresAt: NOW + 10_000, explicit: true })
    })
  })

  describe('expiresAt', () => {
    it('takes a Date', () => {
      expect(resolveExpiry({ expiresAt: new Date(NOW + 5000) }, {}, NOW)).toEqual({ expiresAt: NOW + 5000, explicit: true })
    })

    it('takes an ISO-8601 string, with Z or an offset', () => {
      expect(resolveExpiry({ expiresAt: '2025-02-01T00:00:00Z' }, {}, NOW)).toEqual({ expiresAt: Date.UTC(2025, 1, 1), explicit: true })
      expect(resolveExpiry({ expiresAt: '2025-02-01T00:00:00.250Z' }, {}, NOW)).toEqual({ expiresAt: Date.UTC(2025, 1, 1) + 250, explicit: true })
      expect(resolveExpiry({ expiresAt: '2025-02-01T02:00:00+02:00' }, {}, NOW)).toEqual({ expiresAt: Date.UTC(2025, 1, 1), explicit: true })
      expect(resolveExpiry({ expiresAt: '2025-02-01' }, {}, NOW)).toEqual({ expiresAt: Date.UTC(2025, 1, 1), explicit: true })
    })

    it('accepts a time in the past (the memory is simply expired)', () => {
      expect(resolveExpiry({ expiresAt: new Date(NOW - 1) }, {}, NOW)).toEqual({ expiresAt: NOW - 1, explicit: true })
    })

    it('wins over ttl', () => {
      expect(resolveExpiry({ expiresAt: new Date(NOW + 5000), ttl: 60 }, {}, NOW)).toEqual({ expiresAt: NOW + 5000, explicit: true })
      expect(resolveExpiry({ expiresAt: '2025-02-01T00:00:00Z', ttl: 60 }, {}, NOW)).toEqual({ expiresAt: Date.UTC(2025, 1, 1), explicit: true })
    })

    it('wins over ttl even when ttl is invalid', () => {
      expect(resolveExpiry({ expiresAt: new Date(NOW + 1000), ttl: -5 }, {}, NOW)).toEqual({ expiresAt: NOW + 1000, explicit: true })
    })

    it('wins over _cache_expires_at', () => {
      expect(resolveExpiry({ expiresAt: new Date(NOW + 1000) }, { [CACHE_EXPIRES_AT]: '2030-01-01T00:00:00Z' }, NOW)).toEqual({ expiresAt: NOW + 1000, explicit: true })
    })

    it('rejects unparseable strings and invalid Dates', () => {
      expect(invalid({ expiresAt: 'nope' })).toBe('expiresAt must be a Date or an ISO-8601 date string like 2026-12-01T12:00:00Z, got "nope"')
      expect(invalid({ expiresAt: '' })).toContain('expiresAt must be a Date or an ISO-8601 date string')
      expect(invalid({ expiresAt: new Date(NaN) })).toBe('expiresAt must be a Date or an ISO-8601 date string like 2026-12-01T12:00:00Z, got "Invalid Date"')
      expect(invalid({ expiresAt: null })).toContain('expiresAt must be a Date or an ISO-8601 date string')
      expect(invalid({ expiresAt: {} })).toContain('expiresAt must be a Date or an ISO-8601 date string')
      expect(invalid({ expiresAt: true })).toContain('expiresAt must be a Date or an ISO-8601 date string')
    })

    it('rejects a number (neither a Date nor a string)', () => {
      // StoreOptions.expiresAt is Date | string and the error says so, but a number is taken as epoch
      // milliseconds: a caller passing Unix seconds (as the Python project does) silently gets 1970.
      expect(invalid({ expiresAt: 1_800_000_000 })).toContain('expiresAt must be a Date or an ISO-8601 date string')
    })
  })

  describe('_cache_expires_at metadata', () => {
    it('takes an ISO string, not explicit', () => {
      expect(resolveExpiry(undefined, { [CACHE_EXPIRES_AT]: '2025-03-01T00:00:00Z' }, NOW)).toEqual({ expiresAt: Date.UTC(2025, 2, 1), explicit: false })
      expect(resolveExpiry({}, { [CACHE_EXPIRES_AT]: '2025-03-01T00:00:00.500+00:00' }, NOW)).toEqual({ expiresAt: Date.UTC(2025, 2, 1) + 500, explicit: false })
    })

    it('takes Unix seconds, including fractions', () => {
      expect(resolveExpiry(undefined, { [CACHE_EXPIRES_AT]: 1735689600 }, NOW)).toEqual({ expiresAt: 1735689600000, explicit: false })
      expect(resolveExpiry(undefined, { [CACHE_EXPIRES_AT]: 1735689600.25 }, NOW)).toEqual({ expiresAt: 1735689600250, explicit: false })
      expect(resolveExpiry(undefined, { [CACHE_EXPIRES_AT]: 0 }, NOW)).toEqual({ expiresAt: 0, explicit: false })
    })

    it('null means no expiry', () => {
      expect(resolveExpiry(undefined, { [CACHE_EXPIRES_AT]: null }, NOW)).toEqual({ expiresAt: null, explicit: false })
    })

    it('rejects other values, naming the key', () => {
      expect(invalid(undefined, { [CACHE_EXPIRES_AT]: 'bad' })).toBe('_cache_expires_at must be a Date or an ISO-8601 date string like 2026-12-01T12:00:00Z, got "bad"')
      expect(invalid(undefined, { [CACHE_EXPIRES_AT]: true })).toContain('_cache_expires_at must be')
      expect(invalid(undefined, { [CACHE_EXPIRES_AT]: {} })).toContain('_cache_expires_at must be')
      expect(invalid(undefined, { [CACHE_EXPIRES_AT]: ['2025-01-01'] })).toContain('_cache_expires_at must be')
    })

    it('only the exact key counts', () => {
      expect(resolveExpiry(undefined, { cache_expires_at: 1735689600, nested: { _cache_expires_at: 1 } }, NOW)).toEqual({ expiresAt: null, explicit: false })
    })
  })

  it('rejects options that are not an object', () => {
    expect(invalid(null)).toBe('store options must be an object like { ttl: 60 }')
    expect(invalid(5)).toBe('store options must be an object like { ttl: 60 }')
    expect(invalid('60')).toBe('store options must be an object like { ttl: 60 }')
  })
})

describe('isoOrNull', () => {
  it('formats epoch milliseconds as ISO-8601 UTC', () => {
    expect(isoOrNull(NOW)).toBe('2025-01-15T12:00:00.000Z')
    expect(isoOrNull(0)).toBe('1970-01-01T00:00:00.000Z')
    expect(isoOrNull(null)).toBe(null)
  })
})

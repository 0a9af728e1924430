import { invalidInput } from './errors.js'
import type { Metadata, StoreOptions } from './types.js'

/** The metadata key the Python project's cache.wrap writes its expiry to (ISO string or Unix seconds). */
export const CACHE_EXPIRES_AT = '_cache_expires_at'

/**
 * The expiry of a store, in epoch milliseconds, or null. `expiresAt` wins over `ttl`, and both win
 * over metadata `_cache_expires_at`. `explicit` tells whether the caller asked for a new expiry.
 */
export function resolveExpiry(options: StoreOptions | undefined, metadata: Metadata, now: number): { expiresAt: number | null; explicit: boolean } {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw invalidInput('store options must be an object like { ttl: 60 }')
  if (options?.expiresAt !== undefined) return { expiresAt: parseInstant(options.expiresAt, 'expiresAt'), explicit: true }
  if (options?.ttl !== undefined) {
    const ttl = options.ttl
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) throw invalidInput(`ttl must be a positive number of seconds, got ${String(ttl)}`)
    return { expiresAt: now + Math.round(ttl * 1000), explicit: true }
  }
  const cacheExpiry = metadata[CACHE_EXPIRES_AT]
  if (cacheExpiry !== undefined && cacheExpiry !== null) {
    if (typeof cacheExpiry === 'number') {
      if (!Number.isFinite(cacheExpiry)) throw invalidInput(`${CACHE_EXPIRES_AT} must be an ISO-8601 string or Unix seconds`)
      return { expiresAt: Math.round(cacheExpiry * 1000), explicit: false }
    }
    return { expiresAt: parseInstant(cacheExpiry, CACHE_EXPIRES_AT), explicit: false }
  }
  return { expiresAt: null, explicit: false }
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** A Date or an ISO-8601 string; a date-time without a zone is read as UTC (as Python's naive utcnow() means it). */
function parseInstant(input: unknown, name: string): number {
  let ms = Number.NaN
  if (input instanceof Date) ms = input.getTime()
  else if (typeof input === 'string') {
    const match = ISO_DATE.exec(input.trim())
    if (match) ms = Date.parse(match[1] === undefined && input.includes(':') ? `${input.trim().replace(' ', 'T')}Z` : input.trim().replace(' ', 'T'))
  }
  if (!Number.isFinite(ms)) throw invalidInput(`${name} must be a Date or an ISO-8601 date string like 2026-12-01T12:00:00Z, got ${JSON.stringify(String(input))}`)
  return ms
}

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

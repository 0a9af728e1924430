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
    const at = typeof cacheExpiry === 'number' ? parseInstant(cacheExpiry * 1000, CACHE_EXPIRES_AT) : parseInstant(cacheExpiry as string, CACHE_EXPIRES_AT)
    return { expiresAt: at, explicit: false }
  }
  return { expiresAt: null, explicit: false }
}

function parseInstant(input: unknown, name: string): number {
  const ms = input instanceof Date ? input.getTime() : typeof input === 'string' ? Date.parse(input) : typeof input === 'number' ? input : Number.NaN
  if (!Number.isFinite(ms)) throw invalidInput(`${name} must be a Date or an ISO-8601 date string, got ${JSON.stringify(String(input))}`)
  return ms
}

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

/**
 * Small backend-independent helpers for the conformance suite. Only web-standard APIs
 * (crypto.subtle, TextEncoder, setTimeout) so the suite also runs inside a browser.
 */
import { expect } from 'vitest'
import type { LTM, RetrieveResult } from '../../src/core/types.js'

/** A fixed, second-aligned start for the injected clock. */
export const T0 = Date.UTC(2025, 0, 15, 12, 0, 0)
export const SEC = 1000

export const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
export const CONTENT_HASH = /^sha256:[0-9a-f]{64}$/

export type Ok<R> = Extract<R, { success: true }>
export type Found<T> = Extract<RetrieveResult<T>, { found: true }>

/** Short, printable form of a result for failure messages (values can be megabytes long). */
export function show(value: unknown): string {
  let text: string
  try {
    text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
  } catch {
    text = String(value)
  }
  if (text === undefined) text = String(value)
  return text.length > 400 ? `${text.slice(0, 400)}…` : text
}

/** Asserts a `{ success: true }` result and narrows it. */
export function ok<R extends { success: boolean }>(result: R): Ok<R> {
  if (!result || result.success !== true) throw new Error(`expected a success result, got ${show(result)}`)
  return result as Ok<R>
}

/** Asserts an `invalid_input` failure result with a non-empty message. */
export function expectInvalid(result: unknown): void {
  expect(result, show(result)).toMatchObject({ success: false, error_type: 'invalid_input' })
  const error = (result as { error?: unknown }).error
  expect(typeof error).toBe('string')
  expect((error as string).length).toBeGreaterThan(0)
}

/** Asserts a found retrieve result and narrows it. */
export function expectFound<T>(result: RetrieveResult<T>): Found<T> {
  const value = ok(result)
  if (value.found !== true) throw new Error(`expected found: true, got ${show(result)}`)
  return value as Found<T>
}

/** Asserts an ISO-8601 timestamp string denoting exactly `ms`. */
export function expectIsoAt(actual: unknown, ms: number): void {
  expect(typeof actual, `expected an ISO-8601 string, got ${show(actual)}`).toBe('string')
  expect(actual).toMatch(ISO_8601)
  expect(Date.parse(actual as string)).toBe(ms)
}

/** Runs `fn` (sync or async) and asserts it throws/rejects with an LtmError (optionally of `code`). */
export async function expectLtmError(fn: () => unknown, code?: string): Promise<void> {
  let caught: unknown
  let threw = false
  try {
    await fn()
  } catch (error) {
    threw = true
    caught = error
  }
  expect(threw, 'expected an LtmError to be thrown').toBe(true)
  expect(caught).toBeInstanceOf(Error)
  expect((caught as Error).name).toBe('LtmError')
  if (code !== undefined) expect((caught as { code?: unknown }).code).toBe(code)
}

/** Synchronous variant of expectLtmError. */
export function expectLtmErrorSync(fn: () => unknown, code?: string): void {
  let caught: unknown
  let threw = false
  try {
    fn()
  } catch (error) {
    threw = true
    caught = error
  }
  expect(threw, 'expected an LtmError to be thrown').toBe(true)
  expect((caught as Error).name).toBe('LtmError')
  if (code !== undefined) expect((caught as { code?: unknown }).code).toBe(code)
}

/** The canonical JSON the content hash covers: sorted keys (default sort), no whitespace. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** 'sha256:' + lowercase hex SHA-256 of the UTF-8 bytes of `text`. */
export async function sha256(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return `sha256:${Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')}`
}

export async function contentHashOf(value: unknown): Promise<string> {
  return sha256(canonicalJson(value))
}

export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

/** Closes a handle, ignoring errors (used in teardown). */
export async function closeQuietly(handle: LTM | undefined): Promise<void> {
  if (!handle) return
  try {
    await handle.close()
  } catch {
    // teardown only
  }
}

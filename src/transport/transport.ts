import { LtmFailure } from '../core/errors.js'
import type { ErrorType } from '../core/types.js'
import { Redactor } from './redact.js'

export interface RetryPolicy {
  /** Tries in all, the first included. @default 3 */
  attempts: number
  /** Backoff before the second try; doubles each time, with full jitter. @default 100 */
  baseDelayMs: number
  /** Upper bound of one backoff (a Retry-After above it is not waited for). @default 2000 */
  maxDelayMs: number
}

/** One HTTP exchange, reported to `onRequest` after it ended; the URL is redacted. */
export interface RequestReport {
  method: string
  url: string
  /** HTTP status, or null when no response arrived. */
  status: number | null
  attempt: number
  ms: number
  bytesSent: number
  bytesReceived: number
  /** How the exchange failed, or null. */
  errorType: ErrorType | null
}

export type HeaderSource = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>)

export interface TransportOptions {
  /** Names the backend in messages, e.g. `turso`. */
  name: string
  /** The fetch to wrap: the global one by default; undici's, a Workers fetch or a user's. */
  fetch?: typeof fetch
  /** Per attempt, until the whole response body has arrived. @default 30000 */
  timeoutMs?: number
  /** Retries of idempotent requests after a 5xx or a connection failure; `false` disables them. */
  retry?: Partial<RetryPolicy> | false
  /** Sent with every request (a function is called per request: token providers). */
  headers?: HeaderSource
  onRequest?: (report: RequestReport) => void
  /** Secret values to keep out of messages, besides credentials seen in request headers. */
  secrets?: Array<string | undefined>
  /**
   * For `fetch`: which requests are safe to send twice, so retried after a 5xx or a lost
   * connection (a client that reads through POST, like supabase-js's RPCs). @default by method:
   * GET, HEAD, PUT, DELETE, OPTIONS
   */
  idempotent?: (method: string, url: string) => boolean
  /**
   * For `fetch`: error answers the client classifies itself from their body (PostgREST's
   * `{ code, message }`), returned as responses, after the retries of an idempotent request, instead
   * of rejecting with a typed failure. Other 401/403/429/5xx answers still reject: a client that
   * keeps neither the status nor Retry-After would lose what they say.
   */
  passThrough?: (status: number, body: Uint8Array) => boolean
}

/** What every remote backend's options accept for its transport. */
export interface RemoteOptions {
  /** A custom fetch (undici's, a Workers fetch, a test double's). @default globalThis.fetch */
  fetch?: typeof fetch
  /** Per request, until the whole response has arrived. @default 30000 */
  timeoutMs?: number
  /** Retries of idempotent requests; `false` disables them. @default { attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 } */
  retry?: Partial<RetryPolicy> | false
  /** Called after every HTTP exchange (URL redacted): logging, metrics. */
  onRequest?: (report: RequestReport) => void
}

/** The transport of a remote backend from its options. */
export function transportFor(name: string, options: RemoteOptions, secrets: Array<string | undefined>, headers?: HeaderSource): Transport {
  return createTransport({ name, fetch: options.fetch, timeoutMs: options.timeoutMs, retry: options.retry, onRequest: options.onRequest, secrets, headers })
}

export interface TransportStats {
  requests: number
  retries: number
  failures: number
  bytes_sent: number
  bytes_received: number
}

export interface TransportRequest {
  method?: string
  headers?: Record<string, string>
  body?: string | Uint8Array<ArrayBuffer>
  /** Safe to send twice (a read). Defaults to the HTTP method's idempotency (GET, HEAD, PUT, DELETE, OPTIONS). */
  idempotent?: boolean
}

/** A response whose body has been read in full (within the timeout). */
export interface TransportResponse {
  status: number
  headers: Headers
  body: Uint8Array<ArrayBuffer>
  text(): string
  json(): unknown
}

/**
 * The one HTTP layer of every remote backend: timeouts, error classification, retries of
 * idempotent requests, credentials kept out of messages, and request counts.
 */
export interface Transport {
  readonly name: string
  /**
   * A fetch for third-party clients (`@libsql/client`'s `fetch`, supabase-js's `global.fetch`): same
   * timeout, counting, redaction and retries; 401/403/429/5xx are thrown as typed `LtmFailure`s so
   * the client passes their type through instead of flattening it into a message, except the
   * answers `passThrough` accepts, which are returned as they came.
   */
  readonly fetch: typeof fetch
  /** Sends a request; returns any response but 401/403/429/5xx, which become typed failures. */
  request(url: string, init?: TransportRequest): Promise<TransportResponse>
  /** Runs `fn`, retrying it like an idempotent request when it fails with a retryable failure. */
  retrying<T>(fn: () => Promise<T>): Promise<T>
  redact(text: string): string
  stats(): TransportStats
}

/** A failure of one HTTP exchange; `retryable` when sending the same request again may succeed. */
export class TransportFailure extends LtmFailure {
  constructor(
    errorType: ErrorType,
    message: string,
    readonly status: number | null,
    readonly retryable: boolean,
    retryAfter?: number,
  ) {
    super(errorType, message, retryAfter)
  }
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])
/** The response behind a status failure, for `fetch` to hand back when `passThrough` accepts it. */
const ANSWERS = new WeakMap<TransportFailure, TransportResponse>()
const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 }

/** Retry-After as seconds: delta-seconds or an HTTP date; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000))
}

/** A structured retry hint in a JSON error body: `retry_after`/`retryAfter` in seconds, at the top or under `error`. */
function retryAfterFromBody(body: unknown): number | undefined {
  const candidates = [body, (body as { error?: unknown } | null)?.error]
  for (const candidate of candidates) {
    if (!candidate || typeof candidate !== 'object') continue
    const value = (candidate as Record<string, unknown>).retry_after ?? (candidate as Record<string, unknown>).retryAfter
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
    if (typeof value === 'string') {
      const parsed = parseRetryAfter(value)
      if (parsed !== undefined) return parsed
    }
  }
  return undefined
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body))
  } catch {
    return undefined
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Why a fetch rejected without a response, from the error's structured fields (never its message). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; name?: unknown } } | null)?.cause
  if (typeof cause?.code === 'string') return cause.code
  if (typeof cause?.name === 'string') return cause.name
  return (error as { name?: string } | null)?.name ?? 'network error'
}

export function createTransport(options: TransportOptions): Transport {
  const name = options.name
  const baseFetch = options.fetch ?? globalThis.fetch?.bind(globalThis)
  if (typeof baseFetch !== 'function') throw new LtmFailure('dependency_missing', `${name}: no fetch is available here; pass one as the \`fetch\` option`)
  const timeoutMs = options.timeoutMs ?? 30_000
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new LtmFailure('invalid_input', `${name}: timeoutMs must be a positive number of milliseconds, got ${String(options.timeoutMs)}`)
  const retry: RetryPolicy = options.retry === false ? { ...DEFAULT_RETRY, attempts: 1 } : { ...DEFAULT_RETRY, ...options.retry }
  const redactor = new Redactor(options.secrets ?? [])
  const counts: TransportStats = { requests: 0, retries: 0, failures: 0, bytes_sent: 0, bytes_received: 0 }
  const redact = (text: string): string => redactor.redact(text)

  async function extraHeaders(): Promise<Record<string, string>> {
    const source = options.headers
    if (!source) return {}
    return typeof source === 'function' ? await source() : source
  }

  /** What a non-2xx status means; null for statuses the caller interprets itself (404, 400 with a body, ...). */
  function statusFailure(url: string, status: number, statusText: string, headers: Headers, body: Uint8Array): TransportFailure | null {
    const host = redact(new URL(url).host)
    const excerpt = redact(new TextDecoder().decode(body.subarray(0, 300))).replace(/\s+/g, ' ').trim()
    const said = `${host} answered ${status}${statusText ? ` ${statusText}` : ''}${excerpt ? `: ${excerpt}` : ''}`
    if (status === 401 || status === 403) {
      return new TransportFailure('auth_failed', `${name}: ${said} (check the credentials and their permissions)`, status, false)
    }
    if (status === 429) {
      const retryAfter = parseRetryAfter(headers.get('retry-after')) ?? retryAfterFromBody(parseJson(body))
      return new TransportFailure('rate_limited', `${name}: ${said} (rate limited${retryAfter !== undefined ? `; retry after ${retryAfter} s` : ''})`, status, false, retryAfter)
    }
    if (status === 408) return new TransportFailure('connection_timeout', `${name}: ${said} (the server timed out the request)`, status, true)
    if (status >= 500) return new TransportFailure('backend_error', `${name}: ${said}`, status, true, parseRetryAfter(headers.get('retry-after')))
    return null
  }

  /** One attempt: send, read the whole body within the timeout, classify. */
  async function attempt(url: string, method: string, headers: Headers, body: Uint8Array<ArrayBuffer> | undefined, signal: AbortSignal | null | undefined, attemptNo: number): Promise<TransportResponse> {
    const started = Date.now()
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, timeoutMs)
    const onCallerAbort = (): void => controller.abort()
    signal?.addEventListener('abort', onCallerAbort, { once: true })
    counts.requests++
    counts.bytes_sent += body?.byteLength ?? 0
    let status: number | null = null
    let received = 0
    let errorType: ErrorType | null = null
    try {
      let response: Response
      try {
        response = await baseFetch(url, { method, headers, body, signal: controller.signal })
      } catch (error) {
        throw connectionFailure(error, url, timedOut, signal, 'no response')
      }
      status = response.status
      let bytes: Uint8Array<ArrayBuffer>
      try {
        bytes = new Uint8Array(await response.arrayBuffer())
      } catch (error) {
        throw connectionFailure(error, url, timedOut, signal, 'the connection dropped while the response was being read')
      }
      received = bytes.byteLength
      counts.bytes_received += received
      const answer: TransportResponse = {
        status: response.status,
        headers: response.headers,
        body: bytes,
        text: () => new TextDecoder().decode(bytes),
        json: () => JSON.parse(new TextDecoder().decode(bytes)) as unknown,
      }
      const failure = response.ok ? null : statusFailure(url, response.status, response.statusText, response.headers, bytes)
      if (failure) {
        ANSWERS.set(failure, answer)
        throw failure
      }
      return answer
    } catch (error) {
      counts.failures++
      errorType = error instanceof LtmFailure ? error.errorType : 'backend_error'
      throw error
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onCallerAbort)
      options.onRequest?.({ method, url: redact(url), status, attempt: attemptNo, ms: Date.now() - started, bytesSent: body?.byteLength ?? 0, bytesReceived: received, errorType })
    }
  }

  function connectionFailure(error: unknown, url: string, timedOut: boolean, signal: AbortSignal | null | undefined, what: string): TransportFailure {
    const host = redact(new URL(url).host)
    if (timedOut) return new TransportFailure('connection_timeout', `${name}: ${host} did not answer within ${timeoutMs} ms (timeout; raise timeoutMs if the server is slow)`, null, false)
    if (signal?.aborted) return new TransportFailure('backend_error', `${name}: the request to ${host} was aborted by the caller`, null, false)
    const reason = redact(networkReason(error))
    return new TransportFailure('connection_timeout', `${name}: connection to ${host} failed: ${what} (${reason})`, null, true)
  }

  async function withRetries<T>(idempotent: boolean, run: (attemptNo: number) => Promise<T>): Promise<T> {
    const attempts = idempotent ? Math.max(1, retry.attempts) : 1
    for (let attemptNo = 1; ; attemptNo++) {
      try {
        return await run(attemptNo)
      } catch (error) {
        const retryable = error instanceof TransportFailure && error.retryable
        if (!retryable || attemptNo >= attempts) throw error
        counts.retries++
        const backoff = Math.random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attemptNo - 1))
        const hinted = error.retryAfter !== undefined ? error.retryAfter * 1000 : 0
        if (hinted > retry.maxDelayMs) throw error
        await sleep(Math.max(backoff, hinted))
      }
    }
  }

  async function send(url: string, method: string, headers: Headers, body: Uint8Array<ArrayBuffer> | undefined, idempotent: boolean, signal?: AbortSignal | null): Promise<TransportResponse> {
    for (const [key, value] of Object.entries(await extraHeaders())) headers.set(key, value)
    redactor.learnFrom(headers)
    return withRetries(idempotent, (attemptNo) => attempt(url, method, headers, body, signal, attemptNo))
  }

  const wrappedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined
    const method = request.method.toUpperCase()
    const idempotent = options.idempotent?.(method, request.url) ?? IDEMPOTENT_METHODS.has(method)
    let response: TransportResponse
    try {
      response = await send(request.url, method, new Headers(request.headers), body, idempotent, init?.signal ?? request.signal)
    } catch (error) {
      const answer = error instanceof TransportFailure ? ANSWERS.get(error) : undefined
      if (!answer || !options.passThrough?.(answer.status, answer.body)) throw error
      response = answer
    }
    const nullBody = response.status === 204 || response.status === 205 || response.status === 304 || method === 'HEAD'
    return new Response(nullBody ? null : response.body, { status: response.status, headers: response.headers })
  }

  return {
    name,
    fetch: wrappedFetch as typeof fetch,
    request(url, init = {}) {
      const method = (init.method ?? 'GET').toUpperCase()
      const body = typeof init.body === 'string' ? new TextEncoder().encode(init.body) : init.body
      return send(url, method, new Headers(init.headers), body, init.idempotent ?? IDEMPOTENT_METHODS.has(method))
    },
    retrying(fn) {
      return withRetries(true, () => fn())
    },
    redact,
    stats: () => ({ ...counts }),
  }
}

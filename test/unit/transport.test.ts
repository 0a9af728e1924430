// The fetch transport against a real HTTP server on loopback: every status, stall and dropped
// connection here is real traffic, not a stubbed fetch.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { LtmFailure } from '../../src/core/errors.js'
import { Redactor } from '../../src/transport/redact.js'
import { createTransport, parseRetryAfter, TransportFailure, type RequestReport } from '../../src/transport/transport.js'

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void
let server: Server
let base: string
let handler: Handler
const seen: Array<{ method: string; url: string; authorization: string | undefined; body: string }> = []

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      seen.push({ method: request.method!, url: request.url!, authorization: request.headers.authorization, body })
      handler(request, body, response)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})
beforeEach(() => {
  seen.length = 0
  handler = (_request, _body, response) => response.end('ok')
})

const TOKEN = 'tok_live_4f9c2b7e1d'
const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  response.writeHead(status, { 'content-type': 'application/json', ...headers })
  response.end(JSON.stringify(body))
}
async function failureOf(promise: Promise<unknown>): Promise<TransportFailure> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TransportFailure)
  return error as TransportFailure
}

describe('createTransport', () => {
  it('sends the request with extra headers and returns the whole body; counts requests and bytes', async () => {
    handler = (_request, body, response) => json(response, 200, { echo: body })
    const transport = createTransport({ name: 'test', headers: () => ({ authorization: `Bearer ${TOKEN}` }) })
    const response = await transport.request(`${base}/q`, { method: 'POST', body: 'hello' })
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ echo: 'hello' })
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/q', authorization: `Bearer ${TOKEN}`, body: 'hello' })
    expect(transport.stats()).toEqual({ requests: 1, retries: 0, failures: 0, bytes_sent: 5, bytes_received: Buffer.byteLength('{"echo":"hello"}') })
  })

  it('401 and 403 are auth_failed, never retried, and the message names no secret', async () => {
    for (const status of [401, 403]) {
      seen.length = 0
      handler = (_request, _body, response) => json(response, status, { error: `bad token ${TOKEN}` })
      const transport = createTransport({ name: 'test', headers: { authorization: `Bearer ${TOKEN}` } })
      const failure = await failureOf(transport.request(`${base}/x`))
      expect(failure.errorType).toBe('auth_failed')
      expect(failure.status).toBe(status)
      expect(failure.message).not.toContain(TOKEN)
      expect(failure.message).toContain('[REDACTED]')
      expect(seen).toHaveLength(1)
    }
  })

  it('429 is rate_limited with retry_after from Retry-After seconds, an HTTP date, or a structured body', async () => {
    const transport = createTransport({ name: 'test' })
    handler = (_request, _body, response) => json(response, 429, {}, { 'retry-after': '7' })
    expect((await failureOf(transport.request(`${base}/a`))).toResult()).toMatchObject({ success: false, error_type: 'rate_limited', retry_after: 7 })
    const inNinety = new Date(Date.now() + 90_000).toUTCString()
    handler = (_request, _body, response) => json(response, 429, {}, { 'retry-after': inNinety })
    const dated = (await failureOf(transport.request(`${base}/b`))).retryAfter!
    expect(dated).toBeGreaterThanOrEqual(88)
    expect(dated).toBeLessThanOrEqual(91)
    handler = (_request, _body, response) => json(response, 429, { error: { retry_after: 3 } })
    expect((await failureOf(transport.request(`${base}/c`))).retryAfter).toBe(3)
    expect(seen).toHaveLength(3) // a 429 is returned to the caller, not retried
  })

  it('retries a 5xx only for idempotent requests, with backoff, then reports backend_error', async () => {
    handler = (_request, _body, response) => json(response, 503, { error: 'overloaded' })
    const transport = createTransport({ name: 'test', retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 } })
    const get = await failureOf(transport.request(`${base}/r`))
    expect(get.errorType).toBe('backend_error')
    expect(seen.filter((r) => r.method === 'GET')).toHaveLength(3)
    const post = await failureOf(transport.request(`${base}/w`, { method: 'POST', body: '{}' }))
    expect(post.errorType).toBe('backend_error')
    expect(seen.filter((r) => r.method === 'POST')).toHaveLength(1)
    await failureOf(transport.request(`${base}/w`, { method: 'POST', body: '{}', idempotent: true }))
    expect(seen.filter((r) => r.method === 'POST')).toHaveLength(4)
    expect(transport.stats()).toMatchObject({ requests: 7, retries: 4, failures: 7 })
  })

  it('a retried 5xx that then succeeds returns the success', async () => {
    let calls = 0
    handler = (_request, _body, response) => (++calls < 3 ? json(response, 500, {}) : json(response, 200, { ok: true }))
    const transport = createTransport({ name: 'test', retry: { baseDelayMs: 1 } })
    expect((await transport.request(`${base}/flaky`)).json()).toEqual({ ok: true })
    expect(transport.stats()).toMatchObject({ requests: 3, retries: 2 })
  })

  it('a server that never answers is connection_timeout after timeoutMs', async () => {
    handler = () => undefined // holds the request open
    const transport = createTransport({ name: 'test', timeoutMs: 150 })
    const started = Date.now()
    const failure = await failureOf(transport.request(`${base}/stall`))
    expect(failure.errorType).toBe('connection_timeout')
    expect(failure.message).toMatch(/did not answer within 150 ms/)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('a body that stops arriving is a timeout too (the timer covers the whole response)', async () => {
    handler = (_request, _body, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' })
      response.write('partial') // and never ends
    }
    const failure = await failureOf(createTransport({ name: 'test', timeoutMs: 150 }).request(`${base}/slow-body`))
    expect(failure.errorType).toBe('connection_timeout')
  })

  it('a connection dropped mid-response is connection_timeout, saying so', async () => {
    handler = (_request, _body, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
      response.write('{"partial":')
      setTimeout(() => response.socket?.destroy(), 20)
    }
    const failure = await failureOf(createTransport({ name: 'test', retry: false }).request(`${base}/drop`))
    expect(failure.errorType).toBe('connection_timeout')
    expect(failure.message).toMatch(/connection dropped while the response was being read/)
  })

  it('a refused connection is connection_timeout naming the reason', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const failure = await failureOf(createTransport({ name: 'test', retry: { attempts: 2, baseDelayMs: 1 } }).request(`http://127.0.0.1:${port}/`))
    expect(failure.errorType).toBe('connection_timeout')
    expect(failure.message).toMatch(/ECONNREFUSED/)
  })

  it('other statuses (404, 400) are returned for the backend to read', async () => {
    handler = (_request, _body, response) => json(response, 400, { errors: [{ code: 7500, message: 'no such table' }] })
    const response = await createTransport({ name: 'test' }).request(`${base}/bad`, { method: 'POST', body: '{}' })
    expect(response.status).toBe(400)
    expect(response.json()).toEqual({ errors: [{ code: 7500, message: 'no such table' }] })
  })

  it('redacts signatures and tokens in URLs from messages and onRequest reports', async () => {
    handler = (_request, _body, response) => json(response, 403, { url: `${base}/blob?sig=abc123secret&se=2030` })
    const reports: RequestReport[] = []
    const transport = createTransport({ name: 'test', onRequest: (report) => reports.push(report) })
    const failure = await failureOf(transport.request(`${base}/blob?sig=abc123secret&se=2030&X-Amz-Signature=deadbeef99`))
    expect(failure.message).not.toContain('abc123secret')
    expect(reports[0]!.url).toBe(`${base}/blob?sig=[REDACTED]&se=2030&X-Amz-Signature=[REDACTED]`)
    expect(reports[0]).toMatchObject({ method: 'GET', status: 403, attempt: 1, errorType: 'auth_failed' })
  })

  describe('the fetch handed to third-party clients', () => {
    it('passes ordinary responses through (status, headers, body) and learns credentials from request headers', async () => {
      handler = (_request, _body, response) => json(response, 404, { message: `nothing here for ${TOKEN}` }, { 'x-kind': 'missing' })
      const transport = createTransport({ name: 'client' })
      const response = await transport.fetch(new Request(`${base}/probe`, { headers: { authorization: `Bearer ${TOKEN}` } }))
      expect(response.status).toBe(404)
      expect(response.headers.get('x-kind')).toBe('missing')
      expect(await response.json()).toEqual({ message: `nothing here for ${TOKEN}` })
      expect(transport.redact(`error with ${TOKEN}`)).toBe('error with [REDACTED]')
    })

    it('throws typed failures for 401 and 429 instead of handing the client a response to flatten', async () => {
      handler = (_request, _body, response) => json(response, 429, { message: 'slow down' }, { 'retry-after': '2' })
      const transport = createTransport({ name: 'client' })
      const error = await transport.fetch(`${base}/p`, { method: 'POST', body: 'x' }).then(
        () => null,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(LtmFailure)
      expect((error as LtmFailure).toResult()).toMatchObject({ error_type: 'rate_limited', retry_after: 2 })
    })

    it('re-sends a POST body on retry only when retrying is safe, and keeps the body for every attempt', async () => {
      let calls = 0
      handler = (_request, body, response) => (++calls === 1 ? json(response, 502, {}) : json(response, 200, { body }))
      const transport = createTransport({ name: 'client', retry: { baseDelayMs: 1 } })
      const put = await transport.fetch(`${base}/put`, { method: 'PUT', body: 'payload' })
      expect(await put.json()).toEqual({ body: 'payload' })
      expect(seen.map((r) => r.body)).toEqual(['payload', 'payload'])
    })

    it('idempotent: marks reads sent as POST; passThrough: returns the answers the client classifies itself, after the retries', async () => {
      const postgrest = { code: '57P01', details: null, hint: null, message: 'terminating connection due to administrator command' }
      handler = (request, _body, response) =>
        request.url === '/rpc/read' ? json(response, 503, postgrest) : request.url === '/gateway' ? json(response, 401, { message: 'Invalid API key' }) : json(response, 500, postgrest)
      const transport = createTransport({
        name: 'client',
        retry: { baseDelayMs: 1 },
        idempotent: (method, url) => method === 'POST' && url.endsWith('/rpc/read'),
        passThrough: (_status, body) => typeof (JSON.parse(new TextDecoder().decode(body)) as { code?: unknown }).code === 'string',
      })
      const read = await transport.fetch(`${base}/rpc/read`, { method: 'POST', body: '{}' })
      expect(read.status).toBe(503)
      expect(await read.json()).toEqual(postgrest)
      expect(seen.filter((r) => r.url === '/rpc/read')).toHaveLength(3) // retried, then the last answer handed over
      const write = await transport.fetch(`${base}/rpc/write`, { method: 'POST', body: '{}' })
      expect(write.status).toBe(500)
      expect(seen.filter((r) => r.url === '/rpc/write')).toHaveLength(1) // a write is never re-sent
      // An answer the client cannot classify (no structured body) still rejects, typed.
      const gateway = await transport.fetch(`${base}/gateway`, { method: 'POST', body: '{}' }).then(
        () => null,
        (e: unknown) => e,
      )
      expect((gateway as LtmFailure).errorType).toBe('auth_failed')
    })
  })
})

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates; ignores junk', () => {
    const now = Date.parse('2026-11-23T12:00:00Z')
    expect(parseRetryAfter('120', now)).toBe(120)
    expect(parseRetryAfter('Mon, 23 Nov 2026 12:00:30 GMT', now)).toBe(30)
    expect(parseRetryAfter('Mon, 23 Nov 2026 11:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(null, now)).toBeUndefined()
  })
})

describe('Redactor', () => {
  it('removes known secrets, bearer credentials, JWTs and signed-URL parameters', () => {
    const redactor = new Redactor(['s3cr3t-key'])
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'
    const text = `key s3cr3t-key; Authorization: Bearer abc.def-123; token ${jwt}; https://x.test/f?X-Goog-Signature=0a1b&alt=media&token=zz9`
    expect(redactor.redact(text)).toBe('key [REDACTED]; Authorization: Bearer [REDACTED]; token [REDACTED]; https://x.test/f?X-Goog-Signature=[REDACTED]&alt=media&token=[REDACTED]')
  })

  it('ignores values too short to be secrets', () => {
    expect(new Redactor(['ab']).redact('a tab of abc')).toBe('a tab of abc')
  })
})

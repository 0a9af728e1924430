// The fault proxy in front of a small real HTTP server: what passes through arrives unchanged, and
// every injected fault is what a real client (global fetch, node:http) observes on the wire.
import { createServer, get, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFaultProxy, type FaultProxy } from './fault-proxy.js'

const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }> = []
const BIG = Buffer.alloc(1 << 20, 'abcdefghij')
let target: Server
let targetUrl: string
let proxy: FaultProxy

beforeAll(async () => {
  target = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks)
      seen.push({ method: request.method!, url: request.url!, headers: request.headers, body })
      const url = new URL(request.url!, 'http://x')
      if (url.pathname === '/big') {
        // chunked, in several writes: a streamed answer
        response.writeHead(200, { 'content-type': 'application/octet-stream' })
        for (let i = 0; i < BIG.length; i += 64 * 1024) response.write(BIG.subarray(i, i + 64 * 1024))
        return void response.end()
      }
      if (url.pathname === '/tiny') return void response.end('ok')
      if (url.pathname === '/missing') {
        response.writeHead(404, { 'content-type': 'application/json' })
        return void response.end('{"error":"no such row"}')
      }
      if (request.method === 'OPTIONS') {
        response.writeHead(204, { 'access-control-allow-origin': 'https://app.example', 'access-control-allow-headers': 'authorization' })
        return void response.end()
      }
      response.writeHead(201, 'Made', [
        ['content-type', 'application/json'],
        ['x-target', 'yes'],
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
      ].flat())
      response.end(JSON.stringify({ method: request.method, url: request.url, length: body.length }))
    })
  })
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`
  proxy = await startFaultProxy(targetUrl)
})
afterAll(async () => {
  await proxy.close()
  target.closeAllConnections()
  await new Promise((resolve) => target.close(resolve))
})
beforeEach(() => {
  proxy.clear()
  proxy.log.length = 0
  seen.length = 0
})

const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error,
  )

describe('pass-through', () => {
  it('relays status, reason, headers and body; the target gets method, path, query, Authorization and its own Host', async () => {
    const response = await fetch(`${proxy.url}/rows?id=7&q=a%20b`, { headers: { authorization: 'Bearer tok_123', 'x-client': 'c' } })
    expect(response.status).toBe(201)
    expect(response.statusText).toBe('Made')
    expect(response.headers.get('x-target')).toBe('yes')
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(await response.json()).toEqual({ method: 'GET', url: '/rows?id=7&q=a%20b', length: 0 })
    expect(seen).toHaveLength(1)
    expect(seen[0]!.url).toBe('/rows?id=7&q=a%20b')
    expect(seen[0]!.headers).toMatchObject({ authorization: 'Bearer tok_123', 'x-client': 'c', host: new URL(targetUrl).host })
    expect(proxy.log).toEqual([{ method: 'GET', path: '/rows?id=7&q=a%20b', status: 201, fault: null }])
  })

  it('forwards a POST body and relays the target’s own errors as they are', async () => {
    const body = JSON.stringify({ sql: 'SELECT 1', args: ['é', 2] })
    const response = await fetch(`${proxy.url}/v2/pipeline`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
    expect(await response.json()).toMatchObject({ method: 'POST', length: Buffer.byteLength(body) })
    expect(seen[0]!.body.toString()).toBe(body)
    expect(seen[0]!.headers['content-type']).toBe('application/json')

    const missing = await fetch(`${proxy.url}/missing`)
    expect(missing.status).toBe(404)
    expect(await missing.text()).toBe('{"error":"no such row"}')
    expect(proxy.log.map((entry) => entry.status)).toEqual([201, 404])
  })

  it('streams a 1 MiB upload and a chunked 1 MiB download byte for byte', async () => {
    const upload = Buffer.alloc(1 << 20, 'zyxw')
    const response = await fetch(`${proxy.url}/upload`, { method: 'PUT', body: upload })
    expect(await response.json()).toMatchObject({ length: upload.length })
    expect(seen[0]!.body.equals(upload)).toBe(true)
    const download = Buffer.from(await (await fetch(`${proxy.url}/big`)).arrayBuffer())
    expect(download.equals(BIG)).toBe(true)
  })

  it('relays CORS preflights as the target answers them, and they take no fault', async () => {
    proxy.inject({ kind: 'status', status: 500 })
    const preflight = await fetch(`${proxy.url}/rows`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect((await fetch(`${proxy.url}/rows`, { method: 'POST', body: 'x' })).status).toBe(500)
  })

  it('keeps the target’s path in its url, and answers 502 when the target is down', async () => {
    const dead = createServer()
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/client/v4/`
    await new Promise((resolve) => dead.close(resolve))
    const other = await startFaultProxy(deadUrl)
    try {
      expect(other.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/client\/v4$/)
      const response = await fetch(`${other.url}/query`)
      expect(response.status).toBe(502)
      expect(await response.text()).toMatch(/ECONNREFUSED/)
      expect(other.log).toEqual([{ method: 'GET', path: '/client/v4/query', status: 502, fault: null }])
    } finally {
      await other.close()
    }
  })
})

describe('faults', () => {
  it('status faults answer 401, 403 and 500 with their bodies, CORS headers, and never reach the target', async () => {
    proxy.inject({ kind: 'status', status: 401, body: '{"error":"bad token"}', contentType: 'application/json' })
    proxy.inject({ kind: 'status', status: 403 })
    proxy.inject({ kind: 'status', status: 500, body: 'boom' })
    const unauthorized = await fetch(`${proxy.url}/a`, { method: 'POST', body: 'x' })
    expect(unauthorized.status).toBe(401)
    expect(unauthorized.headers.get('content-type')).toBe('application/json')
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe('*')
    expect(await unauthorized.json()).toEqual({ error: 'bad token' })
    const forbidden = await fetch(`${proxy.url}/b`)
    expect([forbidden.status, await forbidden.text()]).toEqual([403, 'fault-proxy: injected 403'])
    const failed = await fetch(`${proxy.url}/c`)
    expect([failed.status, await failed.text()]).toEqual([500, 'boom'])
    expect(seen).toHaveLength(0)
    expect(proxy.log.map(({ status, fault }) => [status, fault])).toEqual([
      [401, 'status'],
      [403, 'status'],
      [500, 'status'],
    ])
  })

  it('rate-limit answers 429 with Retry-After in seconds or as an HTTP date, exposed to browsers', async () => {
    const date = new Date(Date.now() + 90_000).toUTCString()
    proxy.inject({ kind: 'rate-limit', retryAfter: '7' })
    proxy.inject({ kind: 'rate-limit', retryAfter: date, body: '{"retry":true}' })
    const first = await fetch(`${proxy.url}/a`)
    expect(first.status).toBe(429)
    expect(first.headers.get('retry-after')).toBe('7')
    expect(first.headers.get('access-control-expose-headers')).toBe('Retry-After')
    await first.text()
    const second = await fetch(`${proxy.url}/a`)
    expect([second.status, second.headers.get('retry-after'), await second.text()]).toEqual([429, date, '{"retry":true}'])
    expect(seen).toHaveLength(0)
  })

  it('stall never answers: a fetch with a timeout aborts, the proxy logs stalled, the target never sees it', async () => {
    proxy.inject({ kind: 'stall' })
    const started = Date.now()
    const error = await rejection(fetch(`${proxy.url}/slow`, { method: 'POST', body: 'x', signal: AbortSignal.timeout(300) }))
    expect((error as Error).name).toBe('TimeoutError')
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    expect(proxy.log).toEqual([{ method: 'POST', path: '/slow', status: 'stalled', fault: 'stall' }])
    expect(seen).toHaveLength(0)
    expect((await fetch(`${proxy.url}/after`)).status).toBe(201)
  })

  it('drop-mid-response gives the real status and headers, then a body read that fails', async () => {
    for (const path of ['/big', '/tiny', '/rows']) {
      proxy.inject({ kind: 'drop-mid-response' })
      const response = await fetch(`${proxy.url}${path}`)
      expect(response.status).toBe(path === '/rows' ? 201 : 200)
      await expect(response.text()).rejects.toThrow()
    }
    expect(seen.map((request) => request.url)).toEqual(['/big', '/tiny', '/rows'])
    expect(proxy.log.map(({ status, fault }) => [status, fault])).toEqual(Array(3).fill(['dropped', 'drop-mid-response']))
  })

  it('drop-mid-response really sends part of the body before the connection ends', async () => {
    for (const [path, full] of [['/big', BIG.length], ['/tiny', 2]] as const) {
      proxy.inject({ kind: 'drop-mid-response' })
      const { received, error, declared } = await new Promise<{ received: number; error: Error | null; declared: string | undefined }>((resolve) => {
        get(`${proxy.url}${path}`, (response) => {
          let received = 0
          response.on('data', (chunk: Buffer) => (received += chunk.length))
          response.on('error', (error) => resolve({ received, error, declared: response.headers['content-length'] }))
          response.on('end', () => resolve({ received, error: null, declared: response.headers['content-length'] }))
        })
      })
      expect(declared).toBe(String(full))
      expect(received).toBe(Math.floor(full / 2))
      expect(error?.message).toMatch(/aborted/)
    }
  })

  it('forward-then-status: the target gets and answers the request, the client gets 500 or 503', async () => {
    proxy.inject({ kind: 'forward-then-status', status: 500 })
    proxy.inject({ kind: 'forward-then-status', status: 503 })
    const first = await fetch(`${proxy.url}/v2/pipeline`, { method: 'POST', body: '{"write":1}' })
    expect(first.status).toBe(500)
    expect(first.headers.get('access-control-allow-origin')).toBe('*')
    expect(await first.text()).toMatch(/after forwarding \(the target answered 201\)/)
    expect((await fetch(`${proxy.url}/v2/pipeline`, { method: 'POST', body: '{"write":2}' })).status).toBe(503)
    expect(seen.map((request) => request.body.toString())).toEqual(['{"write":1}', '{"write":2}'])
    expect(proxy.log.map(({ status, fault }) => [status, fault])).toEqual([
      [500, 'forward-then-status'],
      [503, 'forward-then-status'],
    ])
  })

  it('delay forwards after the delay, body intact, and still forwards when the client gave up', async () => {
    proxy.inject({ kind: 'delay', ms: 250 })
    const started = Date.now()
    const response = await fetch(`${proxy.url}/rows`, { method: 'POST', body: 'late' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(240)
    expect(await response.json()).toMatchObject({ length: 4 })
    expect(seen[0]!.body.toString()).toBe('late')

    proxy.inject({ kind: 'delay', ms: 200 })
    await rejection(fetch(`${proxy.url}/rows`, { method: 'POST', body: 'abandoned', signal: AbortSignal.timeout(50) }))
    await expect.poll(() => proxy.log.length).toBe(2)
    expect(seen[1]!.body.toString()).toBe('abandoned')
    expect(proxy.log[1]).toMatchObject({ status: 'dropped', fault: 'delay' })
  })
})

describe('scheduling', () => {
  it('times applies a fault to that many requests, queued faults apply in order, then traffic passes', async () => {
    proxy.inject({ kind: 'status', status: 503 }, { times: 2 })
    proxy.inject({ kind: 'rate-limit', retryAfter: '1' })
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${proxy.url}/r${i}`)).status)
    expect(statuses).toEqual([503, 503, 429, 201])
    expect(seen.map((request) => request.url)).toEqual(['/r3'])
    expect(() => proxy.inject({ kind: 'stall' }, { times: 0 })).toThrow(RangeError)
  })

  it('match limits a fault to the requests it accepts; the others pass without using it up', async () => {
    proxy.inject({ kind: 'status', status: 500 }, { times: 2, match: ({ method, path }) => method === 'POST' && path.startsWith('/v2/pipeline') })
    const statuses: number[] = []
    statuses.push((await fetch(`${proxy.url}/health`)).status)
    statuses.push((await fetch(`${proxy.url}/v2/pipeline`, { method: 'POST', body: '{}' })).status)
    statuses.push((await fetch(`${proxy.url}/v2/pipeline?x=1`)).status)
    statuses.push((await fetch(`${proxy.url}/v2/pipeline?x=1`, { method: 'POST', body: '{}' })).status)
    statuses.push((await fetch(`${proxy.url}/v2/pipeline`, { method: 'POST', body: '{}' })).status)
    expect(statuses).toEqual([201, 500, 201, 500, 201])
    expect(proxy.log.map((entry) => entry.fault)).toEqual([null, 'status', null, 'status', null])
  })

  it('clear drops queued faults', async () => {
    proxy.inject({ kind: 'status', status: 500 }, { times: 5 })
    proxy.clear()
    expect((await fetch(`${proxy.url}/x`)).status).toBe(201)
  })
})

describe('close', () => {
  it('does not hang with a stalled request open, and the stalled client sees its connection end', async () => {
    const other = await startFaultProxy(targetUrl)
    other.inject({ kind: 'stall' })
    const pending = rejection(fetch(`${other.url}/hang`))
    await expect.poll(() => other.log.length).toBe(1)
    const started = Date.now()
    await other.close()
    expect(Date.now() - started).toBeLessThan(1000)
    expect(await pending).toBeInstanceOf(TypeError) // fetch failed: the socket closed
    await expect(fetch(`${other.url}/again`)).rejects.toThrow()
  })
})

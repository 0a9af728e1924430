// A reverse proxy in front of a real test server (Hrana, D1 REST, PostgREST, the Firestore emulator)
// that injects faults into real traffic. The client under test meets genuine HTTP failures on a real
// socket, and every request the proxy forwards really reaches, and takes effect on, the real server.
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream'

/**
 * One injected failure, applied to one request.
 * @example proxy.inject({ kind: 'rate-limit', retryAfter: '2' }, { match: (r) => r.path.startsWith('/v2/pipeline') })
 */
export type Fault =
  /** Answered by the proxy; the request is NOT forwarded. */
  | { kind: 'status'; status: 401 | 403 | 500 | 502 | 503; body?: string; contentType?: string }
  /** A 429 with this Retry-After (seconds or an HTTP date); NOT forwarded. */
  | { kind: 'rate-limit'; retryAfter: string; body?: string }
  /** Accepts the request and never answers, until the client gives up or the proxy closes; NOT forwarded. */
  | { kind: 'stall' }
  /** Forwards, sends the real status line, headers and half the real body, then cuts the connection. */
  | { kind: 'drop-mid-response' }
  /** Forwards (so it takes effect on the server), then answers with this status: "committed, but the answer was lost". */
  | { kind: 'forward-then-status'; status: 500 | 503 }
  /** Forwards after this many milliseconds. The request still goes if the client gives up meanwhile, as on a slow network. */
  | { kind: 'delay'; ms: number }

/** What the client got for one request: a status, no answer at all, or a connection cut before the answer was complete. */
export interface FaultLogEntry {
  method: string
  /** Path and query string, as the client sent them. */
  path: string
  status: number | 'stalled' | 'dropped'
  fault: Fault['kind'] | null
}

export interface InjectOptions {
  /** How many requests get this fault. @default 1 */
  times?: number
  /** Only requests this accepts get the fault; the others pass through without using it up. `path` includes the query string. */
  match?: (request: { method: string; path: string }) => boolean
}

export interface FaultProxy {
  /** The target's URL with the proxy's origin (`http://127.0.0.1:PORT` plus the target's path, if it has one). */
  url: string
  /**
   * Queue a fault for the next request(s). Each request takes the first queued fault whose `match` accepts
   * it. CORS preflights (OPTIONS with Access-Control-Request-Method) are always relayed and take no fault,
   * so a browser client meets the fault on its real request.
   */
  inject(fault: Fault, options?: InjectOptions): void
  /** Drop every queued fault (the log is kept; empty it with `log.length = 0`). */
  clear(): void
  /** One entry per request, in the order the outcome was known. */
  log: FaultLogEntry[]
  /** Stop listening and end every connection, stalled ones included. */
  close(): Promise<void>
}

interface Queued {
  fault: Fault
  left: number
  match: InjectOptions['match']
}

// Hop-by-hop headers describe one connection, so they are never copied to the next one.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']

// Injected answers must be readable by a browser client too, Retry-After included.
const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'Retry-After' }

/** Start a fault proxy on a random free loopback port in front of `target` (an http:// URL). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const base = new URL(target)
  if (base.protocol !== 'http:') throw new Error(`fault-proxy: only http:// targets are supported, got ${target}`)
  // No keep-alive upstream: a reused socket that the target closed at its idle timeout would surface
  // as a 502 nobody injected.
  const agent = new Agent({ keepAlive: false })
  const queue: Queued[] = []
  const log: FaultLogEntry[] = []
  const delays = new Set<() => void>()
  let closed = false

  function take(request: { method: string; path: string }): Fault | null {
    const index = queue.findIndex((queued) => !queued.match || queued.match(request))
    const queued = queue[index]
    if (!queued) return null
    if (--queued.left === 0) queue.splice(index, 1)
    return queued.fault
  }

  function forward(request: IncomingMessage, body: IncomingMessage | Buffer): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = { ...withoutHopByHop(request.headers), host: base.host }
      const upstream = httpRequest(
        { agent, hostname: base.hostname, port: base.port, method: request.method, path: request.url, headers },
        resolve,
      )
      upstream.on('error', reject)
      if (Buffer.isBuffer(body)) return void upstream.end(body)
      body.pipe(upstream)
      // A client that leaves before its body is complete must not leave a half request upstream.
      body.on('close', () => {
        if (!body.complete) upstream.destroy(new Error('the client left before its request was complete'))
      })
    })
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET'
    const path = request.url ?? '/'
    const preflight = method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined
    const fault = preflight ? null : take({ method, path })
    let logged = false
    const record = (status: FaultLogEntry['status']): void => {
      if (!logged) log.push({ method, path, status, fault: fault?.kind ?? null })
      logged = true
    }
    request.on('error', () => {}) // a client that aborts is an outcome here, not a crash

    try {
      switch (fault?.kind) {
        case undefined:
          return relay(await forward(request, request), response, record)
        case 'status': {
          await readAll(request)
          record(fault.status)
          return answer(response, fault.status, fault.body ?? `fault-proxy: injected ${fault.status}`, {
            'content-type': fault.contentType ?? 'text/plain; charset=utf-8',
          })
        }
        case 'rate-limit': {
          await readAll(request)
          record(429)
          return answer(response, 429, fault.body ?? 'fault-proxy: injected 429', {
            'content-type': 'text/plain; charset=utf-8',
            'retry-after': fault.retryAfter,
          })
        }
        case 'stall':
          record('stalled')
          request.resume()
          return
        case 'drop-mid-response': {
          const upstream = await forward(request, request)
          const body = await readAll(upstream)
          record('dropped')
          return dropMidBody(upstream, body, response)
        }
        case 'forward-then-status': {
          const upstream = await forward(request, request)
          await readAll(upstream)
          record(gone(response) ? 'dropped' : fault.status)
          return answer(response, fault.status, `fault-proxy: injected ${fault.status} after forwarding (the target answered ${upstream.statusCode})`, {
            'content-type': 'text/plain; charset=utf-8',
          })
        }
        case 'delay': {
          // Buffer the body meanwhile, so the request can still go if the client gives up during the delay.
          const [body] = await Promise.all([readAll(request), sleep(fault.ms)])
          if (closed) return void response.destroy()
          return relay(await forward(request, body), response, record)
        }
      }
    } catch (error) {
      if (gone(response)) {
        record('dropped')
        response.destroy()
      } else {
        record(502)
        answer(response, 502, `fault-proxy: the target failed: ${(error as Error).message}`, { 'content-type': 'text/plain; charset=utf-8' })
      }
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        delays.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      delays.add(done)
    })
  }

  // No request timeout: a stalled or slow exchange ends when the test says so, not after Node's 300 s.
  const server = createServer({ requestTimeout: 0 }, (request, response) => void handle(request, response))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  const path = base.pathname.replace(/\/+$/, '')

  return {
    url: `http://127.0.0.1:${port}${path}`,
    log,
    inject(fault, options = {}) {
      const times = options.times ?? 1
      if (!Number.isInteger(times) || times < 1) throw new RangeError(`fault-proxy: times must be a positive integer, got ${times}`)
      if (fault.kind === 'delay' && !(fault.ms >= 0)) throw new RangeError(`fault-proxy: delay must be >= 0 ms, got ${fault.ms}`)
      queue.push({ fault: { ...fault }, left: times, match: options.match })
    },
    clear() {
      queue.length = 0
    },
    async close() {
      if (closed) return
      closed = true
      for (const done of [...delays]) done()
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      agent.destroy()
      await stopped
    },
  }
}

/** Relay the real answer, streaming; a failure on either side cuts the other. */
function relay(upstream: IncomingMessage, response: ServerResponse, record: (status: FaultLogEntry['status']) => void): void {
  if (gone(response)) {
    record('dropped')
    upstream.resume()
    return
  }
  record(upstream.statusCode ?? 502)
  response.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, withoutHopByHop(upstream.headers))
  pipeline(upstream, response, () => {})
}

/**
 * Send the real status line and headers with the full Content-Length, then half the body, then close.
 * The client has a response and a body that ends early: a read error, never a clean end. An empty body
 * is announced as one byte so even that read fails.
 */
function dropMidBody(upstream: IncomingMessage, body: Buffer, response: ServerResponse): void {
  const headers = withoutHopByHop(upstream.headers)
  delete headers['content-length']
  response.writeHead(upstream.statusCode ?? 200, upstream.statusMessage, { ...headers, 'content-length': String(Math.max(body.length, 1)) })
  response.flushHeaders()
  // Close (FIN) only once the partial bytes are handed to the kernel; a reset now could discard them.
  response.write(body.subarray(0, Math.floor(body.length / 2)), () => response.socket?.destroy())
}

function answer(response: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders): void {
  if (gone(response)) return
  response.writeHead(status, { ...CORS, ...headers, 'content-length': Buffer.byteLength(body) })
  response.end(body)
}

function gone(response: ServerResponse): boolean {
  return response.headersSent || response.destroyed || !response.socket || response.socket.destroyed
}

function withoutHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const copy: OutgoingHttpHeaders = { ...headers }
  for (const name of HOP_BY_HOP) delete copy[name]
  return copy
}

/** The whole stream; rejects if it ends early (a client that left, an upstream that cut the body). */
function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    stream.on('end', () => resolve(Buffer.concat(chunks)))
    stream.on('error', reject)
    stream.on('close', () => reject(new Error('the stream closed before its end')))
  })
}

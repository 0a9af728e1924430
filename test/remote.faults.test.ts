// Faults injected into real traffic: a proxy (test/servers/fault-proxy.ts) sits between the SDK and
// a real server and answers 401/403/429/500, stalls, or cuts the connection mid-response. Each case
// checks the typed result, and then, through a fresh client that bypasses the proxy, that the data
// is exactly what it was before the failed call (or, where the server did get the write, that it
// landed whole).
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLTM, type LTM, type LtmOptions } from '../src/index.node.js'
import { ok } from './conformance/harness.js'
import { startD1Server, type D1Server } from './servers/d1-server.js'
import { startFaultProxy, type FaultProxy } from './servers/fault-proxy.js'
import { startHranaServer, type HranaServer } from './servers/hrana-server.js'
import { startPostgresServer } from './servers/postgres-server.js'
import { startPostgrestServer } from './servers/postgrest-server.js'

const TOKEN = 'secret-token-7f3a9c1e5b'

interface RemoteUnderTest {
  name: string
  start(): Promise<{ direct: LtmOptions; proxied(proxyUrl: string): LtmOptions; target: string; close(): Promise<void> }>
  /** Requests that carry an operation's statements (not version probes). */
  isOperation(request: { method: string; path: string }): boolean
}

const remotes: RemoteUnderTest[] = [
  {
    name: 'turso',
    async start() {
      const server: HranaServer = await startHranaServer({ authToken: TOKEN })
      return {
        direct: { backend: 'turso', url: server.url, authToken: TOKEN },
        proxied: (proxyUrl) => ({ backend: 'turso', url: proxyUrl, authToken: TOKEN, timeoutMs: 500, retry: { baseDelayMs: 5 } }),
        target: server.url,
        close: () => server.close(),
      }
    },
    isOperation: (request) => request.method === 'POST' && request.path.includes('pipeline'),
  },
  {
    name: 'd1 (REST)',
    async start() {
      const server: D1Server = await startD1Server({ apiToken: TOKEN })
      const ids = { accountId: server.accountId, databaseId: server.databaseId, apiToken: TOKEN }
      return {
        direct: { backend: 'd1', baseUrl: server.baseUrl, ...ids },
        proxied: (proxyUrl) => ({ backend: 'd1', baseUrl: proxyUrl, ...ids, timeoutMs: 500, retry: { baseDelayMs: 5 } }),
        target: server.baseUrl,
        close: () => server.close(),
      }
    },
    isOperation: (request) => request.method === 'POST' && request.path.endsWith('/query'),
  },
  {
    name: 'supabase',
    async start() {
      const database = await startPostgresServer()
      const admin = new URL(database.adminUrl)
      admin.pathname = new URL(await database.createDatabase()).pathname
      const setupSql = readFileSync(new URL('../supabase/agent-ltm.sql', import.meta.url), 'utf8')
      const server = await startPostgrestServer({ adminUrl: admin.toString(), setupSql, anonKey: TOKEN })
      const user = { key: TOKEN, accessToken: server.userToken() }
      return {
        direct: { backend: 'supabase', url: server.url, ...user },
        proxied: (proxyUrl) => ({ backend: 'supabase', url: proxyUrl, ...user, timeoutMs: 500, retry: { baseDelayMs: 5 } }),
        target: server.url,
        close: async () => {
          await server.close()
          await database.stop()
        },
      }
    },
    isOperation: (request) => request.method === 'POST' && request.path.startsWith('/rest/v1/rpc/'),
  },
]

/** Every memory as key -> content hash, read through a fresh client that does not go through the proxy. */
async function snapshot(options: LtmOptions): Promise<Record<string, string>> {
  const fresh = await createLTM(options)
  const out: Record<string, string> = {}
  for await (const record of fresh.iterateAll()) out[record.key] = record.content_hash
  await fresh.close()
  return out
}

for (const remote of remotes) {
  describe(`faults: ${remote.name}`, () => {
    let proxy: FaultProxy
    let ltm: LTM
    let env: Awaited<ReturnType<RemoteUnderTest['start']>>
    const faulted = (): number => proxy.log.filter((entry) => entry.fault !== null).length

    beforeAll(async () => {
      env = await remote.start()
      proxy = await startFaultProxy(env.target)
      ltm = await createLTM(env.proxied(proxy.url))
      ok(await ltm.storeBatch(Array.from({ length: 10 }, (_, i) => ({ key: `seed-${i}`, value: `seed memory ${i} about coffee`, metadata: { i } }))))
    })
    afterAll(async () => {
      await ltm?.close()
      await proxy?.close()
      await env?.close()
    })

    /** Runs `call` with `fault` on its operation request; returns its result and asserts the data did not change. */
    async function unchangedAfter<T>(fault: Parameters<FaultProxy['inject']>[0], call: () => Promise<T>, times = 1): Promise<T> {
      const before = await snapshot(env.direct)
      proxy.clear()
      proxy.log.length = 0
      proxy.inject(fault, { times, match: remote.isOperation })
      const result = await call()
      proxy.clear()
      expect(await snapshot(env.direct)).toEqual(before)
      return result
    }

    it('401 -> auth_failed; the token appears nowhere in the error', async () => {
      const result = await unchangedAfter({ kind: 'status', status: 401, body: `invalid token ${TOKEN}`, contentType: 'text/plain' }, () => ltm.store('seed-1', 'overwritten'))
      expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
      expect(JSON.stringify(result)).not.toContain(TOKEN)
    })

    it('403 -> auth_failed (a batch stores nothing)', async () => {
      const result = await unchangedAfter({ kind: 'status', status: 403, body: JSON.stringify({ message: 'forbidden' }), contentType: 'application/json' }, () =>
        ltm.storeBatch([{ key: 'new-1', value: 'x' }, { key: 'seed-2', value: 'changed' }]),
      )
      expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
    })

    it('429 with Retry-After seconds -> rate_limited with retry_after', async () => {
      const result = await unchangedAfter({ kind: 'rate-limit', retryAfter: '5' }, () => ltm.store('seed-3', 'changed'))
      expect(result).toMatchObject({ success: false, error_type: 'rate_limited', retry_after: 5 })
    })

    it('429 with an HTTP-date Retry-After -> rate_limited with the seconds until then', async () => {
      const when = new Date(Date.now() + 60_000).toUTCString()
      const result = (await unchangedAfter({ kind: 'rate-limit', retryAfter: when }, () => ltm.retrieve('seed-3'))) as { retry_after?: number }
      expect(result).toMatchObject({ success: false, error_type: 'rate_limited' })
      expect(result.retry_after).toBeGreaterThanOrEqual(58)
      expect(result.retry_after).toBeLessThanOrEqual(61)
    })

    it('500 on a write -> backend_error, not retried (the server may have committed)', async () => {
      const result = await unchangedAfter({ kind: 'status', status: 500 }, () => ltm.store('seed-4', 'changed'), 3)
      expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
      expect(faulted()).toBe(1)
    })

    it('500 once on a read -> retried, and the read succeeds', async () => {
      const result = await unchangedAfter({ kind: 'status', status: 500 }, () => ltm.retrieve('seed-5'))
      expect(result).toMatchObject({ success: true, found: true, value: 'seed memory 5 about coffee' })
      expect(faulted()).toBe(1)
      expect(proxy.log.filter((entry) => remote.isOperation(entry))).toHaveLength(2)
    })

    it('500 on every try of a read -> backend_error after the retries', async () => {
      const result = await unchangedAfter({ kind: 'status', status: 500 }, () => ltm.search('coffee'), 3)
      expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
      expect(faulted()).toBe(3)
    })

    it('a stalled server -> connection_timeout after timeoutMs', async () => {
      const started = Date.now()
      const result = await unchangedAfter({ kind: 'stall' }, () => ltm.store('seed-6', 'changed'))
      expect(result).toMatchObject({ success: false, error_type: 'connection_timeout' })
      expect((result as { error: string }).error).toMatch(/did not answer within 500 ms/)
      expect(Date.now() - started).toBeLessThan(10_000)
    })

    it('a connection cut mid-response on a read -> connection_timeout once the retries are spent', async () => {
      const result = await unchangedAfter({ kind: 'drop-mid-response' }, () => ltm.search('coffee', { i: 3 }), 3)
      expect(result).toMatchObject({ success: false, error_type: 'connection_timeout' })
      expect((result as { error: string }).error).toMatch(/connection dropped/)
    })

    it('a connection cut mid-response on a write -> connection_timeout; the server got the batch, and it landed whole', async () => {
      proxy.clear()
      proxy.inject({ kind: 'drop-mid-response' }, { match: remote.isOperation })
      const batch = Array.from({ length: 20 }, (_, i) => ({ key: `dropped-${i}`, value: `written before the cut ${i}` }))
      const result = await ltm.storeBatch(batch)
      expect(result).toMatchObject({ success: false, error_type: 'connection_timeout' })
      const after = await snapshot(env.direct)
      expect(Object.keys(after).filter((key) => key.startsWith('dropped-'))).toHaveLength(20)
    })

    it('an answer lost after the commit (forwarded, then 503) -> backend_error, not retried; the batch landed whole', async () => {
      proxy.clear()
      proxy.log.length = 0
      proxy.inject({ kind: 'forward-then-status', status: 503 }, { match: remote.isOperation })
      const result = await ltm.storeBatch(Array.from({ length: 20 }, (_, i) => ({ key: `lost-${i}`, value: `committed ${i}` })))
      expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
      expect(proxy.log.filter((entry) => remote.isOperation(entry))).toHaveLength(1)
      expect(Object.keys(await snapshot(env.direct)).filter((key) => key.startsWith('lost-'))).toHaveLength(20)
    })

    it('a server unreachable at open: calls return connection_timeout, and the handle recovers once it answers', async () => {
      proxy.clear()
      proxy.inject({ kind: 'stall' }, { times: 1000 })
      const late = await createLTM(env.proxied(proxy.url))
      expect(await late.retrieve('seed-1')).toMatchObject({ success: false, error_type: 'connection_timeout' })
      proxy.clear()
      expect(await late.retrieve('seed-1')).toMatchObject({ success: true, found: true, value: 'seed memory 1 about coffee' })
      ok(await late.store('late', 'written after recovering'))
      await late.close()
    })

    it('credentials refused at open (401): calls return auth_failed, and the handle recovers once they are accepted (a refreshed token)', async () => {
      proxy.clear()
      proxy.inject({ kind: 'status', status: 401 }, { times: 1000 })
      const refused = await createLTM(env.proxied(proxy.url))
      expect(await refused.retrieve('seed-1')).toMatchObject({ success: false, error_type: 'auth_failed' })
      expect(await refused.store('refused', 'never written')).toMatchObject({ success: false, error_type: 'auth_failed' })
      proxy.clear()
      expect(await refused.retrieve('seed-1')).toMatchObject({ success: true, found: true, value: 'seed memory 1 about coffee' })
      expect(Object.keys(await snapshot(env.direct))).not.toContain('refused')
      await refused.close()
    })

    it('after all that, the proxied handle works normally', async () => {
      ok(await ltm.store('after', 'still fine'))
      expect(await ltm.retrieve('after')).toMatchObject({ success: true, found: true, value: 'still fine' })
    })
  })
}

// Cloudflare D1 through both ways in, against a real D1 database (miniflare 4 runs workerd's D1):
// the REST API over HTTP (test/servers/d1-server.ts serves Cloudflare's shape) and the Workers binding.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLTM, migrate, type LTM } from '../src/index.node.js'
import { runConformance, type ConformanceHarness } from './conformance/suite.js'
import { ok } from './conformance/harness.js'
import { startD1Server, type D1Server } from './servers/d1-server.js'

const API_TOKEN = 'cf-test-token-d1-7b3e9a'
/** A test that opens several stores (migrate) gets a database for each: one D1 database per server. */
let servers: D1Server[] = []
let server: D1Server

beforeAll(async () => {
  // The suite opens at most three stores in one test.
  servers = await Promise.all([1, 2, 3].map(() => startD1Server({ apiToken: API_TOKEN })))
  server = servers[0]!
})
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

/** Drops every agent-ltm table (their triggers go with them), so the next open starts empty. */
async function emptyDatabase(target: D1Server = server): Promise<void> {
  const db = await target.binding()
  const tables = await db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ltm\\_%' ESCAPE '\\'`).all<{ name: string }>()
  // Referencing tables first: D1 enforces foreign keys.
  const order = ['ltm_postings', 'ltm_memories', 'ltm_namespaces']
  const names = tables.results.map((row) => row.name).sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99))
  if (names.length > 0) await db.batch(names.map((name) => db.prepare(`DROP TABLE "${name}"`)))
}

const restOptions = (target: D1Server = server) => ({ backend: 'd1' as const, baseUrl: target.baseUrl, accountId: target.accountId, databaseId: target.databaseId, apiToken: API_TOKEN })

function harness(options: (target: D1Server) => Promise<Record<string, unknown>>): ConformanceHarness {
  let opened = 0
  let last: D1Server | undefined
  return {
    transactions: 'batched',
    async open(extra) {
      last = servers[opened++ % servers.length]!
      await emptyDatabase(last)
      return createLTM({ ...(await options(last)), ...extra } as Parameters<typeof createLTM>[0])
    },
    async reopen(extra) {
      return createLTM({ ...(await options(last ?? server)), ...extra } as Parameters<typeof createLTM>[0])
    },
    async cleanup() {
      opened = 0
    },
  }
}

runConformance('d1 (REST API, real D1 in miniflare)', harness(async (target) => restOptions(target)), migrate)
runConformance('d1 (Workers binding, real D1 in miniflare)', harness(async (target) => ({ backend: 'd1', binding: await target.binding() })), migrate)

describe('d1: round trips', () => {
  it('every single operation and a batch of 500 is exactly one HTTP request', async () => {
    await emptyDatabase()
    const ltm: LTM = await createLTM(restOptions())
    const requests = async (): Promise<number> => ((ok(await ltm.stats()) as unknown as { transport: { requests: number } }).transport.requests)
    // stats() itself reads the counts in one request: measure the difference between two stats calls.
    const cost = async (run: () => Promise<unknown>): Promise<number> => {
      const before = await requests()
      ok((await run()) as never)
      return (await requests()) - before - 1
    }
    expect(await cost(() => ltm.store('k', 'hello round trips', { n: 1 }))).toBe(1)
    expect(await cost(() => ltm.retrieve('k'))).toBe(1)
    expect(await cost(() => ltm.search('round trips', { n: 1 }))).toBe(1)
    expect(await cost(() => ltm.storeBatch(Array.from({ length: 500 }, (_, i) => ({ key: `b${i}`, value: `batch memory ${i}` }))))).toBe(1)
    expect(await cost(() => ltm.retrieveBatch(['k', 'b1', 'b499']))).toBe(1)
    expect(await cost(() => ltm.delete('k'))).toBe(1)
    await ltm.close()
  })

  it('opening costs one request on a database that has the schema, three on a new one', async () => {
    await emptyDatabase()
    const opened = async (): Promise<{ ltm: LTM; requests: number }> => {
      const ltm = await createLTM(restOptions())
      return { ltm, requests: (ok(await ltm.stats()) as unknown as { transport: { requests: number } }).transport.requests - 1 }
    }
    const fresh = await opened()
    expect(fresh.requests).toBe(3) // the version read fails, the check, the creation
    ok(await fresh.ltm.store('k', 'v'))
    const again = await opened()
    expect(again.requests).toBe(1)
    expect(await again.ltm.retrieve('k')).toMatchObject({ success: true, found: true, value: 'v' })
    await Promise.all([fresh.ltm.close(), again.ltm.close()])
  })
})

describe('d1: configuration and server answers', () => {
  it('needs a binding or accountId, databaseId and apiToken (LtmError invalid_argument)', async () => {
    await expect(createLTM({ backend: 'd1', accountId: 'a' })).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
    await expect(createLTM({ backend: 'd1', binding: {} as never })).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
  })

  it("a wrong token: Cloudflare's 403 -> auth_failed, the token in no message", async () => {
    const ltm = await createLTM({ ...restOptions(), apiToken: 'not-the-token-42' })
    const result = await ltm.retrieve('k')
    expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
    expect(JSON.stringify(result)).not.toContain('not-the-token-42')
  })

  it('an unknown database -> backend_error naming it', async () => {
    const ltm = await createLTM({ ...restOptions(), databaseId: '00000000-0000-4000-8000-000000000000' })
    const result = await ltm.retrieve('k')
    expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
    expect((result as { error: string }).error).toMatch(/00000000-0000-4000-8000-000000000000.*not found/)
  })

  it("the API's own 429 -> rate_limited with its Retry-After", async () => {
    await emptyDatabase()
    const ltm = await createLTM(restOptions())
    server.rateLimitNext(1, 12)
    expect(await ltm.store('k', 'v')).toMatchObject({ success: false, error_type: 'rate_limited', retry_after: 12 })
    expect(await ltm.retrieve('k')).toMatchObject({ success: true, found: false })
    await ltm.close()
  })
})

describe('d1: batched transactions detect conflicts', () => {
  it('a memory the transaction wrote was changed by another writer before the commit -> conflict, nothing written', async () => {
    await emptyDatabase()
    const [a, b] = [await createLTM(restOptions()), await createLTM(restOptions())]
    ok(await a.store('k', 'v1'))
    const result = await a.transaction(async (tx) => {
      ok(await tx.store('k', 'v2'))
      ok(await tx.store('fresh', 'new memory'))
      ok(await b.store('k', 'changed by b')) // commits between the transaction's read and its commit
    })
    expect(result).toMatchObject({ success: false, error_type: 'conflict' })
    expect(await b.retrieve('k')).toMatchObject({ found: true, value: 'changed by b' })
    expect(await b.retrieve('fresh')).toMatchObject({ found: false })
    await Promise.all([a.close(), b.close()])
  })

  it('a key the transaction saw absent (store) or deleted was created meanwhile -> conflict', async () => {
    await emptyDatabase()
    const [a, b] = [await createLTM(restOptions()), await createLTM(restOptions())]
    const created = await a.transaction(async (tx) => {
      ok(await tx.store('new', 'from a'))
      ok(await b.store('new', 'from b'))
    })
    expect(created).toMatchObject({ success: false, error_type: 'conflict' })
    const deleted = await a.transaction(async (tx) => {
      expect(await tx.delete('ghost')).toMatchObject({ deleted: false })
      ok(await b.store('ghost', 'appeared'))
    })
    expect(deleted).toMatchObject({ success: false, error_type: 'conflict' })
    expect(await b.retrieve('ghost')).toMatchObject({ found: true, value: 'appeared' })
    await Promise.all([a.close(), b.close()])
  })

  it('without interference the same transactions commit', async () => {
    await emptyDatabase()
    const a = await createLTM(restOptions())
    ok(await a.store('k', 'v1'))
    const result = await a.transaction(async (tx) => {
      ok(await tx.store('k', 'v2'))
      ok(await tx.store('k', 'v3')) // the same key twice: both guards check the state before the commit
      ok(await tx.delete('never-there'))
    })
    expect(result).toMatchObject({ success: true, committed: true })
    expect(await a.retrieve('k')).toMatchObject({ found: true, value: 'v3' })
    await a.close()
  })
})

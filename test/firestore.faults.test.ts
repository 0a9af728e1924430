// Faults injected into real traffic between the Firestore backend and the official emulator: the
// fault proxy (test/servers/fault-proxy.ts) answers 401/403/429/500, stalls, or cuts the connection
// mid-response. Each case checks the typed result and then, through a fresh client that bypasses
// the proxy, that the data is exactly what it was before (or, where the emulator did get the
// commit, that it landed whole), and that the statistics documents still match the memories.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLTM, type LTM, type LtmOptions } from '../src/index.node.js'
import { ok } from './conformance/harness.js'
import { startFaultProxy, type FaultProxy } from './servers/fault-proxy.js'
import { startFirestoreEmulator, type FirestoreEmulator } from './servers/firestore-emulator.js'

const TOKEN = 'ya29.secret-token-7f3a9c1e5b'

type Request = { method: string; path: string }
const isCommit = (r: Request): boolean => r.method === 'POST' && r.path.endsWith(':commit')
const isRunQuery = (r: Request): boolean => r.method === 'POST' && r.path.endsWith(':runQuery')
const isBatchGet = (r: Request): boolean => r.method === 'POST' && r.path.endsWith(':batchGet')
const isOperation = (r: Request): boolean => r.method === 'POST' && /:(commit|batchGet|runQuery|runAggregationQuery|rollback|beginTransaction)$/.test(r.path)

let emulator: FirestoreEmulator
let proxy: FaultProxy
let ltm: LTM
const projectId = `faults-${process.pid}`
const direct = (): LtmOptions => ({ backend: 'firestore', projectId, collection: 'memories', auth: TOKEN, baseUrl: emulator.baseUrl })
/** Per-request timeout of the proxied handle: short, so stalls are quick, yet above a loaded machine's slowest real answer. */
const TIMEOUT_MS = 1500
const proxied = (): LtmOptions => ({ ...direct(), baseUrl: `${proxy.url}/v1`, timeoutMs: TIMEOUT_MS, retry: { baseDelayMs: 5 } } as LtmOptions)
const faulted = (): number => proxy.log.filter((entry) => entry.fault !== null).length

beforeAll(async () => {
  emulator = await startFirestoreEmulator()
  proxy = await startFaultProxy(`http://${emulator.host}`)
  // Seeded directly, and every request kind warmed up once: a cold emulator (JIT) answers its first
  // requests of each kind far slower than the proxied handle's timeout.
  const seeder = await createLTM(direct())
  const seeds = Array.from({ length: 10 }, (_, i) => ({ key: `seed-${i}`, value: `seed memory ${i} about coffee`, metadata: { i } }))
  ok(await seeder.storeBatch(seeds))
  ok(await seeder.retrieveBatch(seeds.map((seed) => seed.key)))
  ok(await seeder.search('coffee', { i: 3 }))
  ok(await seeder.search('coff*'))
  ok(await seeder.search(null, { i: 3 }))
  ok(await seeder.store('warm', 'up'))
  ok(await seeder.delete('warm'))
  ok(await seeder.transaction(async (tx) => ok(await tx.retrieve('seed-0'))))
  for await (const _ of seeder.iterateAll()) break
  await seeder.close()
  ltm = await createLTM(proxied())
  ok(await ltm.retrieveBatch(seeds.map((seed) => seed.key))) // the handle now knows they exist
}, 60_000)
afterAll(async () => {
  await ltm?.close()
  await proxy?.close()
  await emulator?.stop()
})

/** Every memory as key -> content hash, read through a fresh client that does not go through the proxy. */
async function snapshot(): Promise<Record<string, string>> {
  const fresh = await createLTM(direct())
  const out: Record<string, string> = {}
  for await (const record of fresh.iterateAll({ includeDescendants: true })) out[`${record.namespace}:${record.key}`] = record.content_hash
  await fresh.close()
  return out
}

/** The statistics documents agree with the memories (read straight from the emulator). */
async function expectStatisticsExact(): Promise<void> {
  const query = async (collectionId: string) => {
    const response = await fetch(`${emulator.baseUrl}/projects/${projectId}/databases/(default)/documents:runQuery`, {
      method: 'POST',
      headers: { authorization: 'Bearer owner', 'content-type': 'application/json' },
      body: JSON.stringify({ structuredQuery: { from: [{ collectionId }] } }),
    })
    return ((await response.json()) as Array<{ document?: { fields: Record<string, { stringValue?: string; integerValue?: string }> } }>).flatMap((item) => (item.document ? [item.document.fields] : []))
  }
  let docs = 0
  let tokens = 0
  const df: Record<string, number> = {}
  for (const fields of await query('memories')) {
    docs++
    tokens += Number(fields.doc_len!.integerValue)
    for (const term of Object.keys(JSON.parse(fields.tf!.stringValue!) as object)) df[term] = (df[term] ?? 0) + 1
  }
  const [ns] = await query('memories_namespaces')
  expect({ docs: Number(ns?.doc_count?.integerValue), tokens: Number(ns?.token_count?.integerValue) }).toEqual({ docs, tokens })
  const stored: Record<string, number> = {}
  for (const fields of await query('memories_terms')) if (Number(fields.df!.integerValue) !== 0) stored[fields.term!.stringValue!] = Number(fields.df!.integerValue)
  expect(stored).toEqual(df)
}

/** Runs `call` with `fault` on the requests `match` accepts; returns its result and asserts the data did not change. */
async function unchangedAfter<T>(fault: Parameters<FaultProxy['inject']>[0], match: (r: Request) => boolean, call: () => Promise<T>, times = 1): Promise<T> {
  const before = await snapshot()
  proxy.clear()
  proxy.log.length = 0
  proxy.inject(fault, { times, match })
  const result = await call()
  proxy.clear()
  expect(await snapshot()).toEqual(before)
  await expectStatisticsExact()
  return result
}

describe('faults: firestore (official emulator behind the fault proxy)', () => {
  it('401 -> auth_failed; the token appears nowhere in the error', async () => {
    const result = await unchangedAfter({ kind: 'status', status: 401, body: JSON.stringify({ error: { code: 401, message: `Request had invalid authentication credentials: ${TOKEN}`, status: 'UNAUTHENTICATED' } }), contentType: 'application/json' }, isOperation, () => ltm.store('seed-1', 'overwritten'))
    expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
    expect(JSON.stringify(result)).not.toContain(TOKEN)
  })

  it('403 on the commit -> auth_failed (a batch stores nothing)', async () => {
    const result = await unchangedAfter({ kind: 'status', status: 403, body: JSON.stringify({ error: { code: 403, message: 'Missing or insufficient permissions.', status: 'PERMISSION_DENIED' } }), contentType: 'application/json' }, isCommit, () =>
      ltm.storeBatch([{ key: 'new-1', value: 'x' }, { key: 'seed-2', value: 'changed' }]),
    )
    expect(result).toMatchObject({ success: false, error_type: 'auth_failed', stored_count: 0 })
  })

  it('429 with Retry-After seconds -> rate_limited with retry_after', async () => {
    const result = await unchangedAfter({ kind: 'rate-limit', retryAfter: '5' }, isOperation, () => ltm.store('seed-3', 'changed'))
    expect(result).toMatchObject({ success: false, error_type: 'rate_limited', retry_after: 5 })
  })

  it('429 with an HTTP-date Retry-After -> rate_limited with the seconds until then', async () => {
    const when = new Date(Date.now() + 60_000).toUTCString()
    const result = (await unchangedAfter({ kind: 'rate-limit', retryAfter: when }, isOperation, () => ltm.retrieve('seed-3'))) as { retry_after?: number }
    expect(result).toMatchObject({ success: false, error_type: 'rate_limited' })
    expect(result.retry_after).toBeGreaterThanOrEqual(58)
    expect(result.retry_after).toBeLessThanOrEqual(61)
  })

  it('500 on a commit -> backend_error, not retried (the server may have committed)', async () => {
    const result = await unchangedAfter({ kind: 'status', status: 500 }, isCommit, () => ltm.store('seed-4', 'changed'), 3)
    expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
    expect(faulted()).toBe(1)
  })

  it('500 once on a read -> retried, and the read succeeds', async () => {
    const result = await unchangedAfter({ kind: 'status', status: 500 }, isOperation, () => ltm.retrieve('seed-5'))
    expect(result).toMatchObject({ success: true, found: true, value: 'seed memory 5 about coffee' })
    expect(faulted()).toBe(1)
    expect(proxy.log.filter(isBatchGet)).toHaveLength(2)
  })

  it('500 on every try of a query -> backend_error after the retries', async () => {
    const result = await unchangedAfter({ kind: 'status', status: 500 }, isRunQuery, () => ltm.search('coffee'), 3)
    expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
    expect(faulted()).toBe(3)
  })

  it('a stalled server -> connection_timeout after timeoutMs', async () => {
    const started = Date.now()
    const result = await unchangedAfter({ kind: 'stall' }, isCommit, () => ltm.store('seed-6', 'changed'))
    expect(result).toMatchObject({ success: false, error_type: 'connection_timeout' })
    expect((result as { error: string }).error).toMatch(new RegExp(`did not answer within ${TIMEOUT_MS} ms`))
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('a connection cut mid-response on a read -> connection_timeout once the retries are spent', async () => {
    const result = await unchangedAfter({ kind: 'drop-mid-response' }, isRunQuery, () => ltm.search('coffee', { i: 3 }), 3)
    expect(result).toMatchObject({ success: false, error_type: 'connection_timeout' })
    expect((result as { error: string }).error).toMatch(/connection dropped/)
  })

  it('a failed transaction commit -> a failure result, nothing written, and its locks released at once', async () => {
    const result = await unchangedAfter({ kind: 'status', status: 500 }, isCommit, () =>
      ltm.transaction(async (tx) => {
        ok(await tx.store('seed-7', 'changed in a transaction'))
        ok(await tx.store('tx-new', 'created in a transaction'))
      }),
    )
    expect(result).toMatchObject({ success: false, error_type: 'backend_error', committed: false, rolled_back: true })
    // The transaction read seed-7 (a lock): a writer that is not waiting out a 60 s lock shows it was rolled back.
    const started = Date.now()
    const other = await createLTM(direct())
    ok(await other.store('seed-7', 'seed memory 7 about coffee, revised'))
    expect(Date.now() - started).toBeLessThan(1500)
    ok(await other.store('seed-7', 'seed memory 7 about coffee'))
    await other.close()
  })

  it('a connection cut mid-response on a commit -> connection_timeout; the emulator got the batch, and it landed whole', async () => {
    proxy.clear()
    proxy.inject({ kind: 'drop-mid-response' }, { match: isCommit })
    const batch = Array.from({ length: 20 }, (_, i) => ({ key: `dropped-${i}`, value: `written before the cut ${i}` }))
    const result = await ltm.storeBatch(batch)
    expect(result).toMatchObject({ success: false, error_type: 'connection_timeout' })
    const after = await snapshot()
    expect(Object.keys(after).filter((key) => key.startsWith(':dropped-'))).toHaveLength(20)
    await expectStatisticsExact()
  })

  it('an answer lost after the commit (forwarded, then 503) -> backend_error, not retried; the batch landed whole', async () => {
    proxy.clear()
    proxy.log.length = 0
    proxy.inject({ kind: 'forward-then-status', status: 503 }, { match: isCommit })
    const result = await ltm.storeBatch(Array.from({ length: 20 }, (_, i) => ({ key: `lost-${i}`, value: `committed ${i}` })))
    expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
    expect(proxy.log.filter(isCommit)).toHaveLength(1)
    expect(Object.keys(await snapshot()).filter((key) => key.startsWith(':lost-'))).toHaveLength(20)
    await expectStatisticsExact()
  })

  it('a batch split over several commits that fails part-way says how much was committed', async () => {
    const split = await createLTM({ ...proxied(), maxCommitBytes: 64 * 1024 } as LtmOptions)
    proxy.clear()
    let commits = 0
    proxy.inject({ kind: 'status', status: 503 }, { match: (r) => isCommit(r) && ++commits === 3 })
    const entries = Array.from({ length: 30 }, (_, i) => ({ key: `split-${i}`, value: `part ${i} ${'padding words '.repeat(400)}` }))
    const result = await split.storeBatch(entries)
    proxy.clear()
    expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
    const said = /the first (\d+) memories were committed/.exec((result as { error: string }).error)
    expect(said).not.toBeNull()
    const landed = Object.keys(await snapshot()).filter((key) => key.startsWith(':split-'))
    expect(landed).toHaveLength(Number(said![1]))
    expect(landed.length).toBeGreaterThan(0)
    await expectStatisticsExact()
    await split.close()
  })

  it('a server unreachable at first: calls return connection_timeout, and the handle works once it answers', async () => {
    proxy.clear()
    proxy.inject({ kind: 'stall' }, { times: 1000 })
    const late = await createLTM(proxied())
    expect(await late.retrieve('seed-1')).toMatchObject({ success: false, error_type: 'connection_timeout' })
    proxy.clear()
    expect(await late.retrieve('seed-1')).toMatchObject({ success: true, found: true, value: 'seed memory 1 about coffee' })
    ok(await late.store('late', 'written after recovering'))
    await late.close()
  })

  it('after all that, the proxied handle works normally and the statistics are exact', async () => {
    ok(await ltm.store('after', 'still fine'))
    expect(await ltm.retrieve('after')).toMatchObject({ success: true, found: true, value: 'still fine' })
    expect(ok(await ltm.search('coffee', null, 20)).results.length).toBe(10)
    await expectStatisticsExact()
  })
})

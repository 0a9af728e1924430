// Cloud Firestore over its REST API, against the official Firestore emulator (Java), started here:
// the shared conformance suite, requests per operation, BM25 parity with the sqlite backend, the
// stored data model, statistics under concurrent writers, large values and batches, auth providers
// (Firebase Auth users under security rules: test/firestore.firebase-auth.test.ts).
import { createServer, type Server } from 'node:http'
import { generateKeyPairSync, verify } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLTM, createLTMFromSettings, migrate, type LTM, type MetadataFilter, type SearchOptions } from '../src/index.node.js'
import { memories, queryList, toBatch } from '../bench/corpus.js'
import { splitValue } from '../src/firestore/model.js'
import { runConformance, type ConformanceHarness } from './conformance/suite.js'
import { ok } from './conformance/harness.js'
import { recordingFetch } from './support/recording-fetch.js'
import { startFirestoreEmulator, type FirestoreEmulator } from './servers/firestore-emulator.js'

let emulator: FirestoreEmulator

beforeAll(async () => {
  emulator = await startFirestoreEmulator()
}, 60_000)
afterAll(async () => {
  await emulator?.stop()
})

const options = (projectId: string, extra: Record<string, unknown> = {}) =>
  ({ backend: 'firestore' as const, projectId, collection: 'memories', auth: 'owner', baseUrl: emulator.baseUrl, ...extra }) as Parameters<typeof createLTM>[0]

/** Each open() gets a fresh project (an empty database); reopen() the last one; cleanup() empties them. */
function harness(): ConformanceHarness {
  const used: string[] = []
  return {
    async open(extra) {
      const projectId = emulator.newProjectId()
      used.push(projectId)
      return createLTM({ ...options(projectId), ...extra })
    },
    async reopen(extra) {
      return createLTM({ ...options(used.at(-1)!), ...extra })
    },
    async cleanup() {
      await Promise.all(used.splice(0).map((projectId) => emulator.reset(projectId)))
    },
  }
}

runConformance('firestore (REST, official emulator)', harness(), migrate)

// ---------------------------------------------------------------- helpers over the raw REST API

interface RawDoc {
  name: string
  fields?: Record<string, Record<string, unknown>>
}

async function raw(projectId: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${emulator.baseUrl}/projects/${projectId}/databases/(default)/documents${path}`, {
    method,
    headers: { authorization: 'Bearer owner', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
  return response.json()
}

async function allDocs(projectId: string, collectionId: string): Promise<RawDoc[]> {
  const items = (await raw(projectId, 'POST', ':runQuery', { structuredQuery: { from: [{ collectionId }] } })) as Array<{ document?: RawDoc }>
  return items.flatMap((item) => (item.document ? [item.document] : []))
}

const str = (doc: RawDoc, field: string): string => (doc.fields?.[field] as { stringValue: string }).stringValue
const int = (doc: RawDoc, field: string): number => Number((doc.fields?.[field] as { integerValue?: string })?.integerValue ?? NaN)

/** The statistics documents, and the same statistics recomputed from the memory documents. */
async function statistics(projectId: string): Promise<{ stored: unknown; recomputed: unknown }> {
  const recomputed: Record<string, { docs: number; tokens: number; df: Record<string, number> }> = {}
  for (const doc of await allDocs(projectId, 'memories')) {
    const ns = str(doc, 'ns')
    const entry = (recomputed[ns] ??= { docs: 0, tokens: 0, df: {} })
    entry.docs++
    entry.tokens += int(doc, 'doc_len')
    for (const term of Object.keys(JSON.parse(str(doc, 'tf')) as object)) entry.df[term] = (entry.df[term] ?? 0) + 1
  }
  const stored: typeof recomputed = {}
  for (const doc of await allDocs(projectId, 'memories_namespaces')) {
    const entry = (stored[str(doc, 'ns')] ??= { docs: 0, tokens: 0, df: {} })
    entry.docs = int(doc, 'doc_count')
    entry.tokens = int(doc, 'token_count')
  }
  for (const doc of await allDocs(projectId, 'memories_terms')) {
    const df = int(doc, 'df')
    if (df !== 0) (stored[str(doc, 'ns')] ??= { docs: 0, tokens: 0, df: {} }).df[str(doc, 'term')] = df
  }
  for (const [ns, entry] of Object.entries(stored)) if (entry.docs === 0 && entry.tokens === 0 && Object.keys(entry.df).length === 0) delete stored[ns]
  return { stored, recomputed }
}

const requests = async (ltm: LTM): Promise<number> => (ok(await ltm.stats()) as unknown as { transport: { requests: number } }).transport.requests

/** HTTP requests `run` made (stats() itself makes none). */
async function cost(ltm: LTM, run: () => Promise<unknown>): Promise<number> {
  const before = await requests(ltm)
  const result = await run()
  if (result && typeof result === 'object' && 'success' in result) ok(result as { success: boolean })
  return (await requests(ltm)) - before
}

// ---------------------------------------------------------------- requests per operation

describe('firestore: requests per operation', () => {
  it('counts what each operation sends', async () => {
    const projectId = emulator.newProjectId('count')
    const ltm = await createLTM(options(projectId))
    const counts: Record<string, number> = {}
    counts['open'] = await requests(ltm)
    counts['store (new key)'] = await cost(ltm, () => ltm.store('k', 'hello round trips', { n: 1 }))
    counts['store (same value: dedup)'] = await cost(ltm, () => ltm.store('k', 'hello round trips', { n: 1 }))
    counts['store (overwrite, key known to the handle)'] = await cost(ltm, () => ltm.store('k', 'hello again round trips', { n: 1 }))
    const other = await createLTM(options(projectId))
    counts['store (overwrite, key unknown to the handle)'] = await cost(other, () => other.store('k', 'written by another handle', { n: 2 }))
    counts['retrieve'] = await cost(ltm, () => ltm.retrieve('k'))
    counts['storeBatch (500 new)'] = await cost(ltm, () => ltm.storeBatch(Array.from({ length: 500 }, (_, i) => ({ key: `b${i}`, value: `batch memory ${i}`, metadata: { i } }))))
    counts['storeBatch (500, 250 existing, known to the handle)'] = await cost(ltm, () => ltm.storeBatch(Array.from({ length: 500 }, (_, i) => ({ key: `b${i + 250}`, value: `batch memory changed ${i}` }))))
    counts['storeBatch (10, 5 existing, unknown to the handle)'] = await cost(other, () => other.storeBatch(Array.from({ length: 10 }, (_, i) => ({ key: `b${i + 745}`, value: `changed by the other handle ${i}` }))))
    counts['retrieveBatch (3 keys)'] = await cost(ltm, () => ltm.retrieveBatch(['k', 'b1', 'b499']))
    // Words few memories hold: a search reads every memory holding a query word (see the parity tests).
    counts['search (words)'] = await cost(ltm, () => ltm.search('another handle', null, 5))
    counts['search (words + filter)'] = await cost(ltm, () => ltm.search('batch', { i: { $in: [1, 2] } }, 5))
    counts['search (prefix)'] = await cost(ltm, () => ltm.search('hand*', null, 5))
    counts['search (no query, filter)'] = await cost(ltm, () => ltm.search(null, { i: 3 }, 5))
    counts['delete'] = await cost(ltm, () => ltm.delete('k'))
    counts['delete (missing)'] = await cost(ltm, () => ltm.delete('k'))
    counts['cleanupExpired (none)'] = await cost(ltm, () => ltm.cleanupExpired())
    counts['transaction (one store)'] = await cost(ltm, () => ltm.transaction(async (tx) => ok(await tx.store('t1', 'in a transaction'))))
    counts['transaction (store, retrieve, search)'] = await cost(ltm, () =>
      ltm.transaction(async (tx) => {
        ok(await tx.store('t2', 'transaction words'))
        ok(await tx.retrieve('t2'))
        ok(await tx.search('transaction'))
      }),
    )
    counts['transaction (read, then rollback)'] = await cost(ltm, () =>
      ltm.transaction(async (tx) => {
        ok(await tx.retrieve('t1'))
        tx.rollback()
      }),
    )
    console.log('firestore requests per operation:', counts)
    expect(counts).toEqual({
      open: 0,
      'store (new key)': 1,
      'store (same value: dedup)': 1,
      'store (overwrite, key known to the handle)': 2,
      'store (overwrite, key unknown to the handle)': 3,
      retrieve: 1,
      'storeBatch (500 new)': 1,
      'storeBatch (500, 250 existing, known to the handle)': 2,
      'storeBatch (10, 5 existing, unknown to the handle)': 3,
      'retrieveBatch (3 keys)': 1,
      'search (words)': 2,
      'search (words + filter)': 2,
      'search (prefix)': 4,
      'search (no query, filter)': 1,
      delete: 2,
      'delete (missing)': 1,
      'cleanupExpired (none)': 1,
      'transaction (one store)': 2,
      'transaction (store, retrieve, search)': 4,
      'transaction (read, then rollback)': 2,
    })
    await Promise.all([ltm.close(), other.close()])
  })
})

// ---------------------------------------------------------------- BM25 parity with sqlite

describe('firestore: search parity with the sqlite backend', () => {
  const CORPUS = memories(0, 200, 7)
  const QUERIES: Array<{ text: string; filter: MetadataFilter | null; options?: SearchOptions }> = [
    ...queryList()
      .filter((_, i) => i % 4 === 0)
      .slice(0, 18)
      .map((q, i) => ({ text: q.text, filter: i % 3 === 0 ? ({ priority: { $gte: 3 } } as MetadataFilter) : i % 3 === 1 ? ({ type: 'fact' } as MetadataFilter) : null })),
    { text: 'the and of', filter: null },
    { text: 'the user', filter: null, options: { match: 'all' } },
    { text: 'meet* note', filter: null },
    { text: 'pref* cust*', filter: { type: { $in: ['fact', 'note'] } } },
    { text: '+the -and customer', filter: null, options: { syntax: 'raw' } },
    { text: 'reminder', filter: { user: { $ne: 'user-7' }, priority: { $lt: 4 } } },
  ]
  let sqlite: LTM
  let firestore: LTM

  beforeAll(async () => {
    // The same clock sequence for both (a second per call), so listings order by the same timestamps.
    let clock = 0
    const now = () => clock
    sqlite = await createLTM({ backend: 'sqlite', path: ':memory:', now })
    firestore = await createLTM(options(emulator.newProjectId('parity'), { now }))
    for (const ltm of [sqlite, firestore]) {
      clock = Date.UTC(2025, 0, 15)
      const tick = () => (clock += 1000)
      ok(await ltm.storeBatch(toBatch(CORPUS.slice(0, 150))))
      // One at a time too, with overwrites and a delete, so statistics move both ways.
      for (const m of CORPUS.slice(150)) {
        ok(await ltm.store(m.key, m.value, m.metadata))
        tick()
      }
      for (const m of CORPUS.slice(0, 10)) {
        ok(await ltm.store(m.key, `${JSON.stringify(m.value)} revised note`, m.metadata))
        tick()
      }
      ok(await ltm.delete(CORPUS[20]!.key))
    }
  }, 60_000)
  afterAll(async () => {
    await sqlite?.close()
    await firestore?.close()
  })

  it('the same keys in the same order, scores equal to 1e-9', async () => {
    let hits = 0
    for (const { text, filter, options: searchOptions } of QUERIES) {
      const expected = ok(await sqlite.search(text, filter, 25, searchOptions)).results
      const actual = ok(await firestore.search(text, filter, 25, searchOptions)).results
      const label = `${text} ${JSON.stringify(filter)} ${JSON.stringify(searchOptions ?? {})}`
      expect(actual.map((r) => r.key), label).toEqual(expected.map((r) => r.key))
      actual.forEach((r, i) => expect(Math.abs(r.score - expected[i]!.score), `${label}: ${r.key}`).toBeLessThan(1e-9))
      hits += actual.length
    }
    expect(hits).toBeGreaterThan(150)
  })

  it('a query of more than 30 words: candidate queries of 30 in parallel, the same results and scores as SQL', async () => {
    const rare = Array.from({ length: 45 }, (_, i) => `rareword${i}`)
    const rows = [...rare.map((word, i) => ({ key: `r${i}`, value: `${word} zcommon` })), { key: 'only-common', value: 'zcommon alone' }]
    const recorder = recordingFetch()
    const stores = [await createLTM({ backend: 'sqlite', path: ':memory:' }), await createLTM(options(emulator.newProjectId('many-words'), { fetch: recorder.fetch }))]
    for (const ltm of stores) ok(await ltm.storeBatch(rows))
    const query = [...rare, 'zcommon'].join(' ')
    const before = recorder.urls.length
    const [expected, actual] = await Promise.all(stores.map(async (ltm) => ok(await ltm.search(query, null, 100)).results))
    // zcommon (df 46) is the 46th word by rarity: the memory holding only it is found too.
    expect(expected!.map((r) => r.key)).toContain('only-common')
    expect(actual!.map((r) => r.key)).toEqual(expected!.map((r) => r.key))
    actual!.forEach((r, i) => expect(Math.abs(r.score - expected![i]!.score)).toBeLessThan(1e-9))
    // 46 words: two candidate queries (30 + 16) beside the statistics read, all at once.
    expect(recorder.urls.slice(before).filter((url) => url.endsWith(':runQuery'))).toHaveLength(2)
    expect(ok(await stores[1]!.stats())).toMatchObject({ search_truncated: 0 })
    for (const ltm of stores) await ltm.close()
  })

  it('a prefix expanding to more than 30 words counts a memory holding several of them once (df as SQL)', async () => {
    const words = Array.from({ length: 40 }, (_, i) => `pwx${String(i).padStart(2, '0')}`)
    // The first and last words fall in different queries of 30: the memory holding both is one memory.
    const rows = [
      ...words.map((word, i) => ({ key: `w${i}`, value: `${word} filler` })),
      { key: 'both', value: `${words[0]} ${words[39]}` },
      // Enough memories without the prefix that its idf is above the floor, so a wrong df shows in the scores.
      ...Array.from({ length: 100 }, (_, i) => ({ key: `other${i}`, value: `unrelated note ${i}` })),
    ]
    const stores = [await createLTM({ backend: 'sqlite', path: ':memory:' }), await createLTM(options(emulator.newProjectId('wide-prefix')))]
    for (const ltm of stores) ok(await ltm.storeBatch(rows))
    const [expected, actual] = await Promise.all(stores.map(async (ltm) => ok(await ltm.search('pwx*', null, 100)).results))
    expect(actual!.map((r) => r.key)).toEqual(expected!.map((r) => r.key))
    actual!.forEach((r, i) => expect(Math.abs(r.score - expected![i]!.score), r.key).toBeLessThan(1e-9))
    for (const ltm of stores) await ltm.close()
  })

  it('filter-only listings agree', async () => {
    for (const filter of [{ type: 'preference' }, { user: 'user-7', priority: { $gte: 3 } }, { priority: { $in: [1, 5] } }] as MetadataFilter[]) {
      const expected = ok(await sqlite.search(null, filter, 30)).results.map((r) => r.key)
      expect(ok(await firestore.search(null, filter, 30)).results.map((r) => r.key), JSON.stringify(filter)).toEqual(expected)
    }
  })
})

// ---------------------------------------------------------------- the stored data model

describe('firestore: data model', () => {
  it('one document per memory, value as exact JSON text, metadata as a map and as text, TTL timestamp', async () => {
    const projectId = emulator.newProjectId('model')
    const ltm = await createLTM(options(projectId))
    ok(await ltm.namespace('user-1').store('pref:coffee', { b: 1.0, a: 'Flat white, oat milk' }, { type: 'preference', user: { id: 7 }, tags: ['x'], __odd__: 1 }, { ttl: 60 }))
    ok(await ltm.store('plain', 'no expiry'))
    const docs = await allDocs(projectId, 'memories')
    expect(docs).toHaveLength(2)
    const doc = docs.find((d) => str(d, 'key') === 'pref:coffee')!
    expect(doc.name.split('/').pop()).toMatch(/^m\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    expect(str(doc, 'ns')).toBe('user-1')
    expect(str(doc, 'value')).toBe('{"b":1,"a":"Flat white, oat milk"}')
    expect(str(doc, 'metadata_json')).toBe('{"__odd__":1,"tags":["x"],"type":"preference","user":{"id":7}}')
    // Arrays become their JSON text; a key Firestore reserves is left out of the map (filters on it run in the SDK).
    expect(doc.fields!.metadata).toEqual({ mapValue: { fields: { tags: { stringValue: '["x"]' }, type: { stringValue: 'preference' }, user: { mapValue: { fields: { id: { integerValue: '7' } } } } } } })
    const terms = (doc.fields!.terms as { arrayValue: { values: Array<{ stringValue: string }> } }).arrayValue.values.map((v) => v.stringValue)
    expect(terms.sort()).toEqual(['1', 'flat', 'milk', 'oat', 'white'])
    expect(JSON.parse(str(doc, 'tf'))).toEqual({ 1: 1, flat: 1, white: 1, oat: 1, milk: 1 })
    expect(int(doc, 'doc_len')).toBe(5)
    expect(doc.fields!.expire_at).toEqual({ timestampValue: new Date(int(doc, 'expires_at')).toISOString() })
    expect(int(doc, 'expires_at') - int(doc, 'created_at')).toBe(60_000)
    const plain = docs.find((d) => str(d, 'key') === 'plain')!
    expect(plain.fields!.expires_at).toEqual({ nullValue: null })
    expect(plain.fields!.expire_at).toBeUndefined()
    expect(ok(await ltm.namespace('user-1').search(null, { __odd__: 1 })).results.map((r) => r.key)).toEqual(['pref:coffee'])
    expect(ok(await ltm.namespace('user-1').search('milk', { 'user.id': 7 })).results.map((r) => r.key)).toEqual(['pref:coffee'])
    const { stored, recomputed } = await statistics(projectId)
    expect(stored).toEqual(recomputed)
    await ltm.close()
  })

  it('ids stay injective and within Firestore limits for long namespaces and keys', async () => {
    const projectId = emulator.newProjectId('ids')
    const ltm = await createLTM(options(projectId))
    const longNs = ltm.namespace('n'.repeat(600))
    const key = 'k'.repeat(1024)
    ok(await longNs.store(key, 'long namespace, long key'))
    ok(await ltm.namespace('a\u0000b').store('c', 1))
    ok(await ltm.namespace('a').store('b\u0000c', 2))
    expect(ok(await longNs.retrieve(key))).toMatchObject({ found: true, value: 'long namespace, long key' })
    expect(ok(await ltm.namespace('a\u0000b').retrieve('c'))).toMatchObject({ found: true, value: 1 })
    expect(ok(await ltm.namespace('a').retrieve('b\u0000c'))).toMatchObject({ found: true, value: 2 })
    const names = (await allDocs(projectId, 'memories')).map((d) => d.name.split('/').pop()!)
    expect(names.some((name) => /^mh\.[0-9a-f]{64}$/.test(name))).toBe(true)
    expect(new Set(names).size).toBe(3)
    expect(await ltm.store('\ud800lone', 'x')).toMatchObject({ success: false, error_type: 'invalid_input' })
    await ltm.close()
  })
})

// ---------------------------------------------------------------- statistics under concurrent writers

describe('firestore: statistics stay exact with concurrent writers', () => {
  it('three handles racing on the same keys (stores, overwrites, deletes, batches, a transaction)', async () => {
    const projectId = emulator.newProjectId('race')
    const handles = await Promise.all([1, 2, 3].map(() => createLTM(options(projectId))))
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta']
    await Promise.all(
      handles.map(async (ltm, h) => {
        for (let i = 0; i < 24; i++) {
          const key = `k${(i * 7 + h) % 6}`
          const text = `${words[(i + h) % 6]} ${words[(i * h) % 6]} round ${i}`
          if (i % 5 === 4) ok(await ltm.delete(key))
          else if (i % 7 === 6) ok(await ltm.storeBatch([{ key, value: text }, { key: `k${(i + 1) % 6}`, value: `${text} batch` }]))
          else if (i % 11 === 10) ok(await ltm.transaction(async (tx) => ok(await tx.store(key, `${text} tx`))))
          else ok(await ltm.store(key, text, { h }))
        }
      }),
    )
    const { stored, recomputed } = await statistics(projectId)
    expect(stored).toEqual(recomputed)
    const retries = await Promise.all(handles.map(async (ltm) => (ok(await ltm.stats()) as unknown as { write_retries: number }).write_retries))
    console.log('precondition retries per handle:', retries)
    await Promise.all(handles.map((ltm) => ltm.close()))
  })
})

describe('firestore: transactions and other writers', () => {
  it('a search inside a transaction reads the statistics outside it, its candidates inside it', async () => {
    // Every write of a namespace increments its statistics documents, and Firestore locks what a
    // transaction reads: read inside, they would stall every writer of the namespace until the commit.
    // The candidates are read inside, so the transaction's decisions rest on a consistent result (the
    // emulator locks the whole collection for a transactional query; Firestore, the ranges it scanned).
    const sent: Array<{ url: string; body: string }> = []
    const recording = (async (input: RequestInfo | URL, init?: RequestInit) => {
      sent.push({ url: String(input), body: new TextDecoder().decode(init?.body as Uint8Array) })
      return fetch(input, init)
    }) as typeof fetch
    const ltm = await createLTM(options(emulator.newProjectId('txstats'), { fetch: recording }))
    ok(await ltm.storeBatch([{ key: 'coffee', value: 'coffee with milk' }, { key: 'tea', value: 'green tea' }]))
    sent.length = 0
    const result = await ltm.transaction(async (tx) => {
      ok(await tx.store('coffee', 'coffee with oat milk'))
      expect(ok(await tx.search('coffee milk mil*')).results.map((r) => r.key)).toEqual(['coffee'])
    })
    expect(result).toMatchObject({ success: true, committed: true })
    const inTransaction = (body: string): boolean => /"(transaction|newTransaction)"/.test(body)
    const reads = sent.filter((r) => !r.url.endsWith(':commit') && !r.url.endsWith(':rollback'))
    const statistics = reads.filter((r) => r.body.includes('memories_namespaces') || r.body.includes('"memories_terms"') || r.url.endsWith(':runAggregationQuery'))
    expect(statistics.length).toBeGreaterThanOrEqual(3) // corpus, prefix expansion, prefix count
    for (const request of statistics) expect(inTransaction(request.body), request.url).toBe(false)
    const candidates = reads.filter((r) => r.url.endsWith(':runQuery') && r.body.includes('"collectionId":"memories"'))
    expect(candidates).toHaveLength(1)
    expect(inTransaction(candidates[0]!.body)).toBe(true)
    await ltm.close()
  })

  it('a transaction reads what it wrote, searches with its own writes counted, and keeps the statistics exact', async () => {
    const projectId = emulator.newProjectId('txoverlay')
    // One fixed clock for both: equal timestamps, so the listing's tie-break (creation order) decides.
    const now = () => Date.UTC(2025, 0, 15)
    const ltm = await createLTM(options(projectId, { now }))
    const sqlite = await createLTM({ backend: 'sqlite', path: ':memory:', now })
    const rows = [
      { key: 'a', value: 'apple banana' },
      { key: 'b', value: 'banana cherry' },
      { key: 'c', value: 'cherry apple apple' },
    ]
    for (const store of [ltm, sqlite]) ok(await store.storeBatch(rows))
    const inside = async (store: LTM) =>
      (
        await store.transaction(async (tx) => {
          ok(await tx.store('d', 'apple apricot'))
          ok(await tx.delete('b'))
          ok(await tx.store('c', 'cherry'))
          return {
            words: ok(await tx.search('apple cherry')).results.map((r) => [r.key, r.score]),
            prefix: ok(await tx.search('ap*')).results.map((r) => [r.key, r.score]),
            list: ok(await tx.search(null)).results.map((r) => r.key),
          }
        })
      ) as { value: { words: Array<[string, number]>; prefix: Array<[string, number]>; list: string[] } }
    const [mine, reference] = [await inside(ltm), await inside(sqlite)]
    expect(mine.value.list).toEqual(reference.value.list)
    for (const kind of ['words', 'prefix'] as const) {
      expect(mine.value[kind].map(([key]) => key)).toEqual(reference.value[kind].map(([key]) => key))
      mine.value[kind].forEach(([, score], i) => expect(Math.abs(score - reference.value[kind][i]![1])).toBeLessThan(1e-9))
    }
    const { stored, recomputed } = await statistics(projectId)
    expect(stored).toEqual(recomputed)
    await Promise.all([ltm.close(), sqlite.close()])
  })
})

// ---------------------------------------------------------------- large values and batches

describe('firestore: large values and batches', () => {
  it('a value larger than one commit: chunks first (invisible), then the memory; an overwrite drops the old chunks', async () => {
    const projectId = emulator.newProjectId('chunks')
    const ltm = await createLTM(options(projectId, { maxCommitBytes: 1024 * 1024 }))
    // ~3.4 MB of JSON text, mostly ASCII (the core's tokeniser takes seconds on 400k emoji tokens, on any backend).
    const big = Array.from({ length: 20_000 }, (_, i) => (i % 50 === 0 ? 'grand piano café 🎹 ' : 'grand piano keys ')).join('').repeat(10)
    ok(await ltm.store('big', big, { kind: 'large' }))
    expect(ok(await ltm.retrieve('big'))).toMatchObject({ found: true, value: big })
    expect(ok(await ltm.search('piano')).results[0]).toMatchObject({ key: 'big', value: big })
    const [memory] = await allDocs(projectId, 'memories')
    const chunks = () => raw(projectId, 'GET', `/memories/${memory!.name.split('/').pop()}/value_chunks`).then((r) => ((r as { documents?: unknown[] }).documents ?? []).length)
    expect(await chunks()).toBe(4) // 900 KB each
    ok(await ltm.store('big', 'small now'))
    expect(await chunks()).toBe(0)
    expect(ok(await ltm.retrieve('big'))).toMatchObject({ value: 'small now' })
    const { stored, recomputed } = await statistics(projectId)
    expect(stored).toEqual(recomputed)
    await ltm.close()
  })

  it('value chunks end on character boundaries', () => {
    const text = JSON.stringify('é🎹x\u0800'.repeat(50_000))
    const parts = splitValue(text, 1000)
    expect(parts.join('')).toBe(text)
    for (const part of parts) expect(new TextEncoder().encode(part).length).toBeLessThanOrEqual(1000)
    expect(parts.length).toBeGreaterThan(500)
  })

  it('a batch over the commit size is split into several commits, each with its own statistics', async () => {
    const projectId = emulator.newProjectId('split')
    const ltm = await createLTM(options(projectId, { maxCommitBytes: 64 * 1024 }))
    const entries = Array.from({ length: 40 }, (_, i) => ({ key: `e${i}`, value: `entry ${i} ${'padding words '.repeat(400)}` }))
    const used = await cost(ltm, () => ltm.storeBatch(entries))
    expect(used).toBeGreaterThan(5)
    expect(ok(await ltm.retrieveBatch(entries.map((e) => e.key))).found_count).toBe(40)
    const { stored, recomputed } = await statistics(projectId)
    expect(stored).toEqual(recomputed)
    await ltm.close()
  })
})

// ---------------------------------------------------------------- configuration and auth

describe('firestore: configuration and auth', () => {
  it('configuration errors are LtmError invalid_argument', async () => {
    await expect(createLTM({ backend: 'firestore' } as never)).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
    await expect(createLTM({ backend: 'firestore', projectId: 'p', baseUrl: emulator.baseUrl })).rejects.toThrow(/pass auth/)
    await expect(createLTM({ backend: 'firestore', projectId: 'p', auth: 'owner', collection: 'a/b' })).rejects.toThrow(/collection/)
    await expect(createLTM({ backend: 'firestore', projectId: 'p', auth: 'owner', collection: '__x__' })).rejects.toThrow(/collection/)
    await expect(createLTM({ backend: 'firestore', projectId: 'p', auth: { serviceAccount: '{"client_email":"x"}' } })).rejects.toThrow(/private_key/)
  })

  it('honours FIRESTORE_EMULATOR_HOST as the official SDKs do (plain HTTP, token "owner")', async () => {
    const previous = process.env.FIRESTORE_EMULATOR_HOST
    process.env.FIRESTORE_EMULATOR_HOST = emulator.host
    try {
      const recorder = recordingFetch()
      const ltm = await createLTM({ backend: 'firestore', projectId: emulator.newProjectId('env'), fetch: recorder.fetch })
      ok(await ltm.store('k', 'via the environment'))
      expect(ok(await ltm.retrieve('k'))).toMatchObject({ value: 'via the environment' })
      expect(recorder.auth).toEqual(['Bearer owner', 'Bearer owner'])
      await ltm.close()
    } finally {
      if (previous === undefined) delete process.env.FIRESTORE_EMULATOR_HOST
      else process.env.FIRESTORE_EMULATOR_HOST = previous
    }
  })

  it('settings: ltm_backend firestore, ltm_project_id, ltm_collection', async () => {
    const projectId = emulator.newProjectId('settings')
    const yaml = `ltm_backend: firestore\nltm_project_id: ${projectId}\nltm_collection: memories\nltm_auth: '{{ secrets.token }}'\nltm_base_url: ${emulator.baseUrl}\n`
    const ltm = await createLTMFromSettings(yaml, { secrets: { token: 'owner' } })
    ok(await ltm.store('k', 'from settings'))
    expect((await allDocs(projectId, 'memories')).map((d) => str(d, 'value'))).toEqual(['"from settings"'])
    await ltm.close()
  })

  describe('a service account', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
    const other = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
    let server: Server
    let tokenUri: string
    const exchanges: Array<Record<string, unknown>> = []

    beforeAll(async () => {
      // An OAuth token endpoint that verifies the JWT bearer grant as Google's does: RS256 over the key.
      server = createServer((request, response) => {
        let body = ''
        request.on('data', (chunk: Buffer) => (body += chunk.toString()))
        request.on('end', () => {
          const form = new URLSearchParams(body)
          const [header, claims, signature] = (form.get('assertion') ?? '').split('.')
          const valid =
            form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' &&
            verify('RSA-SHA256', Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature ?? '', 'base64url'))
          const payload = valid ? (JSON.parse(Buffer.from(claims!, 'base64url').toString()) as Record<string, unknown>) : {}
          exchanges.push({ valid, ...payload, header: valid ? JSON.parse(Buffer.from(header!, 'base64url').toString()) : null })
          response.writeHead(valid ? 200 : 400, { 'content-type': 'application/json' })
          response.end(JSON.stringify(valid ? { access_token: `ya29.test-${exchanges.length}`, expires_in: 3599, token_type: 'Bearer' } : { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }))
        })
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      tokenUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`
    })
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

    it('signs an RS256 JWT with Web Crypto, trades it once, and sends the access token', async () => {
      const key = { type: 'service_account', client_email: 'ltm@proj.iam.gserviceaccount.com', private_key: privateKey, private_key_id: 'kid-1', token_uri: tokenUri }
      const recorder = recordingFetch()
      const ltm = await createLTM(options(emulator.newProjectId('sa'), { auth: { serviceAccount: key }, fetch: recorder.fetch }))
      ok(await ltm.store('k', 'v'))
      ok(await ltm.retrieve('k'))
      ok(await ltm.search('v'))
      expect(exchanges).toHaveLength(1)
      expect(exchanges[0]).toMatchObject({ valid: true, iss: key.client_email, aud: tokenUri, scope: 'https://www.googleapis.com/auth/datastore', header: { alg: 'RS256', kid: 'kid-1' } })
      expect((exchanges[0]!.exp as number) - (exchanges[0]!.iat as number)).toBe(3600)
      // The token exchange, then every Firestore request with the access token.
      expect(recorder.auth.slice(1)).toEqual(Array(recorder.auth.length - 1).fill('Bearer ya29.test-1'))
      await ltm.close()
    })

    it('a key the token endpoint refuses -> auth_failed, with no key material or assertion in the message', async () => {
      const key = JSON.stringify({ client_email: 'ltm@proj.iam.gserviceaccount.com', private_key: other.privateKey, token_uri: tokenUri })
      const ltm = await createLTM(options(emulator.newProjectId('sa-bad'), { auth: key }))
      const result = await ltm.store('k', 'v')
      expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
      expect((result as { error: string }).error).toMatch(/Invalid JWT Signature/)
      expect((result as { error: string }).error).not.toMatch(/eyJ|PRIVATE KEY/)
      await ltm.close()
    })
  })

  it('a filter Firestore cannot serve without a composite index runs in the SDK instead (once asked, remembered)', async () => {
    let refused = 0
    const recorder = recordingFetch((url, body) => {
      if (!url.endsWith(':runQuery') || !body.includes('metadata.')) return null
      refused++
      const error = { code: 400, message: 'The query requires an index. You can create it here: https://console.firebase.google.com/…', status: 'FAILED_PRECONDITION' }
      return new Response(JSON.stringify({ error }), { status: 400, headers: { 'content-type': 'application/json' } })
    })
    const ltm = await createLTM(options(emulator.newProjectId('index'), { fetch: recorder.fetch }))
    ok(await ltm.storeBatch([{ key: 'a', value: 'indexed words', metadata: { team: 'a' } }, { key: 'b', value: 'indexed words', metadata: { team: 'b' } }]))
    expect(ok(await ltm.search('indexed', { team: 'a' })).results.map((r) => r.key)).toEqual(['a'])
    expect(ok(await ltm.search('indexed', { team: 'b' })).results.map((r) => r.key)).toEqual(['b'])
    expect(refused).toBe(1)
    expect(ok(await ltm.stats())).toMatchObject({ index_fallbacks: 1 })
    await ltm.close()
  })
})

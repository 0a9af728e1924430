// Same data, same queries, same scores: the embedded backend, turso and d1 run one SQL core, so
// BM25 scores must agree to floating-point noise, with and without metadata filters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLTM, type LTM, type MetadataFilter } from '../src/index.node.js'
import { memories, queryList, toBatch } from '../bench/corpus.js'
import { ok } from './conformance/harness.js'
import { startD1Server, type D1Server } from './servers/d1-server.js'
import { startHranaServer, type HranaServer } from './servers/hrana-server.js'

const TOKEN = 'parity-token-31c9'
const CORPUS = memories(0, 200, 7)
// 20 queries over all three document-frequency classes, some with a filter.
const QUERIES: Array<{ text: string; filter: MetadataFilter | null }> = queryList()
  .filter((_, i) => i % 4 === 0)
  .slice(0, 20)
  .map((q, i) => ({ text: q.text, filter: i % 3 === 0 ? { priority: { $gte: 3 } } : null }))

let hrana: HranaServer
let d1: D1Server
const handles: Record<string, LTM> = {}

beforeAll(async () => {
  ;[hrana, d1] = await Promise.all([startHranaServer({ authToken: TOKEN }), startD1Server({ apiToken: TOKEN })])
  handles.sqlite = await createLTM({ backend: 'sqlite', path: ':memory:' })
  handles.turso = await createLTM({ backend: 'turso', url: hrana.url, authToken: TOKEN })
  handles.d1 = await createLTM({ backend: 'd1', baseUrl: d1.baseUrl, accountId: d1.accountId, databaseId: d1.databaseId, apiToken: TOKEN })
  for (const ltm of Object.values(handles)) ok(await ltm.storeBatch(toBatch(CORPUS)))
}, 60_000)

afterAll(async () => {
  for (const ltm of Object.values(handles)) await ltm.close()
  await Promise.all([hrana?.close(), d1?.close()])
})

/** Results as [key, score], ties broken by key so engines that order equal scores differently compare equal. */
async function ranked(ltm: LTM, text: string, filter: MetadataFilter | null): Promise<Array<[string, number]>> {
  const result = ok(await ltm.search(text, filter, 20))
  return result.results.map((r) => [r.key, r.score] as [string, number]).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
}

describe('search parity: sqlite, turso and d1 on the same 200 memories', () => {
  it('the queries match something (the comparison is not vacuous)', async () => {
    let hits = 0
    for (const { text, filter } of QUERIES) hits += (await ranked(handles.sqlite!, text, filter)).length
    expect(hits).toBeGreaterThan(100)
  })

  for (const backend of ['turso', 'd1'] as const) {
    it(`${backend}: the same keys in the same order, scores equal to 1e-9`, async () => {
      for (const { text, filter } of QUERIES) {
        const expected = await ranked(handles.sqlite!, text, filter)
        const actual = await ranked(handles[backend]!, text, filter)
        expect(actual.map(([key]) => key), `${text} ${JSON.stringify(filter)}`).toEqual(expected.map(([key]) => key))
        actual.forEach(([, score], i) => expect(Math.abs(score - expected[i]![1]), `${text}: ${actual[i]![0]}`).toBeLessThan(1e-9))
      }
    })
  }
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BM25_B, BM25_K1, BM25_MIN_IDF, bm25Idf, bm25TermScore } from '../../src/core/bm25.js'
import { documentTerms, parseQuery } from '../../src/core/tokenize.js'
import type { JsonValue, LTM, SearchHit, SearchOptions } from '../../src/core/types.js'
import { createLTM } from '../../src/index.node.js'

describe('bm25 formulas', () => {
  it('uses the FTS5 constants', () => {
    expect(BM25_K1).toBe(1.2)
    expect(BM25_B).toBe(0.75)
    expect(BM25_MIN_IDF).toBe(1e-6)
  })

  it('idf = ln((N - n + 0.5) / (n + 0.5))', () => {
    expect(bm25Idf(10, 1)).toBe(Math.log(9.5 / 1.5))
    expect(bm25Idf(100, 3)).toBe(Math.log(97.5 / 3.5))
    expect(bm25Idf(1000, 0)).toBe(Math.log(1000.5 / 0.5))
  })

  it('idf is floored at 1e-6 when a term is in half the documents or more', () => {
    expect(bm25Idf(10, 5)).toBe(1e-6)
    expect(bm25Idf(10, 8)).toBe(1e-6)
    expect(bm25Idf(1, 1)).toBe(1e-6)
    expect(bm25Idf(10, 4)).toBeGreaterThan(0)
  })

  it('term score for a document of average length is idf * tf * (k1 + 1) / (tf + k1)', () => {
    expect(bm25TermScore(2, 1, 10, 10)).toBeCloseTo(2, 15)
    expect(bm25TermScore(2, 3, 10, 10)).toBeCloseTo((2 * 3 * 2.2) / (3 + 1.2), 15)
  })

  it('length normalisation: longer documents score lower, shorter higher', () => {
    const idf = 1.5
    const average = bm25TermScore(idf, 2, 10, 10)
    expect(bm25TermScore(idf, 2, 20, 10)).toBeLessThan(average)
    expect(bm25TermScore(idf, 2, 5, 10)).toBeGreaterThan(average)
    expect(bm25TermScore(idf, 2, 20, 10)).toBeCloseTo((idf * 2 * 2.2) / (2 + 1.2 * (0.25 + 0.75 * 2)), 15)
  })

  it('saturates with term frequency', () => {
    const s1 = bm25TermScore(1, 1, 10, 10)
    const s2 = bm25TermScore(1, 2, 10, 10)
    const s100 = bm25TermScore(1, 100, 10, 10)
    expect(s2).toBeGreaterThan(s1)
    expect(s100).toBeLessThan(BM25_K1 + 1)
  })
})

// ---------------------------------------------------------------------------------------------
// SQL parity: every score the sqlite backend returns, recomputed from the corpus.

type Corpus = Map<string, JsonValue>

const CORPUS: [string, JsonValue][] = [
  ['c1', 'Coffee is a brewed drink prepared from roasted coffee beans'],
  ['c2', { title: 'Café culture', body: 'A café serves coffee and tea; cafés are social places.' }],
  ['c3', ['tea', 'green tea', 'black tea', 'herbal infusion']],
  ['c4', 'Espresso is concentrated coffee. Cafeteria menus list espresso and caffeine content.'],
  ['c5', { note: 'The weather is nice today', n: 42 }],
  ['c6', 'Caffeine is found in coffee, tea, and cocoa'],
  ['c7', 'Roasted coffee beans lose moisture. Beans are graded by size: 15, 16, 17.'],
  ['c8', { nested: { deep: ['long text about programming in typescript and rust', 'coffee'] }, flag: true }],
  ['c9', 'cat dog cat dog cat'],
  ['c10', '我喜欢喝咖啡，咖啡很好喝'],
  ['c11', { a: 'Tea time', b: { c: 'tea', d: ['TEA', 42] } }],
]

interface Expected {
  key: string
  score: number
}

/** BM25 over `corpus`, written from the definition, not from the SQL. */
function expectedScores(corpus: Corpus, query: string, options: SearchOptions = {}): Expected[] {
  const parsed = parseQuery(query, { syntax: options.syntax ?? 'safe', matchAll: options.match === 'all' })
  const docs = [...corpus].map(([key, value]) => ({ key, ...documentTerms(value) }))
  const n = docs.length
  const avgdl = docs.reduce((sum, d) => sum + d.length, 0) / n

  const tfs = parsed.terms.map((qt) =>
    docs.map((doc) => {
      if (!qt.prefix) return doc.frequencies.get(qt.term) ?? 0
      let tf = 0
      for (const [token, count] of doc.frequencies) if (token.startsWith(qt.term)) tf += count
      return tf
    }),
  )
  const idfs = tfs.map((perDoc) => bm25Idf(n, perDoc.filter((tf) => tf > 0).length))

  const results: Expected[] = []
  docs.forEach((doc, d) => {
    let score = 0
    let positive = 0
    let rejected = false
    parsed.terms.forEach((qt, t) => {
      const tf = tfs[t]![d]!
      if (qt.excluded) {
        if (tf > 0) rejected = true
        return
      }
      if (tf > 0) {
        positive++
        score += bm25TermScore(idfs[t]!, tf, doc.length, avgdl)
      } else if (qt.required || parsed.matchAll) rejected = true
    })
    if (!rejected && positive > 0) results.push({ key: doc.key, score })
  })
  return results.sort((a, b) => b.score - a.score)
}

function assertParity(hits: SearchHit[], expected: Expected[], label: string): void {
  expect(hits.map((h) => h.key).sort(), label).toEqual(expected.map((e) => e.key).sort())
  const byKey = new Map(expected.map((e) => [e.key, e.score]))
  for (const hit of hits) {
    const want = byKey.get(hit.key)!
    expect(Math.abs(hit.score - want), `${label}: ${hit.key} scored ${hit.score}, expected ${want}`).toBeLessThanOrEqual(1e-9)
    expect(hit.score).toBeGreaterThan(0)
  }
  for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score, label).toBeGreaterThanOrEqual(hits[i]!.score)
}

describe('sqlite search scores equal BM25 recomputed from the corpus', () => {
  let ltm: LTM
  const corpus: Corpus = new Map()

  async function search(query: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    const result = await ltm.search(query, null, 100, options)
    if (!result.success) throw new Error(`search failed: ${result.error}`)
    expect(result.count).toBe(result.results.length)
    return result.results
  }

  async function check(query: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    const hits = await search(query, options)
    assertParity(hits, expectedScores(corpus, query, options), `${query} ${JSON.stringify(options)}`)
    return hits
  }

  beforeAll(async () => {
    ltm = await createLTM({ backend: 'sqlite', path: ':memory:' })
    for (const [key, value] of CORPUS) {
      const stored = await ltm.store(key, value, { i: key })
      expect(stored.success).toBe(true)
      corpus.set(key, value)
    }
    // Another namespace full of the same words must not change this namespace's statistics.
    const other = ltm.namespace('other')
    for (let i = 0; i < 20; i++) expect((await other.store(`o${i}`, 'coffee tea cat roasted beans caffeine')).success).toBe(true)
  })

  afterAll(async () => {
    await ltm.close()
  })

  it('the corpus is what the test thinks it is', () => {
    const docs = [...corpus.values()].map((v) => documentTerms(v))
    expect(docs.map((d) => d.length)).toEqual([10, 12, 7, 11, 6, 8, 13, 9, 5, 7, 5])
  })

  it('a single rare term', async () => {
    const hits = await check('espresso')
    expect(hits.map((h) => h.key)).toEqual(['c4'])
    const doc = documentTerms(corpus.get('c4')!)
    const avgdl = [...corpus.values()].reduce<number>((sum, v) => sum + documentTerms(v).length, 0) / corpus.size
    expect(hits[0]!.score).toBeCloseTo(bm25TermScore(bm25Idf(11, 1), 2, doc.length, avgdl), 12)
  })

  it('a term in half the documents or more gets the 1e-6 idf floor', async () => {
    const hits = await check('coffee')
    // 6 of 11 documents: ln((11 - 6 + 0.5) / (6 + 0.5)) < 0
    expect(hits.map((h) => h.key).sort()).toEqual(['c1', 'c2', 'c4', 'c6', 'c7', 'c8'])
    for (const hit of hits) expect(hit.score).toBeLessThan(1e-5)
  })

  it('several terms, any match', async () => {
    const hits = await check('tea')
    expect(hits.map((h) => h.key).sort()).toEqual(['c11', 'c2', 'c3', 'c6'])
    await check('roasted beans')
    await check('cat dog weather')
    await check('Tea COFFEE cocoa')
  })

  it('term frequency and length matter: ordering follows the scores', async () => {
    const hits = await check('cat')
    expect(hits.map((h) => h.key)).toEqual(['c9'])
    const tea = await check('tea')
    // c3 and c11 have tea three times in short documents; c2 and c6 once
    expect(new Set(tea.slice(0, 2).map((h) => h.key))).toEqual(new Set(['c3', 'c11']))
  })

  it('prefix queries sum tf over every matching token', async () => {
    const hits = await check('caf*')
    // cafe (c2 twice), cafes (c2), cafeteria (c4), caffeine (c4, c6)
    expect(hits.map((h) => h.key).sort()).toEqual(['c2', 'c4', 'c6'])
    await check('caffe*')
    await check('bean* roast*')
    await check('caf* coffee')
  })

  it('match: all requires every term', async () => {
    const both = await check('tea coffee', { match: 'all' })
    expect(both.map((h) => h.key).sort()).toEqual(['c2', 'c6'])
    const prefixed = await check('caf* coffee', { match: 'all' })
    expect(prefixed.map((h) => h.key).sort()).toEqual(['c2', 'c4', 'c6'])
    expect(await check('cat coffee', { match: 'all' })).toEqual([])
  })

  it('raw syntax: required and excluded terms', async () => {
    const required = await check('+coffee roasted', { syntax: 'raw' })
    expect(required.map((h) => h.key).sort()).toEqual(['c1', 'c2', 'c4', 'c6', 'c7', 'c8'])
    const excluded = await check('coffee -tea', { syntax: 'raw' })
    expect(excluded.map((h) => h.key).sort()).toEqual(['c1', 'c4', 'c7', 'c8'])
    expect(await check('beans -roasted', { syntax: 'raw' })).toEqual([])
    expect((await check('beans -espresso', { syntax: 'raw' })).map((h) => h.key).sort()).toEqual(['c1', 'c7'])
    await check('+caf* -tea', { syntax: 'raw' })
  })

  it('numbers and CJK terms', async () => {
    expect((await check('42')).map((h) => h.key).sort()).toEqual(['c11', 'c5'])
    expect((await check('咖啡')).map((h) => h.key)).toEqual(['c10'])
    expect((await check('15 16')).map((h) => h.key)).toEqual(['c7'])
  })

  it('accent-folded queries hit accent-folded text', async () => {
    const folded = await check('CAFÉ')
    expect(folded.map((h) => h.key)).toEqual(['c2'])
    const plain = await search('cafe')
    expect(plain.map((h) => [h.key, h.score])).toEqual(folded.map((h) => [h.key, h.score]))
  })

  it('keys are not indexed', async () => {
    expect(await check('nested')).toEqual([])
    expect(await check('title')).toEqual([])
  })

  it('unknown words find nothing', async () => {
    expect(await check('zebra')).toEqual([])
  })

  it('statistics follow updates and deletes', async () => {
    const before = await search('weather')
    expect(before.map((h) => h.key)).toEqual(['c5'])
    expect((await ltm.store('c5', 'weather weather and more weather')).success).toBe(true)
    corpus.set('c5', 'weather weather and more weather')
    expect((await ltm.store('c12', 'stormy weather ahead')).success).toBe(true)
    corpus.set('c12', 'stormy weather ahead')
    expect((await ltm.delete('c9')).success).toBe(true)
    corpus.delete('c9')
    const after = await check('weather')
    expect(after.map((h) => h.key)).toEqual(['c5', 'c12'])
    await check('coffee tea')
    await check('caf*')
    expect(await check('cat')).toEqual([])
    await check('tea coffee', { match: 'all' })
  })
})

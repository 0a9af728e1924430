/**
 * Micro-costs of the work the SDK does around the SQL, per call, on corpus memories. They explain
 * the SDK/raw ratios: each is part of what `store`, `retrieve` or `search` adds to the database work.
 */
import { createHash } from 'node:crypto'
import { parseFilter } from '../src/core/filter.js'
import { sha256Hex } from '../src/core/hash.js'
import { assertJson, canonicalJson, utf8Length } from '../src/core/json.js'
import { documentTerms, parseQuery, searchableText } from '../src/core/tokenize.js'
import type { JsonValue } from '../src/core/types.js'
import { searchStatement } from '../src/sql/search.js'
import { ensureNamespace, readBeforeWrite, selectMemories, upsertMemory } from '../src/sql/statements.js'
import { FILTERS, memories, queryList } from './corpus.js'
import { prepareWrite } from './raw.js'
import { nsPerAsyncCall, nsPerCall, round } from './stats.js'

export interface MicroCost {
  name: string
  /** Which SDK operation pays it. */
  operation: 'store' | 'retrieve' | 'search' | 'reference'
  ns_per_call: number
  note: string
}

const WORD = /[\p{L}\p{N}]+/gu

/** A plain regex tokenizer, only as a reference point for Intl.Segmenter's cost. */
function regexTokens(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? []
}

export async function measureMicroCosts(iterations = 5_000): Promise<MicroCost[]> {
  const sample = memories(0, 2000, 3)
  const pick = <T>(items: readonly T[], i: number): T => items[i % items.length]!
  const canonical = sample.map((m) => canonicalJson(m.value))
  const writes = await Promise.all(sample.map((m) => prepareWrite(m)))
  const rows = writes.map((w) => ({ value: w.valueJson, metadata: w.metadataJson, created_at: 1.7e12, updated_at: 1.7e12, expires_at: null }))
  const queries = queryList().map((q) => q.text)
  const parsedQueries = queries.map((q) => parseQuery(q))
  const costs: MicroCost[] = []
  const add = (name: string, operation: MicroCost['operation'], ns: number, note: string): void => {
    costs.push({ name, operation, ns_per_call: round(ns, 0), note })
  }

  add('assertJson(value) + assertJson(metadata)', 'store', nsPerCall((i) => {
    const m = pick(sample, i)
    assertJson(m.value, 'value')
    assertJson(m.metadata, 'metadata')
  }, iterations), 'JSON validation (copy of the value without undefined properties)')
  add('JSON.stringify(value) + utf8Length', 'store', nsPerCall((i) => utf8Length(JSON.stringify(pick(sample, i).value)), iterations), 'value text and its byte size check')
  add('canonicalJson(value) + canonicalJson(metadata)', 'store', nsPerCall((i) => {
    const m = pick(sample, i)
    canonicalJson(m.value)
    canonicalJson(m.metadata)
  }, iterations), 'sorted-key JSON for the hash and the metadata column')
  add('sha256Hex via crypto.subtle (awaited)', 'store', await nsPerAsyncCall((i) => sha256Hex(pick(canonical, i)), iterations), 'Web Crypto digest: async, one promise per call')
  add('sha256 via node:crypto createHash (sync)', 'reference', nsPerCall((i) => createHash('sha256').update(pick(canonical, i)).digest('hex'), iterations), 'reference: the synchronous Node hash')
  add('documentTerms(value) (Intl.Segmenter)', 'store', nsPerCall((i) => documentTerms(pick(sample, i).value), iterations), 'tokenize + normalize + count terms')
  add('regex tokenizer on the same text', 'reference', nsPerCall((i) => regexTokens(searchableText(pick(sample, i).value)), iterations), 'reference: /[\\p{L}\\p{N}]+/gu, lower-cased')
  const termMaps = sample.map((m) => documentTerms(m.value).frequencies)
  add('terms JSON.stringify(Object.fromEntries(freq))', 'store', nsPerCall((i) => JSON.stringify(Object.fromEntries(pick(termMaps, i))), iterations), 'term counts to the JSON the trigger reads')
  add('prepareWrite total (all of the above)', 'store', await nsPerAsyncCall((i) => prepareWrite(pick(sample, i)), iterations), 'what the SDK computes per memory before SQL')
  const batch = sample.slice(0, 500)
  add('prepareWrite of a 500-entry storeBatch (Promise.all), per memory', 'store', (await nsPerAsyncCall(() => Promise.all(batch.map((m) => prepareWrite(m))), Math.max(4, iterations / 1000), 2)) / batch.length, 'storeBatch prepares all entries concurrently')
  add('crypto.subtle digest of 500 texts (Promise.all), per memory', 'store', (await nsPerAsyncCall(() => Promise.all(batch.map((_, i) => sha256Hex(canonical[i]!))), Math.max(4, iterations / 1000), 2)) / batch.length, '500 digests queued on the libuv thread pool at once')
  add('build write SQL (ensureNamespace, readBeforeWrite, upsertMemory)', 'store', nsPerCall((i) => {
    const w = pick(writes, i)
    return [ensureNamespace(w.namespace), readBeforeWrite(w), upsertMemory(w, 1.7e12)]
  }, iterations), 'template strings rebuilt on every call')
  const cache = new Map<string, number>()
  add('statement-cache lookup with a rebuilt SQL string', 'store', nsPerCall((i) => {
    const sql = upsertMemory(pick(writes, i), 1.7e12).sql
    cache.set(sql, (cache.get(sql) ?? 0) + 1)
  }, iterations), 'Map lookup hashes the new ~800-char string each time (includes the build)')
  add('result shaping: JSON.parse value+metadata, 3 ISO dates', 'retrieve', nsPerCall((i) => {
    const row = pick(rows, i)
    return {
      value: JSON.parse(row.value) as JsonValue,
      metadata: JSON.parse(row.metadata) as JsonValue,
      created_at: new Date(row.created_at).toISOString(),
      updated_at: new Date(row.updated_at).toISOString(),
      expires_at: row.expires_at,
    }
  }, iterations), 'per returned row (retrieve: 1, search: up to 10)')
  add('build select SQL (selectMemories)', 'retrieve', nsPerCall((i) => selectMemories('', [pick(writes, i).key], 1.7e12), iterations), '')
  add('parseQuery (Intl.Segmenter)', 'search', nsPerCall((i) => parseQuery(pick(queries, i)), iterations), '1-3 word query')
  add('parseFilter (2 conditions)', 'search', nsPerCall(() => parseFilter(FILTERS[1]!.filter), iterations), 'validates with assertJson')
  add('build search SQL (searchStatement)', 'search', nsPerCall((i) => searchStatement({ namespace: '', query: pick(parsedQueries, i), filter: [], limit: 10, now: 1.7e12 }), iterations), '')
  add('async call with 3 awaits (promise overhead)', 'reference', await nsPerAsyncCall(async () => {
    await null
    await null
    await null
  }, iterations), 'the SDK path awaits ~3-5 promises per operation')
  return costs
}

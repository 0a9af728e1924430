/**
 * Search parity: the same 200-memory corpus and 20 queries on every backend, each backend's top 5
 * compared with embedded sqlite's. Shared by `npm run bench:remote` (which reports it) and
 * test/search-parity.test.ts (which asserts it), so both run exactly the same queries.
 */
import type { LTM, MetadataFilter, SearchHit } from '../../src/core/types.js'
import { memories, queryList, toBatch, type QueryClass } from '../corpus.js'
import { check } from '../sdk.js'

export const PARITY_CORPUS = { from: 0, count: 200, seed: 7 } as const
export const PARITY_LIMIT = 5
/** Every backend stores the corpus in this namespace: BM25 statistics are per namespace, so other memories of the store do not count. */
export const PARITY_NAMESPACE = 'bench-parity'

export interface ParityQuery {
  text: string
  class: QueryClass
  filter: MetadataFilter | null
}

/**
 * 20 queries: 7 rare, 7 medium and 6 common ones from the corpus's query list (every third), every
 * fourth with a metadata filter (alternately `type = preference` and `priority >= 3`).
 */
export function parityQueries(): ParityQuery[] {
  const list = queryList()
  const picked = [...[0, 3, 6, 9, 12, 15, 18], ...[24, 27, 30, 33, 36, 39, 42], ...[48, 51, 54, 57, 60, 63]].map((i) => list[i]!)
  return picked.map((q, i): ParityQuery => ({
    text: q.text,
    class: q.class,
    filter: i % 4 === 3 ? ((i / 4) % 2 < 1 ? { type: 'preference' } : { priority: { $gte: 3 } }) : null,
  }))
}

/** Stores the parity corpus in `ltm`'s parity namespace (one storeBatch, in corpus order) and returns that view. */
export async function storeParityCorpus(ltm: LTM): Promise<LTM> {
  const view = ltm.namespace(PARITY_NAMESPACE)
  const result = check(await view.storeBatch(toBatch(memories(PARITY_CORPUS.from, PARITY_CORPUS.count, PARITY_CORPUS.seed))), 'storeBatch')
  if (result.stored_count !== PARITY_CORPUS.count) throw new Error(`parity corpus: stored ${result.stored_count} of ${PARITY_CORPUS.count}`)
  return view
}

export interface Top {
  keys: string[]
  scores: number[]
}

export async function topOf(view: LTM, query: ParityQuery): Promise<Top> {
  const result = await view.search(query.text, query.filter, PARITY_LIMIT)
  if (!result.success) throw new Error(`search ${JSON.stringify(query.text)} failed: ${JSON.stringify(result)}`)
  const hits: SearchHit[] = result.results
  return { keys: hits.map((h) => h.key), scores: hits.map((h) => h.score) }
}

export interface QueryComparison {
  /** |A ∩ B| / max(|A|, |B|): /5 when both return 5 hits; 1 when both return none. */
  overlap: number
  /** The same keys in the same order. */
  same_order: boolean
  /** Largest |score difference| over the keys both returned, or null when they share none. */
  max_score_diff: number | null
}

export function compareTop(base: Top, other: Top): QueryComparison {
  const size = Math.max(base.keys.length, other.keys.length)
  const shared = other.keys.filter((k) => base.keys.includes(k))
  const diffs = shared.map((k) => Math.abs(other.scores[other.keys.indexOf(k)]! - base.scores[base.keys.indexOf(k)]!))
  return {
    overlap: size === 0 ? 1 : shared.length / size,
    same_order: base.keys.join('\n') === other.keys.join('\n'),
    max_score_diff: diffs.length === 0 ? null : Math.max(...diffs),
  }
}

export interface BackendParity {
  /** Mean over the queries of `overlap`. */
  overlap_mean: number
  /** Queries whose top 5 matched sqlite's key for key, in order. */
  same_order: number
  /** Largest |score difference| over every shared hit of every query. */
  max_score_diff: number
  per_query: Array<Top & QueryComparison>
}

/** Runs every parity query on `view` and compares each top 5 with the embedded one (`base`, by query). */
export async function parityOf(view: LTM, queries: ParityQuery[], base: Top[]): Promise<BackendParity> {
  const per_query: BackendParity['per_query'] = []
  for (const [i, q] of queries.entries()) {
    const top = await topOf(view, q)
    per_query.push({ ...top, ...compareTop(base[i]!, top) })
  }
  return {
    overlap_mean: per_query.reduce((sum, q) => sum + q.overlap, 0) / per_query.length,
    same_order: per_query.filter((q) => q.same_order).length,
    max_score_diff: Math.max(0, ...per_query.map((q) => q.max_score_diff ?? 0)),
    per_query,
  }
}

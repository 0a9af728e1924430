import { bm25Idf, bm25TermScore } from '../core/bm25.js'
import type { ParsedQuery } from '../core/tokenize.js'
import { prefixUpperBound } from '../core/tokenize.js'
import { compareCodePoints } from './filter.js'
import type { MemoryDoc } from './model.js'
import { wellFormed } from './values.js'

/**
 * BM25 in the SDK over Firestore's candidates, defined exactly as the SQL search
 * (src/sql/search.ts) computes it: a query term counts only if some memory of the namespace holds
 * it (df > 0); an exact term's tf is its frequency, a `prefix*` term's tf the sum over the memory's
 * terms in [prefix, next) and its df the number of memories holding any of them; excluded terms
 * veto, every required term must hit, at least one positive term must hit; ties go to the memory
 * created later (SQLite's rowid order).
 */

export const Role = { Optional: 0, Required: 1, Excluded: 2 } as const
export type Role = (typeof Role)[keyof typeof Role]

export interface PlannedTerm {
  term: string
  /** Exclusive upper bound of a prefix term's range; null for an exact term. */
  hi: string | null
  role: Role
}

export function planTerms(query: ParsedQuery): PlannedTerm[] {
  return query.terms.map((t) => {
    const term = wellFormed(t.term)
    const role = t.excluded ? Role.Excluded : t.required || query.matchAll ? Role.Required : Role.Optional
    return { term, hi: t.prefix ? prefixUpperBound(term) : null, role }
  })
}

export const inRange = (term: string, lo: string, hi: string): boolean => compareCodePoints(term, lo) >= 0 && compareCodePoints(term, hi) < 0

const frequencyCache = new WeakMap<MemoryDoc, Map<string, number>>()

function frequencies(doc: MemoryDoc): Map<string, number> {
  let map = frequencyCache.get(doc)
  if (!map) {
    map = new Map()
    for (const [term, count] of Object.entries(JSON.parse(doc.tfJson) as Record<string, number>)) {
      const key = wellFormed(term)
      map.set(key, (map.get(key) ?? 0) + count)
    }
    frequencyCache.set(doc, map)
  }
  return map
}

export function termFrequency(doc: MemoryDoc, term: PlannedTerm): number {
  const tf = frequencies(doc)
  if (term.hi === null) return tf.get(term.term) ?? 0
  let sum = 0
  for (const [candidate, count] of tf) if (inRange(candidate, term.term, term.hi)) sum += count
  return sum
}

export interface CorpusStats {
  docCount: number
  tokenCount: number
}

export interface Ranked<D extends MemoryDoc> {
  doc: D
  score: number
}

/**
 * Scores `docs` (already live and filtered); `df[i]` belongs to `terms[i]`. Returns the matches,
 * best first.
 */
export function rank<D extends MemoryDoc>(terms: PlannedTerm[], df: number[], stats: CorpusStats, docs: Iterable<D>): Ranked<D>[] {
  const required = terms.filter((t) => t.role === Role.Required).length
  const averageLength = stats.docCount > 0 ? stats.tokenCount / stats.docCount : 1
  const idf = terms.map((_, i) => (df[i]! > 0 ? bm25Idf(stats.docCount, df[i]!) : null))
  const out: Ranked<D>[] = []
  for (const doc of docs) {
    let positive = 0
    let requiredHits = 0
    let score = 0
    let excluded = false
    for (let i = 0; i < terms.length; i++) {
      const weight = idf[i]
      if (weight === null || weight === undefined) continue
      const term = terms[i]!
      const tf = termFrequency(doc, term)
      if (tf === 0) continue
      if (term.role === Role.Excluded) {
        excluded = true
        break
      }
      positive++
      if (term.role === Role.Required) requiredHits++
      score += bm25TermScore(weight, tf, doc.docLen, averageLength)
    }
    if (!excluded && positive > 0 && requiredHits === required) out.push({ doc, score })
  }
  return out.sort((a, b) => b.score - a.score || b.doc.ord - a.doc.ord || compareCodePoints(b.doc.id, a.doc.id))
}

/** Listing order without a query: newest update first, then later creation (SQL: updated_at DESC, id DESC). */
export function newestFirst(a: MemoryDoc, b: MemoryDoc): number {
  return b.updatedAt - a.updatedAt || b.ord - a.ord || compareCodePoints(b.id, a.id)
}

/**
 * BM25 as FTS5's bm25() defines it: k1 1.2, b 0.75, idf = ln((N - n + 0.5) / (n + 0.5)) floored at
 * 1e-6. Returned positive, higher is better. SQL engines compute the same formula from these
 * constants (src/sql/search.ts); backends without SQL call `bm25Score`.
 */
export const BM25_K1 = 1.2
export const BM25_B = 0.75
export const BM25_MIN_IDF = 1e-6

export function bm25Idf(documentCount: number, documentsWithTerm: number): number {
  const idf = Math.log((documentCount - documentsWithTerm + 0.5) / (documentsWithTerm + 0.5))
  return idf > 0 ? idf : BM25_MIN_IDF
}

/** One term's contribution to a document's score. */
export function bm25TermScore(idf: number, termFrequency: number, documentLength: number, averageLength: number): number {
  return (idf * (termFrequency * (BM25_K1 + 1))) / (termFrequency + BM25_K1 * (1 - BM25_B + (BM25_B * documentLength) / averageLength))
}

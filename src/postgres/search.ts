import { BM25_B, BM25_K1, BM25_MIN_IDF } from '../core/bm25.js'
import type { SearchRequest } from '../core/backend.js'
import { prefixUpperBound, type QueryTerm } from '../core/tokenize.js'
import type { PgStatement } from './executor.js'
import { compileFilter } from './filter.js'
import { MEMORY_COLUMNS, assertStorableText, live, param } from './statements.js'

/**
 * How search finds and ranks, in one statement.
 *
 * Finding: each of the SDK's query terms (its tokeniser, its `word*` prefixes, its +/- and 'all'
 * semantics) becomes a tsquery through `ltm_term_query` (websearch_to_tsquery with the 'simple'
 * configuration), and the GIN index on the generated tsvector narrows the namespace to candidates.
 * PostgreSQL's parser may split one of the SDK's terms further (`can't` -> can & t), identically for
 * memories and queries, so the tsquery finds a superset; each candidate is then checked against the
 * SDK's own terms (`terms`), so what matches is exactly what matches on every other backend.
 *
 * Ranking, `bm25` (the default): the SDK's BM25, as FTS5 defines it and the SQLite core computes
 * it, from per-namespace statistics: N and the average length from `ltm_namespaces`, each term's
 * document frequency counted through the GIN index, term frequencies from `terms`. Scores equal the
 * SQLite backends' (floating-point summation order aside), rarer words weigh more, and one tenant's
 * data never changes another's scores.
 *
 * Ranking, `ts_rank_cd`: PostgreSQL's cover density rank of the memory's tsvector against the
 * query (normalisation 0), at least 1e-6. It has no idf, so a rare word weighs as much as a common
 * one, and no per-namespace statistics; a tsvector holds each term repeated by its frequency (the SDK
 * hands backends frequencies, not word order), so cover density reflects frequency and coordination,
 * not proximity in the original text. Cheaper (no document-frequency counts), but its scores are
 * not comparable with other backends', and it does not give "rarer words weigh more".
 *
 * In both, metadata filters and expiry apply before ORDER BY ... LIMIT; equal scores go to the memory
 * inserted last (as on SQLite, whose tie-break is the rowid).
 */
export type Ranking = 'bm25' | 'ts_rank_cd'

// A prefix query on a term PostgreSQL might parse differently once longer (1.5 -> 1.5e3) is left to
// the exact check: its tsquery is not a safe superset. Letters, digits and marks are.
const PREFIXABLE = /^[\p{L}\p{N}\p{M}]+$/u

const enum Role {
  Optional,
  Required,
  Excluded,
}

export function searchStatement(request: SearchRequest, ranking: Ranking): PgStatement {
  const { namespace, query, filter, limit, now } = request
  assertStorableText(namespace, 'the namespace name')
  const values: unknown[] = [namespace, now]
  const where = compileFilter(filter, 'm', values)
  if (!query) {
    return {
      text: `SELECT ${MEMORY_COLUMNS}, 0 AS score FROM ltm_memories m
        WHERE m.ns = $1 AND ${live('$2')} AND ${where} ORDER BY m.updated_at DESC, m.id DESC LIMIT ${param(values, limit)}`,
      values,
    }
  }

  const terms = query.terms
  const role = (t: QueryTerm): Role => (t.excluded ? Role.Excluded : t.required || query.matchAll ? Role.Required : Role.Optional)
  const termsParam = param(values, terms.map((t) => t.term), 'text[]')
  // Only sent when some term is a prefix: PostgreSQL refuses a parameter the statement never uses.
  let boundsParam: string | undefined
  const term = (i: number): string => `(${termsParam})[${i + 1}]`
  const bound = (i: number): string => {
    boundsParam ??= param(values, terms.map((t) => (t.prefix ? prefixUpperBound(t.term) : null)), 'text[]')
    return `(${boundsParam})[${i + 1}]`
  }
  /** The term's tsquery, or NULL when it cannot narrow the search (folded to a constant by the planner). */
  const tsquery = (i: number): string => {
    const t = terms[i]!
    if (t.prefix && !PREFIXABLE.test(t.term)) return 'NULL::tsquery'
    return `ltm_term_query(${term(i)}, ${t.prefix})`
  }
  /** Occurrences of the term in a row's SDK terms; for a prefix, of every term in [prefix, next). */
  const frequency = (i: number, row: string): string =>
    terms[i]!.prefix
      ? `(SELECT COALESCE(sum(e.f::integer), 0) FROM jsonb_each_text(${row}.terms) AS e(t, f) WHERE e.t COLLATE "C" >= ${term(i)} AND e.t COLLATE "C" < ${bound(i)})`
      : `COALESCE((${row}.terms ->> ${term(i)})::integer, 0)`
  const narrows = (q: string, row: string): string => `(${q} IS NULL OR ${row}.tsv IS NULL OR ${row}.tsv @@ ${q})`

  const indexes = terms.map((_, i) => i)
  const positive = indexes.filter((i) => role(terms[i]!) !== Role.Excluded)
  const required = positive.filter((i) => role(terms[i]!) === Role.Required)
  // With required terms a match has all of them (unknown ones drop out of the AND); otherwise at
  // least one positive term (an unknown one makes the OR unknown: no narrowing).
  const candidates =
    required.length > 0
      ? `(${required.map((i) => `COALESCE(${tsquery(i)}, ''::tsquery)`).join(' && ')})`
      : `(${positive.map(tsquery).join(' || ')})`
  const prefilter = required.length > 0 ? `(numnode(${candidates}) = 0 OR m.tsv IS NULL OR m.tsv @@ ${candidates})` : narrows(candidates, 'm')

  const tf = indexes.map((i) => `${frequency(i, 'm')} AS tf${i}`).join(', ')
  const matches = [
    ...indexes.filter((i) => role(terms[i]!) === Role.Excluded).map((i) => `h.tf${i} = 0`),
    ...required.map((i) => `h.tf${i} > 0`),
    `(${positive.map((i) => `h.tf${i} > 0`).join(' OR ')})`,
  ].join(' AND ')
  // Candidates with their term frequencies, each computed once; values are read only for the top rows.
  const hits = (extra: string): string => `hits AS MATERIALIZED (SELECT m.key, m.id, m.doc_len, ${extra}${tf} FROM ltm_memories m
      WHERE m.ns = $1 AND ${live('$2')} AND ${where} AND ${prefilter})`
  const top = (score: string, from: string): string => `top AS (SELECT h.key, h.id, (${score})::float8 AS score FROM ${from}
      WHERE ${matches} ORDER BY score DESC, h.id DESC LIMIT ${param(values, limit)})
    SELECT ${MEMORY_COLUMNS}, top.score AS score FROM top JOIN ltm_memories m ON m.ns = $1 AND m.key = top.key
    ORDER BY top.score DESC, top.id DESC`

  if (ranking === 'ts_rank_cd') {
    const rankQuery = positive.map((i) => `COALESCE(${tsquery(i)}, ''::tsquery)`).join(' || ')
    return {
      text: `WITH ${hits(`ts_rank_cd(m.tsv, ${rankQuery}) AS rank, `)},
        ${top('GREATEST(COALESCE(h.rank, 0), 1e-6)', 'hits h')}`,
      values,
    }
  }

  // Document frequency (expired rows count until cleanupExpired, as deleted rows do in FTS5).
  const df = positive
    .map((i) => {
      const has = terms[i]!.prefix
        ? `EXISTS (SELECT FROM jsonb_object_keys(c.terms) AS k(t) WHERE k.t COLLATE "C" >= ${term(i)} AND k.t COLLATE "C" < ${bound(i)})`
        : `c.terms ? ${term(i)}`
      return `(SELECT count(*) FROM ltm_memories c WHERE c.ns = $1 AND ${narrows(tsquery(i), 'c')} AND ${has})::float8 AS n${i}`
    })
    .join(', ')
  const idf = (i: number): string => `(CASE WHEN ln((st.n - df.n${i} + 0.5) / (df.n${i} + 0.5)) <= 0 THEN ${BM25_MIN_IDF}::float8 ELSE ln((st.n - df.n${i} + 0.5) / (df.n${i} + 0.5)) END)`
  const score = positive
    .map(
      (i) =>
        `CASE WHEN h.tf${i} > 0 THEN ${idf(i)} * (h.tf${i} * ${BM25_K1 + 1}::float8) / (h.tf${i} + ${BM25_K1}::float8 * (${1 - BM25_B}::float8 + ${BM25_B}::float8 * h.doc_len / st.avgdl)) ELSE 0 END`,
    )
    .join(' + ')
  return {
    text: `WITH
      st AS MATERIALIZED (SELECT doc_count::float8 AS n, CASE WHEN doc_count > 0 THEN token_count::float8 / doc_count ELSE 1.0::float8 END AS avgdl
             FROM ltm_namespaces WHERE name = $1),
      df AS MATERIALIZED (SELECT ${df}),
      ${hits('')},
      ${top(score, 'hits h CROSS JOIN st CROSS JOIN df')}`,
    values,
  }
}

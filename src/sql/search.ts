import { BM25_B, BM25_K1, BM25_MIN_IDF } from '../core/bm25.js'
import type { SearchRequest } from '../core/backend.js'
import { prefixUpperBound } from '../core/tokenize.js'
import type { SqlStatement, SqlValue } from '../engines/types.js'
import { compileFilter } from './filter.js'
import { LIVE, MEMORY_COLUMNS, NAMESPACE_ID, sqlLimit } from './statements.js'

const enum Role {
  Optional = 0,
  Required = 1,
  Excluded = 2,
}

/**
 * Ranked search in one statement. An exact query term is one index lookup; `prefix*` is the range
 * [prefix, next) and a document's hits across it are summed (as FTS5 does for a prefix phrase);
 * idf comes from the namespace's own document count, and the score is FTS5's bm25, negated so
 * higher is better. Metadata filters and expiry apply before ORDER BY ... LIMIT.
 */
export function searchStatement(request: SearchRequest): SqlStatement {
  const { namespace, query, filter, limit, now } = request
  const args: SqlValue[] = []
  if (!query) {
    args.push(namespace, now)
    const where = compileFilter(filter, 'm', args)
    return {
      sql: `SELECT ${MEMORY_COLUMNS}, 0 AS score FROM ltm_memories m
        WHERE m.ns = ${NAMESPACE_ID} AND ${LIVE} AND ${where} ORDER BY m.updated_at DESC, m.id DESC LIMIT ${sqlLimit(limit)}`,
      args,
    }
  }

  const terms = query.terms.map((t) => {
    const role = t.excluded ? Role.Excluded : t.required || query.matchAll ? Role.Required : Role.Optional
    return t.prefix ? [t.term, prefixUpperBound(t.term), role, 1] : [t.term, t.term, role, 0]
  })
  const required = terms.filter((t) => t[2] === Role.Required).length
  const idf = `(CASE WHEN t.raw_idf <= 0 THEN ${BM25_MIN_IDF} ELSE t.raw_idf END)`
  args.push(namespace, JSON.stringify(terms), required, now)
  const where = compileFilter(filter, 'm', args)
  const contribution = `h.idf * (h.tf * ${BM25_K1 + 1}) / (h.tf + ${BM25_K1} * (${1 - BM25_B} + ${BM25_B} * h.doc_len / st.avgdl))`
  // MATERIALIZED keeps each term's document frequency computed once, not once per posting; the
  // scored rows come out best first and memory rows are read lazily until LIMIT rows pass the filters.
  return {
    sql: `WITH
      st AS MATERIALIZED (SELECT id AS ns, doc_count AS n, CASE WHEN doc_count > 0 THEN CAST(token_count AS REAL) / doc_count ELSE 1.0 END AS avgdl
             FROM ltm_namespaces WHERE name = ?),
      q AS MATERIALIZED (SELECT CAST(key AS INTEGER) AS qi, json_extract(value, '$[0]') AS lo, json_extract(value, '$[1]') AS hi,
                   json_extract(value, '$[2]') AS role, json_extract(value, '$[3]') AS is_prefix FROM json_each(?)),
      df AS MATERIALIZED (SELECT q.qi AS qi, q.lo AS lo, q.hi AS hi, q.role AS role, q.is_prefix AS is_prefix,
                   CASE WHEN q.is_prefix = 0 THEN (SELECT count(*) FROM ltm_postings c WHERE c.ns = st.ns AND c.term = q.lo)
                        ELSE (SELECT count(DISTINCT c.doc) FROM ltm_postings c WHERE c.ns = st.ns AND c.term >= q.lo AND c.term < q.hi) END AS n
                 FROM q CROSS JOIN st),
      t AS MATERIALIZED (SELECT df.qi AS qi, df.lo AS lo, df.hi AS hi, df.role AS role, df.is_prefix AS is_prefix,
                   ln((st.n - df.n + 0.5) / (df.n + 0.5)) AS raw_idf FROM df CROSS JOIN st WHERE df.n > 0),
      hits AS (SELECT t.role AS role, ${idf} AS idf, p.doc AS doc, p.tf AS tf, p.doc_len AS doc_len
               FROM t CROSS JOIN st CROSS JOIN ltm_postings p ON p.ns = st.ns AND p.term = t.lo
               WHERE t.is_prefix = 0
               UNION ALL
               SELECT t.role, ${idf}, p.doc, SUM(p.tf), p.doc_len
               FROM t CROSS JOIN st CROSS JOIN ltm_postings p ON p.ns = st.ns AND p.term >= t.lo AND p.term < t.hi
               WHERE t.is_prefix = 1
               GROUP BY t.qi, p.doc),
      scored AS (SELECT h.doc AS doc,
                   SUM(CASE WHEN h.role = ${Role.Excluded} THEN 0 ELSE ${contribution} END) AS score
                 FROM hits h CROSS JOIN st
                 GROUP BY h.doc
                 HAVING SUM(h.role = ${Role.Excluded}) = 0 AND SUM(h.role <> ${Role.Excluded}) > 0 AND SUM(h.role = ${Role.Required}) = ?
                 ORDER BY score DESC, doc DESC)
    SELECT ${MEMORY_COLUMNS}, s.score AS score
    FROM scored s JOIN ltm_memories m ON m.id = s.doc
    WHERE ${LIVE} AND ${where}
    ORDER BY s.score DESC, s.doc DESC LIMIT ${sqlLimit(limit)}`,
    args,
  }
}

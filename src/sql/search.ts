import { BM25_B, BM25_K1, BM25_MIN_IDF } from '../core/bm25.js'
import type { SearchRequest } from '../core/backend.js'
import { prefixUpperBound } from '../core/tokenize.js'
import type { SqlStatement, SqlValue } from '../engines/types.js'
import { compileFilter } from './filter.js'
import { LIVE, MEMORY_COLUMNS, NAMESPACE_ID } from './statements.js'

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
    args.push(limit)
    return {
      sql: `SELECT ${MEMORY_COLUMNS}, 0 AS score FROM ltm_memories m
        WHERE m.ns = ${NAMESPACE_ID} AND ${LIVE} AND ${where} ORDER BY m.updated_at DESC, m.id DESC LIMIT ?`,
      args,
    }
  }

  const terms = query.terms.map((t) => {
    const role = t.excluded ? Role.Excluded : t.required || query.matchAll ? Role.Required : Role.Optional
    return t.prefix ? [t.term, prefixUpperBound(t.term), role, 1] : [t.term, t.term, role, 0]
  })
  const required = terms.filter((t) => t[2] === Role.Required).length
  const idf = `(CASE WHEN i.raw_idf <= 0 THEN ${BM25_MIN_IDF} ELSE i.raw_idf END)`
  args.push(namespace, JSON.stringify(terms), now)
  const where = compileFilter(filter, 'm', args)
  args.push(required, limit)
  return {
    sql: `WITH
      st AS (SELECT id AS ns, doc_count AS n, CASE WHEN doc_count > 0 THEN CAST(token_count AS REAL) / doc_count ELSE 1.0 END AS avgdl
             FROM ltm_namespaces WHERE name = ?),
      q AS (SELECT CAST(key AS INTEGER) AS qi, json_extract(value, '$[0]') AS lo, json_extract(value, '$[1]') AS hi,
                   json_extract(value, '$[2]') AS role, json_extract(value, '$[3]') AS is_prefix FROM json_each(?)),
      hits AS (SELECT q.qi AS qi, q.role AS role, p.doc AS doc, p.tf AS tf, p.doc_len AS doc_len
               FROM q CROSS JOIN st CROSS JOIN ltm_postings p ON p.ns = st.ns AND p.term = q.lo
               WHERE q.is_prefix = 0
               UNION ALL
               SELECT q.qi, q.role, p.doc, SUM(p.tf), p.doc_len
               FROM q CROSS JOIN st CROSS JOIN ltm_postings p ON p.ns = st.ns AND p.term >= q.lo AND p.term < q.hi
               WHERE q.is_prefix = 1
               GROUP BY q.qi, p.doc),
      i AS (SELECT hits.qi AS qi, ln((st.n - COUNT(*) + 0.5) / (COUNT(*) + 0.5)) AS raw_idf FROM hits CROSS JOIN st GROUP BY hits.qi),
      scored AS (SELECT h.doc AS doc,
                   SUM(CASE WHEN h.role = ${Role.Excluded} THEN 0 ELSE
                     ${idf} * (h.tf * ${BM25_K1 + 1}) / (h.tf + ${BM25_K1} * (${1 - BM25_B} + ${BM25_B} * h.doc_len / st.avgdl)) END) AS score,
                   SUM(h.role = ${Role.Required}) AS required_hits,
                   SUM(h.role = ${Role.Excluded}) AS excluded_hits,
                   SUM(h.role <> ${Role.Excluded}) AS positive_hits
                 FROM hits h JOIN i ON i.qi = h.qi CROSS JOIN st
                 GROUP BY h.doc)
    SELECT ${MEMORY_COLUMNS}, s.score AS score
    FROM scored s JOIN ltm_memories m ON m.id = s.doc
    WHERE ${LIVE} AND ${where} AND s.excluded_hits = 0 AND s.positive_hits > 0 AND s.required_hits = ?
    ORDER BY s.score DESC, m.id DESC LIMIT ?`,
    args,
  }
}

/**
 * Diagnostics run on the raw databases after the timed measurements: what searches read, whether a
 * bound LIMIT costs time on this SQLite build, and where a single store's time goes.
 */
import type { PreparedWrite } from '../src/core/backend.js'
import type { LTM } from '../src/core/types.js'
import { parseQuery } from '../src/core/tokenize.js'
import type { SqlStatement } from '../src/engines/types.js'
import { searchStatement } from '../src/sql/search.js'
import { ensureNamespace, readBeforeWrite, upsertMemory } from '../src/sql/statements.js'
import { queryList, type Memory, type QueryClass } from './corpus.js'
import { prepareWrite, writeStatements, type RawStore } from './raw.js'
import { QUERY_CLASSES, type LimitExperiment, type SearchAnatomy, type StoreAnatomy, type StoreDecomposition } from './report.js'
import { check } from './sdk.js'
import { elapsedNs, median, now, percentile, round } from './stats.js'

const NAMESPACE = ''
export const STORE_ANATOMY_OPS = 300
const LIMIT_QUERIES_PER_CLASS = 8

/**
 * What a query has to read, per class, on the raw better-sqlite3 database: documents matching any
 * term, postings rows of its terms, and the time of a bare scan of those postings (the floor for
 * any plan that scores every match). Informative only: if the postings layout changes, NaN.
 */
export function searchAnatomy(raw: RawStore): Record<QueryClass, SearchAnatomy> {
  const totals: Record<QueryClass, { docs: number[]; postings: number[]; scan: number[]; floored: number[] }> = {
    rare: { docs: [], postings: [], scan: [], floored: [] },
    medium: { docs: [], postings: [], scan: [], floored: [] },
    common: { docs: [], postings: [], scan: [], floored: [] },
  }
  const scope = `ns = (SELECT id FROM ltm_namespaces WHERE name = ?) AND term IN (SELECT value FROM json_each(?))`
  const [stats] = raw.query({ sql: `SELECT doc_count AS n FROM ltm_namespaces WHERE name = ?`, args: [NAMESPACE] }) as { n: number }[]
  const documents = Number(stats?.n ?? 0)
  for (const q of queryList()) {
    const words = parseQuery(q.text).terms.map((t) => t.term)
    const args = [NAMESPACE, JSON.stringify(words)]
    const t = totals[q.class]
    try {
      for (const word of words) {
        const [df] = raw.query({ sql: `SELECT count(*) AS n FROM ltm_postings WHERE ${scope}`, args: [NAMESPACE, JSON.stringify([word])] }) as { n: number }[]
        t.floored.push(Number(df?.n ?? 0) * 2 >= documents ? 1 : 0)
      }
      const [docs] = raw.query({ sql: `SELECT count(DISTINCT doc) AS n FROM ltm_postings WHERE ${scope}`, args }) as { n: number }[]
      const scan = { sql: `SELECT count(*) AS n, sum(tf) AS tf FROM ltm_postings WHERE ${scope}`, args }
      const [postings] = raw.query(scan) as { n: number }[]
      const times = [0, 1, 2].map(() => {
        const start = now()
        raw.query(scan)
        return elapsedNs(start)
      })
      t.docs.push(Number(docs?.n ?? 0))
      t.postings.push(Number(postings?.n ?? 0))
      t.scan.push(median(times) / 1e3)
    } catch {
      t.docs.push(Number.NaN)
      t.postings.push(Number.NaN)
      t.scan.push(Number.NaN)
    }
  }
  const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
  const out = {} as Record<QueryClass, SearchAnatomy>
  for (const cls of QUERY_CLASSES) {
    const t = totals[cls]
    out[cls] = {
      avg_matching_docs: Math.round(avg(t.docs)),
      avg_postings: Math.round(avg(t.postings)),
      postings_scan_p50_us: round(median(t.scan)),
      share_words_idf_floored: round(avg(t.floored), 2),
    }
  }
  return out
}

const time = (fn: () => unknown): number => {
  const start = now()
  fn()
  return elapsedNs(start)
}

/**
 * The search statement as the SDK builds it (`LIMIT ?`) against the same text with the limit
 * written as a literal. SQLite 3.47+ lets the planner read a bound LIMIT; if that makes the
 * statement re-prepare on every bind, the literal version is faster by about one prepare.
 * null when the SDK's SQL does not end in a bound LIMIT.
 */
export function boundLimitExperiment(raw: RawStore, at: number): Record<QueryClass, LimitExperiment> | null {
  const perClass: Record<QueryClass, { bound: number[]; literal: number[] }> = { rare: { bound: [], literal: [] }, medium: { bound: [], literal: [] }, common: { bound: [], literal: [] } }
  const limit = 10
  for (const cls of QUERY_CLASSES) {
    for (const q of queryList().filter((x) => x.class === cls).slice(0, LIMIT_QUERIES_PER_CLASS)) {
      const bound = searchStatement({ namespace: NAMESPACE, query: parseQuery(q.text), filter: [], limit, now: at })
      if (!/LIMIT \?\s*$/.test(bound.sql) || bound.args[bound.args.length - 1] !== limit) return null
      const literal: SqlStatement = { sql: bound.sql.replace(/LIMIT \?\s*$/, `LIMIT ${limit}`), args: bound.args.slice(0, -1) }
      raw.query(bound)
      raw.query(literal)
      const b: number[] = []
      const l: number[] = []
      for (let i = 0; i < 3; i++) {
        b.push(time(() => raw.query(bound)))
        l.push(time(() => raw.query(literal)))
      }
      perClass[cls].bound.push(median(b))
      perClass[cls].literal.push(median(l))
    }
  }
  const out = {} as Record<QueryClass, LimitExperiment>
  for (const cls of QUERY_CLASSES) {
    out[cls] = { queries: perClass[cls].bound.length, bound_p50_us: round(median(perClass[cls].bound) / 1e3), literal_p50_us: round(median(perClass[cls].literal) / 1e3) }
  }
  return out
}

/** A single store split into its statements (BEGIN; ensureNamespace; readBeforeWrite; upsert + triggers; COMMIT). */
export function storeAnatomy(raw: RawStore, writes: PreparedWrite[], at: number): StoreAnatomy {
  const parts = { ensure_namespace: [] as number[], read_before_write: [] as number[], upsert_with_triggers: [] as number[], commit: [] as number[], total: [] as number[] }
  for (const write of writes) {
    const ns = ensureNamespace(write.namespace)
    const read = readBeforeWrite(write)
    const upsert = upsertMemory(write, at)
    const start = now()
    raw.db.exec('BEGIN')
    parts.ensure_namespace.push(time(() => raw.write([ns])))
    parts.read_before_write.push(time(() => raw.query(read)))
    parts.upsert_with_triggers.push(time(() => raw.write([upsert])))
    parts.commit.push(time(() => raw.db.exec('COMMIT')))
    parts.total.push(elapsedNs(start))
  }
  const p50 = (xs: number[]): number => round(percentile([...xs].sort((a, b) => a - b), 50) / 1e3)
  const mean = (xs: number[]): number => round(xs.reduce((a, b) => a + b, 0) / xs.length / 1e3)
  return {
    ops: writes.length,
    p50_us: { ensure_namespace: p50(parts.ensure_namespace), read_before_write: p50(parts.read_before_write), upsert_with_triggers: p50(parts.upsert_with_triggers), commit: p50(parts.commit), total: p50(parts.total) },
    mean_us: { ensure_namespace: mean(parts.ensure_namespace), read_before_write: mean(parts.read_before_write), upsert_with_triggers: mean(parts.upsert_with_triggers), commit: mean(parts.commit), total: mean(parts.total) },
  }
}

/**
 * SDK `store` against "raw + the SDK's own preparation", alternating on the same better-sqlite3
 * files: what is left after preparation and SQL is the SDK's plumbing (validation, result, promises).
 */
export async function storeDecomposition(ltm: LTM, raw: RawStore, items: Memory[], at: number): Promise<StoreDecomposition> {
  const sdk: number[] = []
  const prepare: number[] = []
  const write: number[] = []
  const both: number[] = []
  for (let i = 0; i < items.length; i++) {
    const m = items[i]!
    if (i % 2 === 0) {
      const start = now()
      const result = await ltm.store(m.key, m.value, m.metadata)
      sdk.push(elapsedNs(start))
      check(result, 'store')
    } else {
      const start = now()
      const prepared = await prepareWrite(m)
      const prepared_at = now()
      raw.write(writeStatements([prepared], at))
      write.push(elapsedNs(prepared_at))
      prepare.push(Number(prepared_at - start))
      both.push(elapsedNs(start))
    }
  }
  const p50 = (xs: number[]): number => round(percentile([...xs].sort((a, b) => a - b), 50) / 1e3)
  return { ops: items.length, sdk_store_p50_us: p50(sdk), prepare_p50_us: p50(prepare), raw_write_p50_us: p50(write), prepare_plus_write_p50_us: p50(both) }
}

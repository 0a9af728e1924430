import type { PageRequest, PreparedWrite } from '../core/backend.js'
import type { SqlStatement, SqlValue } from '../engines/types.js'

/** SQL for the plain operations; search lives in search.ts. Every value is a bound parameter. */

const NAMESPACE_ID = `(SELECT id FROM ltm_namespaces WHERE name = ?)`
const LIVE = `(m.expires_at IS NULL OR m.expires_at > ?)`
export const MEMORY_COLUMNS = `m.key AS key, m.value AS value, m.metadata AS metadata, m.content_hash AS content_hash,
  m.created_at AS created_at, m.updated_at AS updated_at, m.expires_at AS expires_at`

/**
 * LIMIT is written into the SQL text, not bound: SQLite builds with STAT4 (better-sqlite3) re-plan a
 * statement whose bound values changed, which cost 0.3 ms per search. The limit is a checked integer.
 */
export function sqlLimit(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`LIMIT must be a whole number >= 0, got ${limit}`)
  return String(limit)
}

export function ensureNamespace(namespace: string): SqlStatement {
  return { sql: `INSERT INTO ltm_namespaces (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, args: [namespace] }
}

/** The row as it was before a write, to report created / updated / unchanged. */
export function readBeforeWrite(write: PreparedWrite): SqlStatement {
  return {
    sql: `SELECT content_hash, metadata, expires_at FROM ltm_memories WHERE ns = ${NAMESPACE_ID} AND key = ?`,
    args: [write.namespace, write.key],
  }
}

/**
 * Insert or update. The WHERE clause skips the write for an identical live memory (same value hash,
 * same metadata, and no expiry asked for or the same one); an expired row is replaced as if new. Postings and statistics follow
 * through the schema's triggers.
 */
export function upsertMemory(write: PreparedWrite, now: number): SqlStatement {
  return {
    sql: `INSERT INTO ltm_memories (ns, key, value, metadata, content_hash, terms, doc_len, created_at, updated_at, expires_at)
      VALUES (${NAMESPACE_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (ns, key) DO UPDATE SET
        value = excluded.value, metadata = excluded.metadata, content_hash = excluded.content_hash,
        terms = excluded.terms, doc_len = excluded.doc_len, updated_at = excluded.updated_at, expires_at = excluded.expires_at,
        created_at = CASE WHEN ltm_memories.expires_at IS NOT NULL AND ltm_memories.expires_at <= ? THEN excluded.created_at ELSE ltm_memories.created_at END
      WHERE ltm_memories.content_hash <> excluded.content_hash OR ltm_memories.metadata <> excluded.metadata
        OR (ltm_memories.expires_at IS NOT NULL AND ltm_memories.expires_at <= ?)
        OR (? AND ltm_memories.expires_at IS NOT excluded.expires_at)`,
    args: [
      write.namespace, write.key, write.valueJson, write.metadataJson, write.contentHash, write.termsJson, write.length,
      now, now, write.expiresAt, now, now, write.explicitExpiry ? 1 : 0,
    ],
  }
}

export function selectMemories(namespace: string, keys: string[], now: number): SqlStatement {
  if (keys.length === 1) {
    return { sql: `SELECT ${MEMORY_COLUMNS} FROM ltm_memories m WHERE m.ns = ${NAMESPACE_ID} AND m.key = ? AND ${LIVE}`, args: [namespace, keys[0]!, now] }
  }
  return {
    sql: `SELECT ${MEMORY_COLUMNS} FROM ltm_memories m WHERE m.ns = ${NAMESPACE_ID} AND m.key IN (SELECT value FROM json_each(?)) AND ${LIVE}`,
    args: [namespace, JSON.stringify(keys), now],
  }
}

export function deleteMemory(namespace: string, key: string): SqlStatement {
  return { sql: `DELETE FROM ltm_memories WHERE ns = ${NAMESPACE_ID} AND key = ? RETURNING expires_at`, args: [namespace, key] }
}

/** What a batched transaction saw of a memory: its row, or nothing (nothing live, when `now` is given). */
export interface GuardedRead {
  namespace: string
  key: string
  row: { content_hash: unknown; metadata: unknown; expires_at: unknown } | undefined
  /** Set when only a live row counts as present (a delete of a memory that had expired). */
  now?: number
}

/**
 * A commit-time check for a batched transaction (engines without interactive ones): violates the
 * ltm_tx_guard constraint, aborting the whole commit batch, unless the memory is still as it was read.
 */
export function guardUnchanged({ namespace, key, row, now }: GuardedRead): SqlStatement {
  if (row) {
    return {
      sql: `INSERT INTO ltm_tx_guard (conflict) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM ltm_memories WHERE ns = ${NAMESPACE_ID} AND key = ? AND content_hash = ? AND metadata = ? AND expires_at IS ?)`,
      args: [namespace, key, row.content_hash as SqlValue, row.metadata as SqlValue, (row.expires_at ?? null) as SqlValue],
    }
  }
  return {
    sql: `INSERT INTO ltm_tx_guard (conflict) SELECT 1 WHERE EXISTS (SELECT 1 FROM ltm_memories WHERE ns = ${NAMESPACE_ID} AND key = ? AND (? IS NULL OR expires_at IS NULL OR expires_at > ?))`,
    args: [namespace, key, now ?? null, now ?? null],
  }
}

const EXPIRED_IN_NAMESPACE = `expires_at IS NOT NULL AND expires_at <= ? AND ns = ${NAMESPACE_ID}`

export function deleteExpired(namespace: string, now: number): SqlStatement {
  return { sql: `DELETE FROM ltm_memories WHERE ${EXPIRED_IN_NAMESPACE}`, args: [now, namespace] }
}

export function countExpired(namespace: string, now: number): SqlStatement {
  return { sql: `SELECT count(*) AS n FROM ltm_memories WHERE ${EXPIRED_IN_NAMESPACE}`, args: [now, namespace] }
}

/** Keyset pagination over (namespace, key); descendants are the namespaces below `namespace/`. */
export function pageMemories(request: PageRequest): SqlStatement {
  const { namespace, includeDescendants, after, pageSize, now } = request
  const args: (string | number)[] = []
  let scope: string
  if (!includeDescendants) {
    scope = `n.name = ?`
    args.push(namespace)
  } else if (namespace === '') {
    scope = '1'
  } else {
    scope = `(n.name = ? OR (n.name > ? AND n.name < ?))`
    // Every name that starts with `namespace/` sorts between `namespace/` and `namespace0` ('0' follows '/').
    args.push(namespace, `${namespace}/`, `${namespace}0`)
  }
  let cursor = '1'
  if (after) {
    cursor = `(n.name > ? OR (n.name = ? AND m.key > ?))`
    args.push(after.namespace, after.namespace, after.key)
  }
  args.push(now)
  return {
    sql: `SELECT n.name AS namespace, ${MEMORY_COLUMNS} FROM ltm_memories m JOIN ltm_namespaces n ON n.id = m.ns
      WHERE ${scope} AND ${cursor} AND ${LIVE} ORDER BY n.name, m.key LIMIT ${sqlLimit(pageSize)}`,
    args,
  }
}

export { LIVE, NAMESPACE_ID }

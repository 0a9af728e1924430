/**
 * The one SQLite schema, shared by every SQLite-family engine. Full-text search is a postings
 * table written by triggers, and BM25 statistics are kept per namespace by the same triggers, so the
 * index always changes in the same transaction as the memory and any engine (sql.js, D1, Turso,
 * a user's own SQL) keeps it consistent. Postings carry the document length (it only changes when the
 * postings are rewritten) so ranking reads nothing but the postings until the top results are known. Plain SQL, no FTS module: D1 refuses FTS3/4, sql.js lacks
 * FTS5, libsql lacks user functions; this runs on all of them and ranks identically.
 */
import { TRANSACTION_CONFLICT_CONSTRAINT } from '../engines/sqlite-errors.js'

export const SCHEMA_VERSION = 2

export const SCHEMA_V1: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS ltm_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ltm_namespaces (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc_count INTEGER NOT NULL DEFAULT 0,
    token_count INTEGER NOT NULL DEFAULT 0
  )`,
  `CREATE TABLE IF NOT EXISTS ltm_memories (
    id INTEGER PRIMARY KEY,
    ns INTEGER NOT NULL REFERENCES ltm_namespaces (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    metadata TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    terms TEXT NOT NULL,
    doc_len INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER,
    UNIQUE (ns, key)
  )`,
  `CREATE INDEX IF NOT EXISTS ltm_memories_recent ON ltm_memories (ns, updated_at)`,
  `CREATE INDEX IF NOT EXISTS ltm_memories_expiry ON ltm_memories (expires_at) WHERE expires_at IS NOT NULL`,
  `CREATE TABLE IF NOT EXISTS ltm_postings (
    ns INTEGER NOT NULL,
    term TEXT NOT NULL,
    doc INTEGER NOT NULL,
    tf INTEGER NOT NULL,
    doc_len INTEGER NOT NULL,
    PRIMARY KEY (ns, term, doc)
  ) WITHOUT ROWID`,
  `CREATE TRIGGER IF NOT EXISTS ltm_memories_insert AFTER INSERT ON ltm_memories BEGIN
    UPDATE ltm_namespaces SET doc_count = doc_count + 1, token_count = token_count + NEW.doc_len WHERE id = NEW.ns;
    INSERT INTO ltm_postings (ns, term, doc, tf, doc_len) SELECT NEW.ns, key, NEW.id, value, NEW.doc_len FROM json_each(NEW.terms);
  END`,
  `CREATE TRIGGER IF NOT EXISTS ltm_memories_delete AFTER DELETE ON ltm_memories BEGIN
    UPDATE ltm_namespaces SET doc_count = doc_count - 1, token_count = token_count - OLD.doc_len WHERE id = OLD.ns;
    DELETE FROM ltm_postings WHERE ns = OLD.ns AND doc = OLD.id AND term IN (SELECT key FROM json_each(OLD.terms));
  END`,
  `CREATE TRIGGER IF NOT EXISTS ltm_memories_reindex AFTER UPDATE OF terms ON ltm_memories WHEN OLD.terms IS NOT NEW.terms BEGIN
    UPDATE ltm_namespaces SET token_count = token_count - OLD.doc_len + NEW.doc_len WHERE id = NEW.ns;
    DELETE FROM ltm_postings WHERE ns = OLD.ns AND doc = OLD.id AND term IN (SELECT key FROM json_each(OLD.terms));
    INSERT INTO ltm_postings (ns, term, doc, tf, doc_len) SELECT NEW.ns, key, NEW.id, value, NEW.doc_len FROM json_each(NEW.terms);
  END`,
  `INSERT INTO ltm_schema (id, version) VALUES (1, 1) ON CONFLICT (id) DO NOTHING`,
]

/** Migrations from version N to N+1, appended as the schema evolves; index 0 upgrades 1 -> 2. */
export const MIGRATIONS: readonly (readonly string[])[] = [
  // 1 -> 2: a table that never holds a row; a batched transaction's guards insert into it only when
  // a memory changed under them, and the constraint aborts the whole commit batch.
  [`CREATE TABLE IF NOT EXISTS ltm_tx_guard (conflict INTEGER NOT NULL, CONSTRAINT ${TRANSACTION_CONFLICT_CONSTRAINT} CHECK (conflict = 0))`],
]

export const READ_SCHEMA_VERSION = `SELECT version FROM ltm_schema WHERE id = 1`
export const SCHEMA_EXISTS = `SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'ltm_schema'`

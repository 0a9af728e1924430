import { LtmFailure } from '../core/errors.js'
import { PostgresFailure, type PostgresExecutor } from './executor.js'

/**
 * The PostgreSQL schema, versioned in `ltm_schema` and created or upgraded on first use, in one
 * transaction under an advisory lock so two processes opening a new database at once do not race.
 *
 * - `ltm_memories`: one row per memory, keyed by (namespace, key) in the "C" collation, so keys
 *   and namespaces compare and sort byte-wise exactly as SQLite's BINARY collation does (iteration
 *   order and namespace ranges are the same on every backend). The value is the JSON text as given
 *   (key order kept); metadata is `jsonb` for filters (GIN `jsonb_path_ops` index for equality).
 * - Search: `terms` is the SDK tokeniser's {term: frequency} (BM25 reads its frequencies), and
 *   `tsv` a generated `tsvector` over `tokens`, the same terms space-joined, through the 'simple'
 *   configuration, with a GIN index. `tokens` is NULL for a memory whose tsvector would pass
 *   PostgreSQL's 1 MB limit; search always considers those few rows.
 * - `ltm_namespaces` keeps each namespace's document count and total length for BM25, updated by
 *   statement-level triggers in the same transaction as the rows, whoever writes them.
 * - `ltm_write(entries, now)` applies a batch in order (a later entry for the same key sees the
 *   earlier one) and reports created / updated / unchanged per entry: one round trip per batch.
 * - `ltm_term_query(term, prefix)` turns one SDK term into a tsquery through websearch_to_tsquery
 *   (safe for any text); IMMUTABLE and inlinable, so the planner folds it into a constant and can
 *   use the GIN index.
 */
export const SCHEMA_VERSION = 2

const V1 = `
CREATE TABLE ltm_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);

CREATE TABLE ltm_namespaces (
  name text COLLATE "C" PRIMARY KEY,
  doc_count bigint NOT NULL DEFAULT 0,
  token_count bigint NOT NULL DEFAULT 0
);

CREATE TABLE ltm_memories (
  id bigint GENERATED ALWAYS AS IDENTITY,
  ns text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  value text NOT NULL,
  metadata jsonb NOT NULL,
  content_hash text NOT NULL,
  terms jsonb NOT NULL,
  doc_len integer NOT NULL,
  tokens text,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('pg_catalog.simple'::regconfig, tokens)) STORED,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  expires_at bigint,
  PRIMARY KEY (ns, key)
);
CREATE INDEX ltm_memories_recent ON ltm_memories (ns, updated_at, id);
CREATE INDEX ltm_memories_expiry ON ltm_memories (ns, expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX ltm_memories_tsv ON ltm_memories USING gin (tsv);
CREATE INDEX ltm_memories_unindexed ON ltm_memories (ns) WHERE tsv IS NULL;
CREATE INDEX ltm_memories_metadata ON ltm_memories USING gin (metadata jsonb_path_ops);

CREATE OR REPLACE FUNCTION ltm_count_memories() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ltm_namespaces AS n (name, doc_count, token_count)
      SELECT ns, count(*), sum(doc_len) FROM ltm_new GROUP BY ns
      ON CONFLICT (name) DO UPDATE SET doc_count = n.doc_count + excluded.doc_count, token_count = n.token_count + excluded.token_count;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE ltm_namespaces n SET doc_count = n.doc_count - d.c, token_count = n.token_count - d.l
      FROM (SELECT ns, count(*) AS c, sum(doc_len) AS l FROM ltm_old GROUP BY ns) d WHERE n.name = d.ns;
  ELSE
    INSERT INTO ltm_namespaces AS n (name, doc_count, token_count)
      SELECT ns, sum(c), sum(l) FROM (
        SELECT ns, 1 AS c, doc_len AS l FROM ltm_new UNION ALL SELECT ns, -1, -doc_len FROM ltm_old
      ) changed GROUP BY ns
      ON CONFLICT (name) DO UPDATE SET doc_count = n.doc_count + excluded.doc_count, token_count = n.token_count + excluded.token_count;
  END IF;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER ltm_memories_count_insert AFTER INSERT ON ltm_memories
  REFERENCING NEW TABLE AS ltm_new FOR EACH STATEMENT EXECUTE FUNCTION ltm_count_memories();
CREATE TRIGGER ltm_memories_count_delete AFTER DELETE ON ltm_memories
  REFERENCING OLD TABLE AS ltm_old FOR EACH STATEMENT EXECUTE FUNCTION ltm_count_memories();
CREATE TRIGGER ltm_memories_count_update AFTER UPDATE ON ltm_memories
  REFERENCING OLD TABLE AS ltm_old NEW TABLE AS ltm_new FOR EACH STATEMENT EXECUTE FUNCTION ltm_count_memories();

-- One entry of ltm_write's input (a JSON array of these).
CREATE TYPE ltm_entry AS (
  ns text COLLATE "C", key text COLLATE "C", value text, metadata jsonb, content_hash text, terms jsonb,
  doc_len integer, tokens text, expires_at bigint, explicit boolean
);

-- websearch_to_tsquery never fails on any text. Words split further by PostgreSQL's parser (can't ->
-- can, t) become an AND of the parts rather than a phrase, so a match never depends on positions
-- (which the tsvector caps); NULL when the parser finds no lexeme in the term.
CREATE OR REPLACE FUNCTION ltm_term_query(term text, prefix boolean) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
  SELECT CASE
    WHEN pg_catalog.numnode(pg_catalog.websearch_to_tsquery('pg_catalog.simple'::regconfig, term)) = 0 THEN NULL
    WHEN prefix THEN (pg_catalog.replace(pg_catalog.websearch_to_tsquery('pg_catalog.simple'::regconfig, term)::text, '<->', '&') || ':*')::tsquery
    ELSE pg_catalog.replace(pg_catalog.websearch_to_tsquery('pg_catalog.simple'::regconfig, term)::text, '<->', '&')::tsquery
  END
$fn$;

INSERT INTO ltm_schema (id, version) VALUES (1, 1);
`

/**
 * ltm_write, defined once: version 2 created or replaced it (version 1's reported a row another
 * connection inserted meanwhile as 'created'). A new database gets V1 and then every migration.
 */
const WRITE_FUNCTION = `
-- Applies a batch and reports each entry's outcome, in entry order. The usual batch (each key once)
-- is one set-based INSERT, so the statistics triggers run once per batch. A batch naming a key twice
-- goes entry by entry instead, so a later entry sees the earlier one.
CREATE OR REPLACE FUNCTION ltm_write(entries json, now_ms bigint)
RETURNS TABLE (ord integer, out_status text, out_expires_at bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
  e record;
  prev record;
  inserted boolean;
BEGIN
  IF NOT EXISTS (SELECT FROM json_populate_recordset(NULL::ltm_entry, entries) GROUP BY ns, key HAVING count(*) > 1) THEN
    RETURN QUERY
    WITH input AS MATERIALIZED (
      SELECT x.*, x.ordinality::integer AS i FROM json_populate_recordset(NULL::ltm_entry, entries) WITH ORDINALITY AS x
    ),
    -- Locked, so what we decide is what the INSERT below finds, except for a row another connection
    -- inserts meanwhile: the INSERT then updates it, and RETURNING says so (xmax = 0 only on an insert).
    existing AS (
      SELECT m.ns, m.key, m.content_hash, m.metadata, m.expires_at FROM input JOIN ltm_memories m ON m.ns = input.ns AND m.key = input.key
      FOR UPDATE OF m
    ),
    decided AS MATERIALIZED (
      SELECT input.*, old.expires_at AS old_expires_at, CASE
          WHEN old.key IS NULL OR (old.expires_at IS NOT NULL AND old.expires_at <= now_ms) THEN 'created'
          WHEN old.content_hash = input.content_hash AND old.metadata = input.metadata
            AND (NOT input.explicit OR old.expires_at IS NOT DISTINCT FROM input.expires_at) THEN 'unchanged'
          ELSE 'updated' END AS status
      FROM input LEFT JOIN existing old ON old.ns = input.ns AND old.key = input.key
    ),
    written AS (
      INSERT INTO ltm_memories AS m (ns, key, value, metadata, content_hash, terms, doc_len, tokens, created_at, updated_at, expires_at)
        SELECT d.ns, d.key, d.value, d.metadata, d.content_hash, d.terms, d.doc_len, d.tokens, now_ms, now_ms, d.expires_at
        FROM decided d WHERE d.status <> 'unchanged' ORDER BY d.i
      ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, metadata = excluded.metadata, content_hash = excluded.content_hash,
        terms = excluded.terms, doc_len = excluded.doc_len, tokens = excluded.tokens, updated_at = excluded.updated_at,
        expires_at = excluded.expires_at,
        created_at = CASE WHEN m.expires_at IS NOT NULL AND m.expires_at <= now_ms THEN excluded.created_at ELSE m.created_at END
      RETURNING m.ns, m.key, (m.xmax = 0) AS inserted
    )
    SELECT d.i, CASE WHEN d.status = 'created' AND NOT w.inserted THEN 'updated' ELSE d.status END,
        CASE WHEN d.status = 'unchanged' THEN d.old_expires_at ELSE d.expires_at END
      FROM decided d LEFT JOIN written w ON w.ns = d.ns AND w.key = d.key ORDER BY d.i;
    RETURN;
  END IF;

  FOR e IN SELECT x.*, x.ordinality::integer AS i FROM json_populate_recordset(NULL::ltm_entry, entries) WITH ORDINALITY AS x ORDER BY x.ordinality
  LOOP
    ord := e.i;
    SELECT m.content_hash, m.metadata, m.expires_at INTO prev FROM ltm_memories m WHERE m.ns = e.ns AND m.key = e.key FOR UPDATE;
    IF FOUND AND (prev.expires_at IS NULL OR prev.expires_at > now_ms) THEN
      IF prev.content_hash = e.content_hash AND prev.metadata = e.metadata AND (NOT e.explicit OR prev.expires_at IS NOT DISTINCT FROM e.expires_at) THEN
        out_status := 'unchanged';
        out_expires_at := prev.expires_at;
      ELSE
        UPDATE ltm_memories m SET value = e.value, metadata = e.metadata, content_hash = e.content_hash, terms = e.terms,
            doc_len = e.doc_len, tokens = e.tokens, updated_at = now_ms, expires_at = e.expires_at
          WHERE m.ns = e.ns AND m.key = e.key;
        out_status := 'updated';
        out_expires_at := e.expires_at;
      END IF;
    ELSE
      INSERT INTO ltm_memories AS m (ns, key, value, metadata, content_hash, terms, doc_len, tokens, created_at, updated_at, expires_at)
        VALUES (e.ns, e.key, e.value, e.metadata, e.content_hash, e.terms, e.doc_len, e.tokens, now_ms, now_ms, e.expires_at)
        ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, metadata = excluded.metadata, content_hash = excluded.content_hash,
          terms = excluded.terms, doc_len = excluded.doc_len, tokens = excluded.tokens, created_at = excluded.created_at,
          updated_at = excluded.updated_at, expires_at = excluded.expires_at
        RETURNING (m.xmax = 0) INTO inserted;
      out_status := CASE WHEN inserted THEN 'created' ELSE 'updated' END;
      out_expires_at := e.expires_at;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$fn$;
`

/** Migrations from version N to N+1, appended as the schema evolves; index 0 upgrades 1 -> 2. */
export const MIGRATIONS: readonly string[] = [WRITE_FUNCTION]

const LOCK = { text: `SELECT pg_advisory_xact_lock(hashtext('agent-ltm schema'))`, values: [] }
const READ_VERSION = { text: `SELECT version FROM ltm_schema WHERE id = 1`, values: [] }
const TABLE_EXISTS = { text: `SELECT to_regclass('ltm_schema') IS NOT NULL AS present`, values: [] }

function newerSchema(version: number): LtmFailure {
  return new LtmFailure(
    'backend_error',
    `postgres: the database schema is version ${version}, newer than this agent-ltm understands (${SCHEMA_VERSION}); upgrade agent-ltm`,
  )
}

/**
 * Brings the schema up to date. Opening an up-to-date database costs one round trip (the version
 * read); creating or upgrading runs in one transaction holding an advisory lock, re-reading the
 * version under the lock. A database written by a newer version is refused.
 */
export async function migrateSchema(executor: PostgresExecutor): Promise<void> {
  let version = 0
  try {
    const [row] = await executor.run(READ_VERSION, 'read')
    version = Number(row?.version ?? 0)
  } catch (error) {
    if (!(error instanceof PostgresFailure && error.sqlState === '42P01')) throw error // 42P01: no ltm_schema table yet
  }
  if (version > SCHEMA_VERSION) throw newerSchema(version)
  if (version === SCHEMA_VERSION) return
  await executor.transaction(async (run) => {
    await run(LOCK, 'write')
    const [exists] = await run(TABLE_EXISTS, 'read')
    let current = 0
    if (exists?.present === true) current = Number((await run(READ_VERSION, 'read'))[0]?.version ?? 0)
    if (current > SCHEMA_VERSION) throw newerSchema(current)
    if (current === SCHEMA_VERSION) return
    // The simple protocol (no parameters) runs a script of several statements in one round trip.
    if (current === 0) await run({ text: V1, values: [] }, 'write')
    const steps = MIGRATIONS.slice(Math.max(current, 1) - 1)
    if (steps.length > 0) await run({ text: [...steps, `UPDATE ltm_schema SET version = ${SCHEMA_VERSION} WHERE id = 1`].join(';\n'), values: [] }, 'write')
  })
}

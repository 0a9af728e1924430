// A stand-in for Turso's sqld speaking Hrana over HTTP, for testing the Turso backend over real HTTP.
//
// No libSQL server can be installed on these machines (no sqld binary on npm or Debian), so this
// serves the protocol itself over a real native SQLite engine: the `libsql` npm package, one
// connection per stream, each connection in its own worker thread so that a statement waiting for
// another connection's write lock blocks only its stream, as in sqld (where every connection runs on a
// blocking thread). Nothing here was checked against a live sqld or Turso; shapes and behaviour follow
// the Hrana 2/3 specs (tursodatabase/libsql docs/HRANA_3_SPEC.md, libsql-server/docs/HRANA_2_SPEC.md)
// and sqld's own source (libsql-server/src/hrana/{http/mod.rs,http/stream.rs,http/request.rs,stmt.rs,
// batch.rs}, connection/program.rs, query.rs, query_analysis.rs, libsql-hrana/src/{proto,protobuf}.rs,
// auth/errors.rs, error.rs, http/user/mod.rs), read, not copied.
//
// What the real client uses: @libsql/client 0.18 opens its HTTP client with Hrana version 2, so it never
// sends the `GET /v3-protobuf` probe and talks JSON to `POST /v2/pipeline` only (cursors are never used).
// `@libsql/hrana-client` 0.10 opened with version 3 probes `GET /v3-protobuf` and, on 200, uses
// `POST /v3-protobuf/pipeline` and `/v3-protobuf/cursor` (what production Turso serves); both are here.
//
// Served (routes as in sqld's http/user/mod.rs):
// - GET /v2, /v3, /v3-protobuf: 200 text/plain "Hello, this is HTTP API v2 (Hrana over HTTP)" (sqld answers
//   the three probes with that same text). GET /health: 200, empty. No auth on these.
// - POST /v2/pipeline (Hrana 2, JSON), /v3/pipeline (Hrana 3, JSON), /v3-protobuf/pipeline (Hrana 3,
//   Protobuf, codec below following the spec's .proto and libsql-hrana's prost encoding: proto3 scalars
//   at their default value are omitted, `required` messages always sent, BatchResult as map entries).
// - POST /v3/cursor (lines of JSON, text/plain) and /v3-protobuf/cursor (length-delimited Protobuf,
//   application/octet-stream): the batch runs to completion before the body is written (sqld streams).
// - Stream requests: close, execute, batch (conditions ok/error/not/and/or/is_autocommit), sequence,
//   describe, store_sql, close_sql (per stream, at most 50 texts of at most 5 kB), get_autocommit.
//   `get_autocommit` and `is_autocommit` on /v2 are protocol errors, as in sqld.
// - Streams and batons as sqld: a baton is base64 (no padding) of stream id + sequence number + HMAC-
//   SHA256 under a per-server key; every response carries the next baton (null once closed); an unknown or
//   forged baton is 400 "Received an invalid baton", a reused one 400 "Received a baton that has already
//   been used", a closed stream 400 "Stream for this baton was closed". Idle streams expire after 10 s (their
//   connection is closed, so an open transaction rolls back) and then answer 500 `{message: "The stream
//   has expired due to inactivity", code: "STREAM_EXPIRED"}` for 300 s. `base_url` is always null.
// - Protocol errors (bad body, bad baton, unknown sql_id, bad step reference, ...): 400 text/plain with
//   sqld's message; the stream is dropped. Other failures: 500 `{"error": "Internal Error: `...`"}`.
// - Auth (when `authToken` is set; sqld with a JWT key): pipeline and cursor requests need `Authorization:
//   Bearer <token>`, else 401 application/json `{"error": "Unauthorized: `<AuthError>`"}` with sqld's
//   AuthError texts (header missing / invalid value / unsupported scheme / "The JWT is invalid"). The
//   client turns that into LibsqlError SERVER_ERROR "Server returned HTTP status 401". The token is compared
//   as an opaque string; no JWT is verified.
// - Statements go through what sqld's own parser decides first: no statement -> SQL_NO_STATEMENT, several
//   in `execute` -> SQL_MANY_STATEMENTS, syntax errors -> SQL_PARSE_ERROR, statements sqld refuses ->
//   SQL_PARSE_ERROR "unsupported statement" (its query_analysis: e.g. VACUUM, ANALYZE, REINDEX, CREATE TEMP
//   TABLE/VIEW/TRIGGER, unknown pragmas, `PRAGMA journal_mode=...` and other pragmas with arguments). A
//   syntax error anywhere in a batch or sequence fails the whole request before anything runs.
// - Arguments bound as sqld's query.rs does: positional by index (`?NNN` takes value NNN), named by name with
//   or without the `:`/`@`/`$` prefix, both at once refused (ARGS_BOTH_POSITIONAL_AND_NAMED), missing or extra
//   values refused (ARGS_INVALID "value for parameter :x not found", "too many parameters ...").
// - Values both ways: null, integer (JSON decimal string, i64), float, text, blob (JSON base64 without
//   padding; padded input accepted). Results: cols (name, decltype), rows, affected_row_count (changes()
//   only for INSERT/UPDATE/DELETE, else 0), last_insert_rowid (string, only for INSERT, else null),
//   replication_index null, rows_read/rows_written/query_duration_ms (sqld sends them in every version).
// - SQLite errors as sqld maps them: `{message: "SQLite error: <sqlite message>", code: <primary code name
//   as rusqlite names it>}`: SQLITE_CONSTRAINT (never the extended SQLITE_CONSTRAINT_PRIMARYKEY),
//   SQLITE_BUSY, ..., and SQLITE_ERROR is "SQLITE_UNKNOWN" ("no such table"). Prepare errors that SQLite
//   locates (no such column, no such function, ...) are SQL_INPUT_ERROR "SQL input error: <msg> (at offset N)".
//   In a batch the error goes to the step and later steps see it through their conditions.
// - Concurrency: WAL mode, one connection per stream (opened in a pooled worker thread, rolled back and closed
//   when the stream closes or expires), SQLite's busy timeout (5 s) per connection, so a writer waits for
//   another stream's transaction to end and then proceeds, or fails with SQLITE_BUSY "database is locked";
//   readers never wait and see the last committed state.
// Not faithful or not served: /v1 (Hrana over HTTP 1), the legacy `POST /` query API, WebSocket Hrana,
// /dump, namespaces, ATTACH (refused as unsupported here; sqld attaches other namespaces), sqld's lock
// stealing after a transaction's 5 s timeout, response size limits, replication indexes. rows_read and
// rows_written are always 0 (the npm driver does not expose the statement counters). SQL_PARSE_ERROR messages
// imitate sqld's parser ("syntax error around L1:1: `selec`") with positions taken from SQLite's message,
// and the offset of SQL_INPUT_ERROR is found by searching the name SQLite reports (sqld gets it from
// sqlite3_error_offset on its re-serialized statement). Known driver limits: text holding a NUL character is
// cut at the NUL when read back, and reading text that is not valid UTF-8 aborts the process (the npm
// driver panics); sqld returns both correctly. The driver never resets a statement that failed with
// SQLITE_BUSY, which leaves it active: the stream's connection is reopened once it is outside a transaction
// (losing per-connection settings such as `PRAGMA foreign_keys`), and inside one (BEGIN, SELECT, another
// stream commits, INSERT -> SQLITE_BUSY, as in sqld) COMMIT then fails with SQLITE_BUSY "cannot commit
// transaction - SQL statements in progress" where sqld commits; ROLLBACK works. JSON cursors send step_end's
// last_insert_rowid as a JSON number, as sqld's serde does (the JS client expects a string there; it never
// uses JSON cursors).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'

/** Options for {@link startHranaServer}. */
export interface HranaServerOptions {
  /** Database file. @default a fresh file in a new temporary directory, deleted on close */
  path?: string
  /** When set, every pipeline/cursor request must carry `Authorization: Bearer <authToken>`. @default none */
  authToken?: string
  /** Idle time after which a stream expires (sqld: 10 s). @default 10_000 */
  streamExpirationMs?: number
  /** How long a statement waits for another connection's lock before SQLITE_BUSY. @default 5_000 */
  busyTimeoutMs?: number
}

/** One HTTP request the server answered. */
export interface HranaLogEntry {
  method: string
  path: string
  status: number
  /** Stream request types of a pipeline (`execute`, `batch`, `close`, ...); `cursor` for a cursor request. */
  requests: string[]
}

/** A running server. */
export interface HranaServer {
  /** `http://127.0.0.1:<port>`: give it to `createClient({ url })`. */
  url: string
  log: HranaLogEntry[]
  close(): Promise<void>
}

/**
 * Starts a Hrana-over-HTTP server on 127.0.0.1 (random free port) over a real SQLite database.
 * @example
 * const server = await startHranaServer({ authToken: 'secret' })
 * const client = createClient({ url: server.url, authToken: 'secret' })
 */
export async function startHranaServer(options: HranaServerOptions = {}): Promise<HranaServer> {
  const tempDir = options.path === undefined ? mkdtempSync(join(tmpdir(), 'hrana-server-')) : undefined
  const path = options.path ?? join(tempDir!, 'db.sqlite')
  const pool = new WorkerPool(createRequire(import.meta.url).resolve('libsql'), options.busyTimeoutMs ?? 5_000)
  const cleanup = async (): Promise<void> => {
    await pool.terminate()
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true })
  }
  try {
    // sqld runs its databases in WAL mode: readers never wait for a writer
    const setup = await Connection.open(pool, path)
    const wal = await setup.exec('PRAGMA journal_mode = WAL', [], true)
    await setup.close()
    if (wal.error) throw new Error(`cannot open ${path}: ${wal.error.message}`)
  } catch (error) {
    await cleanup()
    throw error
  }

  const streams = new Streams(() => Connection.open(pool, path), options.streamExpirationMs ?? 10_000)
  const log: HranaLogEntry[] = []
  const http = createServer((req, res) => {
    serve(req, res, { streams, log, authToken: options.authToken }).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(String(error))
    })
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(0, '127.0.0.1', resolve)
  })
  const { port } = http.address() as AddressInfo

  let closing: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => http.close(() => resolve()))
        http.closeAllConnections()
        await stopped
        await streams.closeAll()
        await cleanup()
      })()),
  }
}

// ---------------------------------------------------------------------------------------------------
// Protocol model (Hrana 3 spec, "Shared structures" and "Hrana over HTTP")

/** null, integer (bigint), float (number), text, blob. */
type SqlValue = null | bigint | number | string | Uint8Array
type Version = 2 | 3
type Encoding = 'json' | 'protobuf'

interface HranaError {
  message: string
  code: string
}

interface Stmt {
  sql?: string
  sqlId?: number
  /** `undefined` is a Protobuf Value with no field set (sqld: "Value type not recognized"). */
  args: Array<SqlValue | undefined>
  namedArgs: Array<{ name: string; value: SqlValue | undefined }>
  wantRows?: boolean
}

type BatchCond =
  | { type: 'ok' | 'error'; step: number }
  | { type: 'not'; cond: BatchCond }
  | { type: 'and' | 'or'; conds: BatchCond[] }
  | { type: 'is_autocommit' }
  | { type: 'none' }

interface BatchStep {
  condition?: BatchCond
  stmt: Stmt
}

type StreamRequest =
  | { type: 'close' | 'get_autocommit' | 'none' }
  | { type: 'execute'; stmt: Stmt }
  | { type: 'batch'; steps: BatchStep[] }
  | { type: 'sequence' | 'describe'; sql?: string; sqlId?: number }
  | { type: 'store_sql'; sqlId: number; sql: string }
  | { type: 'close_sql'; sqlId: number }

interface Col {
  name: string | null
  decltype: string | null
}

interface StmtResult {
  cols: Col[]
  rows: SqlValue[][]
  affectedRowCount: number
  lastInsertRowid: bigint | null
  queryDurationMs: number
}

interface BatchResult {
  stepResults: Array<StmtResult | null>
  stepErrors: Array<HranaError | null>
}

interface DescribeResult {
  params: Array<{ name: string | null }>
  cols: Array<{ name: string; decltype: string | null }>
  isExplain: boolean
  isReadonly: boolean
}

type StreamResponse =
  | { type: 'close' | 'sequence' | 'store_sql' | 'close_sql' }
  | { type: 'execute'; result: StmtResult }
  | { type: 'batch'; result: BatchResult }
  | { type: 'describe'; result: DescribeResult }
  | { type: 'get_autocommit'; isAutocommit: boolean }

type StreamResult = { type: 'ok'; response: StreamResponse } | { type: 'error'; error: HranaError }

interface PipelineReq {
  baton?: string
  requests: StreamRequest[]
}

interface PipelineResp {
  baton: string | null
  results: StreamResult[]
}

type CursorEntry =
  | { type: 'step_begin'; step: number; cols: Col[] }
  | { type: 'row'; row: SqlValue[] }
  | { type: 'step_end'; affectedRowCount: number; lastInsertRowid: bigint | null }
  | { type: 'step_error'; step: number; error: HranaError }

/** sqld's ProtocolError: 400 text/plain and the stream is dropped. A correct client never causes one. */
class ProtocolError extends Error {}

/** sqld's StreamError::StreamExpired: 500 with an Error body in the request's encoding. */
class StreamExpiredError extends Error {
  constructor() {
    super('The stream has expired due to inactivity')
  }
}

/** An error that goes into the stream result (sqld's StmtError / StreamResponseError). */
class ResponseError extends Error {
  constructor(readonly error: HranaError) {
    super(error.message)
  }
}

/** Anything else: 500 `{"error": "Internal Error: `...`"}` as sqld's Error::Anyhow. */
class InternalError extends Error {}

const parseError = (detail: string): HranaError => ({
  message: `SQL string could not be parsed: ${detail}`,
  code: 'SQL_PARSE_ERROR',
})

// ---------------------------------------------------------------------------------------------------
// SQL text: what sqld's own parser decides before SQLite sees a statement

interface Tok {
  kind: 'word' | 'quoted' | 'string' | 'number' | 'param' | 'punct' | 'bad'
  text: string
  start: number
  end: number
}

const isIdStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 0x80
const isDigit = (c: number): boolean => c >= 48 && c <= 57
const isIdChar = (c: number): boolean => isIdStart(c) || isDigit(c) || c === 36

/** Index just past the closing `close` of a quoted token starting at `i`, or -1 when unterminated. */
function skipQuoted(sql: string, i: number, close: string, doubling: boolean): number {
  let j = i + 1
  for (;;) {
    const k = sql.indexOf(close, j)
    if (k < 0) return -1
    if (doubling && sql[k + 1] === close) j = k + 2
    else return k + 1
  }
}

/** SQLite's tokenizer, as far as statement boundaries, keywords and parameters need it. */
function lex(sql: string): Tok[] {
  const toks: Tok[] = []
  const n = sql.length
  const push = (kind: Tok['kind'], start: number, end: number): void => {
    toks.push({ kind, text: sql.slice(start, end), start, end })
  }
  let i = 0
  while (i < n) {
    const c = sql.charCodeAt(i)
    const next = sql.charCodeAt(i + 1)
    const start = i
    if (c === 32 || c === 9 || c === 10 || c === 12 || c === 13) {
      i++
    } else if (c === 45 && next === 45) {
      const eol = sql.indexOf('\n', i)
      i = eol < 0 ? n : eol + 1
    } else if (c === 47 && next === 42) {
      const close = sql.indexOf('*/', i + 2)
      i = close < 0 ? n : close + 2
    } else if (c === 39 || ((c === 120 || c === 88) && next === 39)) {
      const end = skipQuoted(sql, c === 39 ? i : i + 1, "'", true)
      i = end < 0 ? n : end
      push(end < 0 ? 'bad' : 'string', start, i)
    } else if (c === 34 || c === 96 || c === 91) {
      const end = skipQuoted(sql, i, c === 91 ? ']' : sql[i]!, c !== 91)
      i = end < 0 ? n : end
      push(end < 0 ? 'bad' : 'quoted', start, i)
    } else if (isDigit(c) || (c === 46 && isDigit(next))) {
      i++
      while (i < n && (isIdChar(sql.charCodeAt(i)) || sql[i] === '.')) {
        const e = sql[i] === 'e' || sql[i] === 'E'
        i++
        if (e && (sql[i] === '+' || sql[i] === '-')) i++
      }
      push('number', start, i)
    } else if (c === 63) {
      i++
      while (i < n && isDigit(sql.charCodeAt(i))) i++
      push('param', start, i)
    } else if ((c === 58 || c === 64 || c === 36) && isIdChar(next)) {
      i++
      for (;;) {
        while (i < n && isIdChar(sql.charCodeAt(i))) i++
        if (c === 36 && sql.startsWith('::', i)) i += 2
        else break
      }
      if (c === 36 && sql[i] === '(') {
        const close = sql.indexOf(')', i)
        i = close < 0 ? n : close + 1
      }
      push('param', start, i)
    } else if (isIdStart(c)) {
      while (i < n && isIdChar(sql.charCodeAt(i))) i++
      push('word', start, i)
    } else {
      i++
      push('punct', start, i)
    }
  }
  return toks
}

type StmtKind = 'TxnBegin' | 'TxnEnd' | 'Read' | 'Write' | 'Savepoint' | 'Release' | 'Detach' | 'DDL'

/** One statement as sqld's parser sees it. */
interface ParsedStmt {
  /** The whole SQL string the statement came from (token positions refer to it). */
  source: string
  /** The statement's own text (no trailing `;`), what is prepared. */
  text: string
  toks: Tok[]
  /** sqld's StmtKind; null when sqld refuses the statement ("unsupported statement"). */
  kind: StmtKind | null
  /** The first token does not start any SQL statement: a syntax error for sqld's parser. */
  unknown: boolean
  isIud: boolean
  isInsert: boolean
  isExplain: boolean
  /** Token index where the statement after EXPLAIN [QUERY PLAN] starts. */
  bodyAt: number
}

const keyword = (tok: Tok | undefined): string | undefined => (tok?.kind === 'word' ? tok.text.toUpperCase() : undefined)

/** Splits SQL text into statements at `;`, keeping CREATE TRIGGER ... END bodies whole (as sqlite3_complete). */
function splitStatements(sql: string): ParsedStmt[] {
  const out: ParsedStmt[] = []
  let cur: Tok[] = []
  const flush = (): void => {
    if (cur.length > 0) out.push(analyse(sql, cur))
    cur = []
  }
  const isTrigger = (toks: Tok[]): boolean => {
    const at = ['TEMP', 'TEMPORARY'].includes(keyword(toks[1]) ?? '') ? 2 : 1
    return keyword(toks[0]) === 'CREATE' && keyword(toks[at]) === 'TRIGGER'
  }
  for (const tok of lex(sql)) {
    if (tok.kind === 'punct' && tok.text === ';') {
      if (isTrigger(cur) && keyword(cur[cur.length - 1]) !== 'END') cur.push(tok)
      else flush()
    } else {
      cur.push(tok)
    }
  }
  flush()
  return out
}

const unquote = (tok: Tok | undefined): string => {
  if (tok === undefined) return ''
  if (tok.kind === 'quoted' || tok.kind === 'string') return tok.text.slice(1, -1)
  return tok.text
}

const RESERVED_TABLES = new Set(['_litestream_seq', '_litestream_lock', 'libsql_wasm_func_table'])

/** The table name at `toks[i]` (after an optional `schema.`): `{ schema, name }` as written. */
function qualifiedName(toks: Tok[], i: number): { schema?: Tok; name: Tok | undefined } {
  if (toks[i + 1]?.text === '.') return { schema: toks[i], name: toks[i + 2] }
  return { name: toks[i] }
}

// sqld's query_analysis.rs pragma_kind: which pragmas it runs (Read/Write) and which it refuses (null).
const READ_PRAGMAS = new Set([
  'table_list', 'index_list', 'table_info', 'table_xinfo', 'index_info', 'index_xinfo', 'pragma_list',
  'compile_options', 'database_list', 'function_list', 'module_list', 'encoding',
])
const WRITE_PRAGMAS = new Set([
  'defer_foreign_keys', 'foreign_keys', 'foreign_key_list', 'foreign_key_check', 'collation_list', 'data_version',
  'freelist_count', 'integrity_check', 'legacy_file_format', 'page_count', 'quick_check', 'stats', 'user_version',
])
const NO_ARG_PRAGMAS = new Set([
  'analysis_limit', 'application_id', 'auto_vacuum', 'automatic_index', 'busy_timeout', 'cache_size', 'cache_spill',
  'cell_size_check', 'checkpoint_fullfsync', 'fullfsync', 'hard_heap_limit', 'journal_mode', 'journal_size_limit',
  'legacy_alter_table', 'locking_mode', 'max_page_count', 'mmap_size', 'page_size', 'query_only',
  'read_uncommitted', 'recursive_triggers', 'reverse_unordered_selects', 'secure_delete', 'soft_heap_limit',
  'synchronous', 'temp_store', 'threads', 'trusted_schema', 'wal_autocheckpoint',
])

function pragmaKind(toks: Tok[], i: number): StmtKind | null {
  const { name, schema } = qualifiedName(toks, i)
  const after = toks[i + (schema ? 3 : 1)]
  const hasBody = after?.text === '=' || after?.text === '('
  const pragma = unquote(name).toLowerCase()
  if (READ_PRAGMAS.has(pragma) || (pragma === 'schema_version' && !hasBody)) return 'Read'
  if (WRITE_PRAGMAS.has(pragma)) return 'Write'
  if (NO_ARG_PRAGMAS.has(pragma) && !hasBody) return 'Write'
  return null
}

/** sqld's StmtKind::kind and Statement::parse flags, from the leading keywords. */
function analyse(sql: string, toks: Tok[]): ParsedStmt {
  const first = toks[0]!
  const last = toks[toks.length - 1]!
  const st: ParsedStmt = {
    source: sql, text: sql.slice(first.start, last.end), toks, kind: null, unknown: false,
    isIud: false, isInsert: false, isExplain: false, bodyAt: 0,
  }
  let i = 0
  if (keyword(toks[0]) === 'EXPLAIN') {
    st.isExplain = true
    i = keyword(toks[1]) === 'QUERY' && keyword(toks[2]) === 'PLAN' ? 3 : 1
    st.bodyAt = i
    st.kind = keyword(toks[i]) === 'PRAGMA' ? pragmaKind(toks, i + 1) : 'Read'
    if (toks[i] === undefined) st.unknown = true
    return st
  }
  const writeTo = (at: number): StmtKind | null =>
    RESERVED_TABLES.has(unquote(qualifiedName(toks, at).name).toLowerCase()) ? null : 'Write'
  const skip = (at: number, ...words: string[]): number => {
    let j = at
    for (const word of words) if (keyword(toks[j]) === word) j++
    return j
  }
  let kw = keyword(toks[i])
  if (kw === 'WITH') {
    // the statement the CTEs belong to is the first of these at parenthesis depth 0
    let depth = 0
    for (let j = 1; j < toks.length; j++) {
      const t = toks[j]!
      if (t.text === '(') depth++
      else if (t.text === ')') depth--
      else if (depth === 0 && ['SELECT', 'VALUES', 'INSERT', 'REPLACE', 'UPDATE', 'DELETE'].includes(keyword(t) ?? '')) {
        i = j
        kw = keyword(t)
        break
      }
    }
    if (i === 0) kw = undefined
  }
  switch (kw) {
    case 'SELECT':
    case 'VALUES':
      st.kind = 'Read'
      break
    case 'INSERT':
    case 'REPLACE': {
      let j = skip(i + 1, 'OR')
      if (keyword(toks[i + 1]) === 'OR') j++
      st.kind = writeTo(skip(j, 'INTO'))
      st.isIud = true
      st.isInsert = true
      break
    }
    case 'UPDATE': {
      const j = keyword(toks[i + 1]) === 'OR' ? i + 3 : i + 1
      st.kind = writeTo(j)
      st.isIud = true
      break
    }
    case 'DELETE':
      st.kind = writeTo(skip(i + 1, 'FROM'))
      st.isIud = true
      break
    case 'BEGIN':
      st.kind = 'TxnBegin'
      break
    case 'COMMIT':
    case 'END':
      st.kind = 'TxnEnd'
      break
    case 'ROLLBACK':
      st.kind = toks.some((t) => keyword(t) === 'TO') ? 'Release' : 'TxnEnd'
      break
    case 'SAVEPOINT':
      st.kind = 'Savepoint'
      break
    case 'RELEASE':
      st.kind = 'Release'
      break
    case 'DETACH':
      st.kind = 'Detach'
      break
    case 'PRAGMA':
      st.kind = pragmaKind(toks, i + 1)
      break
    case 'ALTER':
    case 'DROP': {
      const what = keyword(toks[i + 1])
      if (kw === 'ALTER' && what !== 'TABLE') break
      if (what === 'TABLE') st.kind = writeTo(skip(i + 2, 'IF', 'EXISTS')) === null ? null : 'DDL'
      else if (['INDEX', 'TRIGGER', 'VIEW'].includes(what ?? '')) st.kind = 'DDL'
      break
    }
    case 'CREATE': {
      let j = i + 1
      const temp = ['TEMP', 'TEMPORARY'].includes(keyword(toks[j]) ?? '')
      if (temp) j++
      if (keyword(toks[j]) === 'UNIQUE') j++
      const what = keyword(toks[j])
      if (what === 'TABLE' || what === 'VIRTUAL') {
        const at = skip(what === 'VIRTUAL' ? j + 2 : j + 1, 'IF', 'NOT', 'EXISTS')
        // sqld compares the schema name as written with "TEMP"
        st.kind = temp || qualifiedName(toks, at).schema?.text === 'TEMP' ? null : 'DDL'
      } else if (what === 'INDEX') {
        st.kind = 'DDL'
      } else if (what === 'TRIGGER' || what === 'VIEW') {
        st.kind = temp ? null : 'DDL'
      }
      break
    }
    case 'ANALYZE':
    case 'ATTACH':
    case 'REINDEX':
    case 'VACUUM':
      break
    default:
      st.unknown = true
  }
  return st
}

/** SQLite's parameter numbering: names per index (index 1 first), null for nameless `?`. */
function paramNames(toks: Tok[]): Array<string | null> {
  const names: Array<string | null> = []
  const byName = new Map<string, number>()
  for (const tok of toks) {
    if (tok.kind !== 'param') continue
    if (tok.text === '?') {
      names.push(null)
    } else if (/^\?\d+$/.test(tok.text)) {
      const index = Number(tok.text.slice(1))
      while (names.length < index) names.push(null)
      if (names[index - 1] === null) names[index - 1] = tok.text
      byName.set(tok.text, index)
    } else if (!byName.has(tok.text)) {
      names.push(tok.text)
      byName.set(tok.text, names.length)
    }
  }
  return names
}

function lineCol(sql: string, offset: number): string {
  const before = sql.slice(0, offset)
  const line = before.split('\n').length
  return `L${line}:${offset - (before.lastIndexOf('\n') + 1) + 1}`
}

const SYNTAX = /^(near "([\s\S]*)": syntax error|incomplete input|unrecognized token: [\s\S]*)$/

/** sqld's parser error for a statement SQLite could not parse (positions in the whole SQL string). */
function parseErrorFromSqlite(message: string, st: ParsedStmt): HranaError {
  const near = /^near "([\s\S]*)": syntax error$/.exec(message)
  const tok = near && st.toks.find((t) => t.text === near[1])
  if (near && tok) return parseError(`syntax error around ${lineCol(st.source, tok.start)}: \`${near[1]}\``)
  return parseError(message === 'incomplete input' ? 'unexpected end of input' : message)
}

/** Where SQLite would point for a prepare error (sqlite3_error_offset), found by searching the name. */
function errorOffset(message: string, sql: string): number | undefined {
  const toks = lex(sql)
  const near = /^near "([\s\S]*)": syntax error$/.exec(message)
  if (near) return toks.find((t) => t.text === near[1])?.start
  const column = /^(?:no such column|ambiguous column name): (.+)$/.exec(message)
  if (column) {
    const parts = column[1]!.split('.')
    for (let i = 0; i < toks.length; i++) {
      const matches = parts.every((part, k) => {
        const t = toks[i + 2 * k]
        const dot = k === 0 || toks[i + 2 * k - 1]?.text === '.'
        return dot && t !== undefined && (t.kind === 'word' || t.kind === 'quoted') && unquote(t).toLowerCase() === part.toLowerCase()
      })
      if (matches) return toks[i]!.start
    }
    return undefined
  }
  const fn = /^(?:no such function: |wrong number of arguments to function |misuse of (?:aggregate|window) function )([^\s()]+)/.exec(message)
  if (fn) {
    const at = toks.findIndex((t, i) => t.kind === 'word' && t.text.toLowerCase() === fn[1]!.toLowerCase() && toks[i + 1]?.text === '(')
    return at < 0 ? undefined : toks[at]!.start
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------
// The engine: libsql connections, each in a worker thread

interface WorkerError {
  message: string
  code?: string
  rawCode?: number
}

interface ExecReply {
  cols?: Col[]
  rows?: SqlValue[][]
  changes?: bigint
  lastInsertRowid?: bigint
  durationMs?: number
  autocommit: boolean
  error?: WorkerError
  phase?: 'prepare' | 'execute'
}

interface CheckReply {
  error: WorkerError | null
  cols: Col[]
}

interface DescribeReply {
  error?: WorkerError
  cols?: Col[]
  program?: Array<[string, number]>
}

// Runs in each worker (CommonJS, no TypeScript). SQLITE_BUSY leaves a libsql statement active (SQLite can
// resume it) and the npm driver never resets a failed statement, which would keep later autocommit writes
// of the connection uncommitted: such a connection is reopened as soon as it is outside a transaction.
const WORKER_SOURCE = `
'use strict'
const { parentPort, workerData } = require('node:worker_threads')
const { performance } = require('node:perf_hooks')
const Database = require(workerData.libsqlPath)
let db = null
let path = null
let changes = null
let busyStatement = false
function open() {
  busyStatement = false
  db = new Database(path)
  db.exec('PRAGMA busy_timeout = ' + Number(workerData.busyTimeoutMs))
  changes = db.prepare('SELECT changes(), last_insert_rowid()').safeIntegers(true).raw()
}
function info(e) {
  return {
    message: String(e && e.message !== undefined ? e.message : e),
    code: e && typeof e.code === 'string' ? e.code : undefined,
    rawCode: e && typeof e.rawCode === 'number' ? e.rawCode : undefined,
  }
}
const columns = (stmt) => stmt.columns().map((c) => ({ name: c.name, decltype: c.type == null ? null : c.type }))
const value = (v) => (v instanceof ArrayBuffer ? new Uint8Array(v) : v instanceof Uint8Array ? Uint8Array.from(v) : v)
function execute(m) {
  let stmt
  try { stmt = db.prepare(m.sql) } catch (e) { return { error: info(e), phase: 'prepare', autocommit: !db.inTransaction } }
  const cols = columns(stmt)
  const start = performance.now()
  try {
    let rows = []
    if (stmt.reader) rows = stmt.safeIntegers(true).raw().all(m.args).map((row) => row.map(value))
    else stmt.run(m.args)
    const durationMs = performance.now() - start
    const [changed, lastInsertRowid] = changes.get()
    return { cols, rows: m.wantRows ? rows : [], changes: changed, lastInsertRowid, durationMs, autocommit: !db.inTransaction }
  } catch (e) {
    const error = info(e)
    if (error.rawCode !== undefined && (error.rawCode & 0xff) === 5) busyStatement = true
    return { error, phase: 'execute', cols, autocommit: !db.inTransaction }
  }
}
const ops = {
  open(m) { path = m.path; open(); return { autocommit: true } },
  close() {
    // statements the driver has not finalized yet keep a closed connection alive (sqlite3_close_v2), and
    // with it the transaction and its locks: end the transaction first, as dropping a connection does in sqld
    if (db && db.inTransaction) { try { db.exec('ROLLBACK') } catch {} }
    if (db) db.close()
    db = null
    return { autocommit: true }
  },
  check(m) {
    return m.sqls.map((sql) => {
      try { return { error: null, cols: columns(db.prepare(sql)) } } catch (e) { return { error: info(e), cols: [] } }
    })
  },
  exec(m) {
    const reply = execute(m)
    if (busyStatement && !db.inTransaction) { ops.close(); open() }
    return reply
  },
  describe(m) {
    try {
      const cols = columns(db.prepare(m.sql))
      const program = db.prepare('EXPLAIN ' + m.inner).raw().all().map((r) => [String(r[1]), Number(r[3])])
      return { cols, program }
    } catch (e) { return { error: info(e) } }
  },
}
parentPort.on('message', (m) => {
  let reply
  try { reply = { id: m.id, result: ops[m.op](m) } } catch (e) { reply = { id: m.id, failure: info(e) } }
  parentPort.postMessage(reply)
})
`

/** One worker thread holding at most one libsql connection at a time. */
class SqlWorker {
  readonly #worker: Worker
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  #seq = 0
  #failure: Error | undefined

  constructor(libsqlPath: string, busyTimeoutMs: number) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { libsqlPath, busyTimeoutMs } })
    this.#worker.unref()
    this.#worker.on('message', (m: { id: number; result?: unknown; failure?: WorkerError }) => {
      const pending = this.#pending.get(m.id)
      this.#pending.delete(m.id)
      if (m.failure) pending?.reject(new InternalError(m.failure.message))
      else pending?.resolve(m.result)
    })
    this.#worker.on('error', (error) => this.#fail(error))
    this.#worker.on('exit', (code) => this.#fail(new InternalError(`SQLite worker exited with code ${code}`)))
  }

  get failed(): boolean {
    return this.#failure !== undefined
  }

  call<T>(op: string, message: Record<string, unknown> = {}): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure)
    const id = ++this.#seq
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.#worker.postMessage({ ...message, id, op })
    })
  }

  async terminate(): Promise<void> {
    this.#fail(new InternalError('server closed'))
    await this.#worker.terminate()
  }

  #fail(error: Error): void {
    this.#failure ??= error
    for (const pending of this.#pending.values()) pending.reject(this.#failure)
    this.#pending.clear()
  }
}

class WorkerPool {
  readonly #idle: SqlWorker[] = []
  readonly #all = new Set<SqlWorker>()

  constructor(
    readonly libsqlPath: string,
    readonly busyTimeoutMs: number,
  ) {}

  acquire(): SqlWorker {
    const worker = this.#idle.pop() ?? new SqlWorker(this.libsqlPath, this.busyTimeoutMs)
    this.#all.add(worker)
    return worker
  }

  release(worker: SqlWorker): void {
    if (worker.failed) this.#all.delete(worker)
    else this.#idle.push(worker)
  }

  async terminate(): Promise<void> {
    const all = [...this.#all]
    this.#all.clear()
    this.#idle.length = 0
    await Promise.all(all.map((worker) => worker.terminate()))
  }
}

/** A stream's SQLite connection. `autocommit` is the state after the last statement. */
class Connection {
  autocommit = true
  #closed: Promise<void> | undefined

  private constructor(
    private readonly worker: SqlWorker,
    private readonly pool: WorkerPool,
  ) {}

  static async open(pool: WorkerPool, path: string): Promise<Connection> {
    const worker = pool.acquire()
    try {
      await worker.call('open', { path })
    } catch (error) {
      pool.release(worker)
      throw error
    }
    return new Connection(worker, pool)
  }

  async exec(sql: string, args: SqlValue[], wantRows: boolean): Promise<ExecReply> {
    const reply = await this.worker.call<ExecReply>('exec', { sql, args, wantRows })
    this.autocommit = reply.autocommit
    return reply
  }

  check(sqls: string[]): Promise<CheckReply[]> {
    return this.worker.call<CheckReply[]>('check', { sqls })
  }

  describe(sql: string, inner: string): Promise<DescribeReply> {
    return this.worker.call<DescribeReply>('describe', { sql, inner })
  }

  close(): Promise<void> {
    return (this.#closed ??= this.worker
      .call('close')
      .catch(() => undefined)
      .then(() => this.pool.release(this.worker)))
  }
}

// ---------------------------------------------------------------------------------------------------
// Executing stream requests (sqld's hrana/http/request.rs, stmt.rs, batch.rs, connection/program.rs)

interface Query {
  st: ParsedStmt
  params: { positional: SqlValue[] } | { named: Map<string, SqlValue> }
  wantRows: boolean
}

interface ProgramStep {
  cond?: BatchCond
  query: Query
}

const MAX_SQL_COUNT = 50
const MAX_STORED_SQL_BYTES = 5_000

// rusqlite's ErrorCode for a primary result code, as sqld names it; SQLITE_ERROR is rusqlite's Unknown.
const PRIMARY_CODES: Record<number, string> = {
  2: 'SQLITE_INTERNAL', 3: 'SQLITE_PERM', 4: 'SQLITE_ABORT', 5: 'SQLITE_BUSY', 6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM', 8: 'SQLITE_READONLY', 9: 'SQLITE_INTERRUPT', 10: 'SQLITE_IOERR', 11: 'SQLITE_CORRUPT',
  12: 'SQLITE_NOTFOUND', 13: 'SQLITE_FULL', 14: 'SQLITE_CANTOPEN', 15: 'SQLITE_PROTOCOL', 17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG', 19: 'SQLITE_CONSTRAINT', 20: 'SQLITE_MISMATCH', 21: 'SQLITE_MISUSE', 22: 'SQLITE_NOLFS',
  23: 'SQLITE_AUTH', 25: 'SQLITE_RANGE', 26: 'SQLITE_NOTADB',
}

/**
 * A libsql error as sqld reports it. `parsed`: the statement went through sqld's parser first, so a
 * syntax error is its SQL_PARSE_ERROR (describe prepares without it).
 */
function sqliteError(e: WorkerError, st: ParsedStmt, phase: 'prepare' | 'execute', parsed: boolean): HranaError {
  if (e.rawCode === undefined) throw new InternalError(e.message)
  const primary = e.rawCode & 0xff
  if (phase === 'prepare' && primary === 1) {
    if (parsed && SYNTAX.test(e.message)) return parseErrorFromSqlite(e.message, st)
    const offset = errorOffset(e.message, st.text)
    if (offset !== undefined) return { message: `SQL input error: ${e.message} (at offset ${offset})`, code: 'SQL_INPUT_ERROR' }
  }
  return { message: `SQLite error: ${e.message}`, code: PRIMARY_CODES[primary] ?? 'SQLITE_UNKNOWN' }
}

function sqlText(sql: string | undefined, sqlId: number | undefined, sqls: Map<number, string>): string {
  if (sql !== undefined && sqlId !== undefined) throw new ProtocolError('Either `sql` or `sql_id` are required, but not both')
  if (sql !== undefined) return sql
  if (sqlId === undefined) throw new ProtocolError('Either `sql` or `sql_id` are required')
  const stored = sqls.get(sqlId)
  if (stored === undefined) throw new ProtocolError(`SQL text ${sqlId} not found`)
  return stored
}

/** Syntax errors SQLite finds in these statements, keyed by statement text (one worker round trip). */
async function syntaxErrors(conn: Connection, stmts: Array<ParsedStmt | undefined>): Promise<Map<string, HranaError>> {
  const unique = new Map<string, ParsedStmt>()
  for (const st of stmts) if (st && st.kind !== null && !st.unknown && !unique.has(st.text)) unique.set(st.text, st)
  const found = new Map<string, HranaError>()
  if (unique.size === 0) return found
  const checked = [...unique.values()]
  const replies = await conn.check(checked.map((st) => st.text))
  replies.forEach((reply, i) => {
    const st = checked[i]!
    if (reply.error && (reply.error.rawCode ?? 0) % 256 === 1 && SYNTAX.test(reply.error.message)) {
      found.set(st.text, parseErrorFromSqlite(reply.error.message, st))
    }
  })
  return found
}

/** sqld's Statement::parse failure for one statement, if any. */
function statementError(original: string, st: ParsedStmt, syntax: Map<string, HranaError>): HranaError | undefined {
  if (st.unknown) {
    const tok = st.toks[st.bodyAt]
    if (tok === undefined) return parseError('unexpected end of input')
    return parseError(`syntax error around ${lineCol(original, tok.start)}: \`${tok.text}\``)
  }
  if (st.kind === null) return parseError(`unsupported statement: ${original}`)
  return syntax.get(st.text)
}

/** sqld's proto_stmt_to_query. */
function stmtToQuery(stmt: Stmt, sqls: Map<number, string>, syntax: Map<string, HranaError>): Query {
  const sql = sqlText(stmt.sql, stmt.sqlId, sqls)
  const stmts = splitStatements(sql)
  const st = stmts[0]
  if (st === undefined) throw new ResponseError({ message: 'SQL string does not contain any statement', code: 'SQL_NO_STATEMENT' })
  const error = statementError(sql, st, syntax)
  if (error) throw new ResponseError(error)
  if (stmts.length > 1) throw new ResponseError({ message: 'SQL string contains more than one statement', code: 'SQL_MANY_STATEMENTS' })
  const value = (v: SqlValue | undefined): SqlValue => {
    if (v === undefined) throw new ProtocolError('Value type not recognized')
    return v
  }
  const wantRows = stmt.wantRows ?? true
  if (stmt.namedArgs.length === 0) return { st, params: { positional: stmt.args.map(value) }, wantRows }
  if (stmt.args.length === 0) {
    return { st, params: { named: new Map(stmt.namedArgs.map(({ name, value: v }) => [name, value(v)])) }, wantRows }
  }
  throw new ResponseError({
    message: 'Specifying both positional and named arguments is not supported',
    code: 'ARGS_BOTH_POSITIONAL_AND_NAMED',
  })
}

/** sqld's Params::bind: the value for every parameter index, or why they do not match. */
function bindArgs(query: Query): SqlValue[] | { error: string } {
  const names = paramNames(query.st.toks)
  const { params } = query
  const given = 'positional' in params ? params.positional.length : params.named.size
  if (names.length < given) return { error: `too many parameters, expected ${names.length} found ${given}` }
  const pos = (i: number): SqlValue | undefined => ('positional' in params && i > 0 ? params.positional[i - 1] : undefined)
  const named = (name: string): SqlValue | undefined => {
    if ('positional' in params) return undefined
    if (params.named.has(name)) return params.named.get(name)
    return params.named.has(name.slice(1)) ? params.named.get(name.slice(1)) : undefined
  }
  const values: SqlValue[] = []
  for (let index = 1; index <= names.length; index++) {
    const name = names[index - 1] ?? null
    const value = name === null ? pos(index) : name.startsWith('?') ? pos(Number(name.slice(1))) : named(name)
    if (value === undefined) {
      if (query.st.isExplain) return [...values, ...names.slice(values.length).map(() => null)]
      return { error: `value for parameter ${name ?? index} not found` }
    }
    values.push(value)
  }
  return values
}

type QueryOutcome = { result: StmtResult } | { error: HranaError; cols?: Col[] }

/** sqld's Vm::execute_query for one statement on the stream's connection. */
async function runQuery(conn: Connection, query: Query): Promise<QueryOutcome> {
  const { st } = query
  const args = bindArgs(query)
  if (!Array.isArray(args)) {
    // sqld prepares before it binds, so a statement that does not prepare reports that instead
    const [check] = await conn.check([st.text])
    if (check?.error) return { error: sqliteError(check.error, st, 'prepare', true) }
    const error = { message: `Arguments do not match SQL parameters: ${args.error}`, code: 'ARGS_INVALID' }
    return { error, cols: check?.cols }
  }
  const reply = await conn.exec(st.text, args, query.wantRows)
  if (reply.error) return { error: sqliteError(reply.error, st, reply.phase ?? 'execute', true), cols: reply.cols }
  return {
    result: {
      cols: reply.cols ?? [],
      rows: reply.rows ?? [],
      affectedRowCount: st.isIud ? Number(reply.changes ?? 0n) : 0,
      lastInsertRowid: st.isInsert ? (reply.lastInsertRowid ?? 0n) : null,
      queryDurationMs: reply.durationMs ?? 0,
    },
  }
}

function checkCond(cond: BatchCond, version: Version, steps: number): void {
  switch (cond.type) {
    case 'none':
      throw new ProtocolError('BatchCond type not recognized')
    case 'ok':
    case 'error':
      if (cond.step >= steps) throw new ProtocolError('Invalid reference to step in a batch condition')
      return
    case 'not':
      return checkCond(cond.cond, version, steps)
    case 'and':
    case 'or':
      return cond.conds.forEach((c) => checkCond(c, version, steps))
    case 'is_autocommit':
      if (version < 3) {
        throw new ProtocolError('BatchCond of type `is_autocommit` is only supported in protocol version hrana3 and higher')
      }
  }
}

/** sqld's eval_cond: `error` is "did not succeed", so it is also true for a skipped step. */
function evalCond(cond: BatchCond, executed: boolean[], autocommit: boolean): boolean {
  switch (cond.type) {
    case 'ok':
      return executed[cond.step] === true
    case 'error':
      return executed[cond.step] !== true
    case 'not':
      return !evalCond(cond.cond, executed, autocommit)
    case 'and':
      return cond.conds.every((c) => evalCond(c, executed, autocommit))
    case 'or':
      return cond.conds.some((c) => evalCond(c, executed, autocommit))
    case 'is_autocommit':
      return autocommit
    case 'none':
      return false
  }
}

/** sqld's proto_batch_to_program: every statement parsed and every condition checked before anything runs. */
async function batchToProgram(conn: Connection, steps: BatchStep[], sqls: Map<number, string>, version: Version): Promise<ProgramStep[]> {
  const firsts = steps.map((step) => {
    try {
      return splitStatements(sqlText(step.stmt.sql, step.stmt.sqlId, sqls))[0]
    } catch {
      return undefined
    }
  })
  const syntax = await syntaxErrors(conn, firsts)
  return steps.map((step, i) => {
    const query = stmtToQuery(step.stmt, sqls, syntax)
    if (step.condition) checkCond(step.condition, version, i)
    return { query, cond: step.condition }
  })
}

/** Runs a program step by step; `onEntry` receives cursor entries as they happen. */
async function runProgram(conn: Connection, program: ProgramStep[], onEntry?: (entry: CursorEntry) => void): Promise<BatchResult> {
  const executed: boolean[] = []
  const result: BatchResult = { stepResults: [], stepErrors: [] }
  for (const [step, { cond, query }] of program.entries()) {
    if (cond && !evalCond(cond, executed, conn.autocommit)) {
      executed.push(false)
      result.stepResults.push(null)
      result.stepErrors.push(null)
      continue
    }
    const outcome = await runQuery(conn, query)
    if ('error' in outcome) {
      if (outcome.cols) onEntry?.({ type: 'step_begin', step, cols: outcome.cols })
      onEntry?.({ type: 'step_error', step, error: outcome.error })
      executed.push(false)
      result.stepResults.push(null)
      result.stepErrors.push(outcome.error)
    } else {
      const r = outcome.result
      onEntry?.({ type: 'step_begin', step, cols: r.cols })
      for (const row of r.rows) onEntry?.({ type: 'row', row })
      onEntry?.({ type: 'step_end', affectedRowCount: r.affectedRowCount, lastInsertRowid: r.lastInsertRowid })
      executed.push(true)
      result.stepResults.push(r)
      result.stepErrors.push(null)
    }
  }
  return result
}

/** sqld's execute_sequence: all statements parsed first, run until the first error, rows ignored. */
async function runSequence(conn: Connection, sql: string): Promise<void> {
  const stmts = splitStatements(sql)
  const syntax = await syntaxErrors(conn, stmts)
  for (const st of stmts) {
    const error = statementError(sql, st, syntax)
    if (error) throw new ResponseError(error)
  }
  for (const st of stmts) {
    const outcome = await runQuery(conn, { st, params: { positional: [] }, wantRows: false })
    if ('error' in outcome) throw new ResponseError(outcome.error)
  }
}

/** sqld's describe_stmt: SQLite's own view of the statement, without sqld's parser in front. */
async function describe(conn: Connection, sql: string): Promise<DescribeResult> {
  const stmts = splitStatements(sql)
  const st = stmts[0]
  if (st === undefined) return { params: [], cols: [], isExplain: false, isReadonly: true }
  if (stmts.length > 1) throw new InternalError('Multiple statements provided')
  const body = st.toks[st.bodyAt]
  const inner = body ? sql.slice(body.start, st.toks[st.toks.length - 1]!.end) : st.text
  const reply = await conn.describe(st.text, inner)
  if (reply.error) throw new ResponseError(sqliteError(reply.error, st, 'prepare', false))
  // sqlite3_stmt_readonly: no write transaction and none of the opcodes that write outside one
  const writes = (reply.program ?? []).some(
    ([op, p2]) => (op === 'Transaction' && p2 !== 0) || op === 'Vacuum' || op === 'JournalMode' || op === 'Checkpoint',
  )
  return {
    params: paramNames(st.toks).map((name) => ({ name })),
    cols: (reply.cols ?? []).map((c) => ({ name: c.name ?? '', decltype: c.decltype })),
    isExplain: st.isExplain,
    isReadonly: !writes,
  }
}

function connectionOf(stream: Stream): Connection {
  if (!stream.conn) throw new ProtocolError('Stream for this baton was closed')
  return stream.conn
}

/** sqld's request::try_handle for one stream request. */
async function handleRequest(stream: Stream, request: StreamRequest, version: Version): Promise<StreamResponse> {
  switch (request.type) {
    case 'none':
      throw new ProtocolError('StreamRequest type not recognized')
    case 'close':
      await stream.conn?.close()
      stream.conn = undefined
      return { type: 'close' }
    case 'execute': {
      const conn = connectionOf(stream)
      let first: ParsedStmt | undefined
      try {
        first = splitStatements(sqlText(request.stmt.sql, request.stmt.sqlId, stream.sqls))[0]
      } catch {
        first = undefined
      }
      const query = stmtToQuery(request.stmt, stream.sqls, await syntaxErrors(conn, [first]))
      const outcome = await runQuery(conn, query)
      if ('error' in outcome) throw new ResponseError(outcome.error)
      return { type: 'execute', result: outcome.result }
    }
    case 'batch': {
      const conn = connectionOf(stream)
      const program = await batchToProgram(conn, request.steps, stream.sqls, version)
      return { type: 'batch', result: await runProgram(conn, program) }
    }
    case 'sequence': {
      const conn = connectionOf(stream)
      await runSequence(conn, sqlText(request.sql, request.sqlId, stream.sqls))
      return { type: 'sequence' }
    }
    case 'describe': {
      const conn = connectionOf(stream)
      return { type: 'describe', result: await describe(conn, sqlText(request.sql, request.sqlId, stream.sqls)) }
    }
    case 'store_sql': {
      if (stream.sqls.has(request.sqlId)) throw new ProtocolError(`SQL text ${request.sqlId} already exists`)
      if (stream.sqls.size >= MAX_SQL_COUNT) {
        throw new ResponseError({
          message: `The server already stores ${stream.sqls.size} SQL texts, it cannot store more`,
          code: 'SQL_STORE_TOO_MANY',
        })
      }
      const bytes = Buffer.byteLength(request.sql)
      if (bytes > MAX_STORED_SQL_BYTES) {
        throw new ResponseError({
          message: `The statement is too large to be stored: ${(bytes / 1000).toFixed(1)} KB/5.0 KB`,
          code: 'SQL_STORE_TOO_LARGE',
        })
      }
      stream.sqls.set(request.sqlId, request.sql)
      return { type: 'store_sql' }
    }
    case 'close_sql':
      stream.sqls.delete(request.sqlId)
      return { type: 'close_sql' }
    case 'get_autocommit': {
      if (version < 3) throw new ProtocolError('The `get_autocommit` request is only supported in protocol version hrana3 and higher')
      return { type: 'get_autocommit', isAutocommit: connectionOf(stream).autocommit }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Streams and batons (sqld's hrana/http/stream.rs)

interface Stream {
  id: bigint
  /** Sequence number the next baton must carry. */
  seq: bigint
  /** undefined once the stream got a `close` request. */
  conn: Connection | undefined
  sqls: Map<number, string>
}

type Handle =
  | { state: 'available'; stream: Stream; timer: NodeJS.Timeout }
  | { state: 'acquired'; stream: Stream }
  | { state: 'expired'; timer: NodeJS.Timeout }

/** How long an expired stream answers "expired" rather than "invalid baton" (sqld's CLEANUP). */
const CLEANUP_MS = 300_000
const U64 = (1n << 64n) - 1n

class Streams {
  readonly #handles = new Map<bigint, Handle>()
  readonly #key = randomBytes(32)

  constructor(
    private readonly openConnection: () => Promise<Connection>,
    private readonly expirationMs: number,
  ) {}

  /** The stream for a baton (a new one without), marked as in use. */
  async acquire(baton: string | undefined): Promise<Stream> {
    if (baton === undefined) {
      const conn = await this.openConnection()
      let id = randomBytes(8).readBigUInt64BE()
      while (this.#handles.has(id)) id = randomBytes(8).readBigUInt64BE()
      const stream: Stream = { id, seq: randomBytes(8).readBigUInt64BE(), conn, sqls: new Map() }
      this.#handles.set(id, { state: 'acquired', stream })
      return stream
    }
    const { id, seq } = this.#decode(baton)
    const handle = this.#handles.get(id)
    if (handle === undefined) throw new ProtocolError('Received an invalid baton')
    if (handle.state === 'acquired') throw new ProtocolError('Received a baton that has already been used')
    if (handle.state === 'expired') throw new StreamExpiredError()
    if (handle.stream.seq !== seq) throw new ProtocolError('Received a baton that has already been used')
    clearTimeout(handle.timer)
    const { stream } = handle
    stream.seq = (stream.seq + 1n) & U64
    this.#handles.set(id, { state: 'acquired', stream })
    return stream
  }

  /** Makes the stream available again and returns the next baton; null (and gone) once closed. */
  release(stream: Stream): string | null {
    if (!stream.conn) {
      this.#handles.delete(stream.id)
      return null
    }
    const timer = setTimeout(() => this.#expire(stream), this.expirationMs).unref()
    this.#handles.set(stream.id, { state: 'available', stream, timer })
    return this.#encode(stream.id, stream.seq)
  }

  /** Forgets a stream after a failed request, closing its connection (sqld drops the guard). */
  async drop(stream: Stream): Promise<void> {
    this.#handles.delete(stream.id)
    await stream.conn?.close()
    stream.conn = undefined
  }

  async closeAll(): Promise<void> {
    const closing: Array<Promise<void> | undefined> = []
    for (const handle of this.#handles.values()) {
      clearTimeout('timer' in handle ? handle.timer : undefined)
      if ('stream' in handle) closing.push(handle.stream.conn?.close())
    }
    this.#handles.clear()
    await Promise.all(closing)
  }

  #expire(stream: Stream): void {
    const handle = this.#handles.get(stream.id)
    if (handle?.state !== 'available' || handle.stream !== stream) return
    void stream.conn?.close()
    stream.conn = undefined
    const timer = setTimeout(() => {
      if (this.#handles.get(stream.id)?.state === 'expired') this.#handles.delete(stream.id)
    }, CLEANUP_MS).unref()
    this.#handles.set(stream.id, { state: 'expired', timer })
  }

  /** Payload (stream id, sequence number, big endian) and its HMAC-SHA256, base64 without padding. */
  #encode(id: bigint, seq: bigint): string {
    const payload = Buffer.alloc(16)
    payload.writeBigUInt64BE(id, 0)
    payload.writeBigUInt64BE(seq, 8)
    const mac = createHmac('sha256', this.#key).update(payload).digest()
    return Buffer.concat([payload, mac]).toString('base64').replace(/=+$/, '')
  }

  #decode(baton: string): { id: bigint; seq: bigint } {
    if (!/^[A-Za-z0-9+/]*$/.test(baton)) throw new ProtocolError('Received an invalid baton')
    const data = Buffer.from(baton, 'base64')
    if (data.length !== 48) throw new ProtocolError('Received an invalid baton')
    const mac = createHmac('sha256', this.#key).update(data.subarray(0, 16)).digest()
    if (!timingSafeEqual(mac, data.subarray(16))) throw new ProtocolError('Received an invalid baton')
    return { id: data.readBigUInt64BE(0), seq: data.readBigUInt64BE(8) }
  }
}

// ---------------------------------------------------------------------------------------------------
// JSON encoding (serde's view of libsql-hrana's proto.rs)

const jsonFail = (detail: string): never => {
  throw new ProtocolError(`Cannot deserialize client message from JSON: ${detail}`)
}

function jObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return jsonFail(`invalid type: expected ${what} (an object)`)
  return v as Record<string, unknown>
}

function jString(v: unknown, what: string): string {
  return typeof v === 'string' ? v : jsonFail(`invalid type: expected ${what} to be a string`)
}

const jOptString = (v: unknown, what: string): string | undefined => (v === undefined || v === null ? undefined : jString(v, what))

function jInt(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return jsonFail(`invalid value: expected ${what} to be an integer`)
  return v
}

const jInt32 = (v: unknown, what: string): number => jInt(v, what, -(2 ** 31), 2 ** 31 - 1)
const jOptInt32 = (v: unknown, what: string): number | undefined => (v === undefined || v === null ? undefined : jInt32(v, what))

function jArray(v: unknown, what: string): unknown[] {
  return Array.isArray(v) ? v : jsonFail(`invalid type: expected ${what} to be a sequence`)
}

function jsonToValue(v: unknown): SqlValue {
  const o = jObject(v, 'Value')
  switch (o.type) {
    case 'null':
      return null
    case 'integer': {
      const s = jString(o.value, 'integer value')
      const n = /^[+-]?\d+$/.test(s) ? BigInt(s) : undefined
      if (n === undefined || n !== BigInt.asIntN(64, n)) return jsonFail(`invalid value: string ${JSON.stringify(s)}, expected decimal integer as a string`)
      return n
    }
    case 'float':
      return typeof o.value === 'number' ? o.value : jsonFail('invalid type: expected float value to be a number')
    case 'text':
      return jString(o.value, 'text value')
    case 'blob': {
      const s = jString(o.base64, 'blob base64').replace(/=+$/, '')
      if (!/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) return jsonFail(`invalid value: string ${JSON.stringify(s)}, expected binary data encoded as base64`)
      return new Uint8Array(Buffer.from(s, 'base64'))
    }
    default:
      return jsonFail(`unknown variant \`${String(o.type)}\`, expected one of \`null\`, \`integer\`, \`float\`, \`text\`, \`blob\``)
  }
}

function jsonToStmt(v: unknown): Stmt {
  const o = jObject(v, 'Stmt')
  const wantRows = o.want_rows === undefined || o.want_rows === null ? undefined : o.want_rows
  if (wantRows !== undefined && typeof wantRows !== 'boolean') jsonFail('invalid type: expected want_rows to be a boolean')
  return {
    sql: jOptString(o.sql, 'sql'),
    sqlId: jOptInt32(o.sql_id, 'sql_id'),
    args: o.args === undefined ? [] : jArray(o.args, 'args').map(jsonToValue),
    namedArgs: (o.named_args === undefined ? [] : jArray(o.named_args, 'named_args')).map((arg) => {
      const a = jObject(arg, 'NamedArg')
      return { name: jString(a.name, 'name'), value: jsonToValue(a.value) }
    }),
    wantRows: wantRows as boolean | undefined,
  }
}

function jsonToCond(v: unknown): BatchCond {
  const o = jObject(v, 'BatchCond')
  switch (o.type) {
    case 'ok':
    case 'error':
      return { type: o.type, step: jInt(o.step, 'step', 0, 2 ** 32 - 1) }
    case 'not':
      return { type: 'not', cond: jsonToCond(o.cond) }
    case 'and':
    case 'or':
      return { type: o.type, conds: jArray(o.conds, 'conds').map(jsonToCond) }
    case 'is_autocommit':
      return { type: 'is_autocommit' }
    default:
      return jsonFail(`unknown variant \`${String(o.type)}\`, expected one of \`ok\`, \`error\`, \`not\`, \`and\`, \`or\`, \`is_autocommit\``)
  }
}

function jsonToSteps(v: unknown): BatchStep[] {
  return jArray(jObject(v, 'Batch').steps, 'steps').map((s) => {
    const step = jObject(s, 'BatchStep')
    const condition = step.condition === undefined || step.condition === null ? undefined : jsonToCond(step.condition)
    return { condition, stmt: jsonToStmt(step.stmt) }
  })
}

function jsonToRequest(v: unknown): StreamRequest {
  const o = jObject(v, 'StreamRequest')
  switch (o.type) {
    case 'close':
    case 'get_autocommit':
      return { type: o.type }
    case 'execute':
      return { type: 'execute', stmt: jsonToStmt(o.stmt) }
    case 'batch':
      return { type: 'batch', steps: jsonToSteps(o.batch) }
    case 'sequence':
    case 'describe':
      return { type: o.type, sql: jOptString(o.sql, 'sql'), sqlId: jOptInt32(o.sql_id, 'sql_id') }
    case 'store_sql':
      return { type: 'store_sql', sqlId: jInt32(o.sql_id, 'sql_id'), sql: jString(o.sql, 'sql') }
    case 'close_sql':
      return { type: 'close_sql', sqlId: jInt32(o.sql_id, 'sql_id') }
    default:
      return jsonFail(
        `unknown variant \`${String(o.type)}\`, expected one of \`close\`, \`execute\`, \`batch\`, \`sequence\`, \`describe\`, \`store_sql\`, \`close_sql\`, \`get_autocommit\``,
      )
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (error) {
    return jsonFail((error as Error).message)
  }
}

function jsonToPipeline(body: Buffer): PipelineReq {
  const o = jObject(parseJson(body), 'PipelineReqBody')
  if (o.requests === undefined) jsonFail('missing field `requests`')
  return { baton: jOptString(o.baton, 'baton'), requests: jArray(o.requests, 'requests').map(jsonToRequest) }
}

function jsonToCursorReq(body: Buffer): { baton?: string; steps: BatchStep[] } {
  const o = jObject(parseJson(body), 'CursorReqBody')
  if (o.batch === undefined) jsonFail('missing field `batch`')
  return { baton: jOptString(o.baton, 'baton'), steps: jsonToSteps(o.batch) }
}

// JSON.stringify writes -0 as 0; serde writes -0.0. Floats equal to -0 go through this marker.
const NEG_ZERO = `-0:${randomBytes(12).toString('hex')}`
const toJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (Object.is(v, -0) ? NEG_ZERO : v)).replaceAll(`"${NEG_ZERO}"`, '-0.0')

const base64NoPad = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64').replace(/=+$/, '')

function valueToJson(v: SqlValue): Record<string, unknown> {
  if (v === null) return { type: 'null' }
  if (typeof v === 'bigint') return { type: 'integer', value: v.toString() }
  if (typeof v === 'number') return { type: 'float', value: v }
  if (typeof v === 'string') return { type: 'text', value: v }
  return { type: 'blob', base64: base64NoPad(v) }
}

const errorToJson = (e: HranaError): Record<string, unknown> => ({ message: e.message, code: e.code })
const colToJson = (c: Col): Record<string, unknown> => ({ name: c.name, decltype: c.decltype })

function stmtResultToJson(r: StmtResult): Record<string, unknown> {
  return {
    cols: r.cols.map(colToJson),
    rows: r.rows.map((row) => row.map(valueToJson)),
    affected_row_count: r.affectedRowCount,
    last_insert_rowid: r.lastInsertRowid === null ? null : r.lastInsertRowid.toString(),
    replication_index: null,
    rows_read: 0,
    rows_written: 0,
    query_duration_ms: r.queryDurationMs,
  }
}

function responseToJson(r: StreamResponse): Record<string, unknown> {
  switch (r.type) {
    case 'execute':
      return { type: 'execute', result: stmtResultToJson(r.result) }
    case 'batch':
      return {
        type: 'batch',
        result: {
          step_results: r.result.stepResults.map((s) => (s === null ? null : stmtResultToJson(s))),
          step_errors: r.result.stepErrors.map((e) => (e === null ? null : errorToJson(e))),
          replication_index: null,
        },
      }
    case 'describe':
      return {
        type: 'describe',
        result: {
          params: r.result.params,
          cols: r.result.cols,
          is_explain: r.result.isExplain,
          is_readonly: r.result.isReadonly,
        },
      }
    case 'get_autocommit':
      return { type: 'get_autocommit', is_autocommit: r.isAutocommit }
    default:
      return { type: r.type }
  }
}

function pipelineToJson(body: PipelineResp): string {
  return toJson({
    baton: body.baton,
    base_url: null,
    results: body.results.map((r) =>
      r.type === 'ok' ? { type: 'ok', response: responseToJson(r.response) } : { type: 'error', error: errorToJson(r.error) },
    ),
  })
}

function cursorEntryToJson(e: CursorEntry): string {
  switch (e.type) {
    case 'step_begin':
      return JSON.stringify({ type: 'step_begin', step: e.step, cols: e.cols.map(colToJson) })
    case 'row':
      return toJson({ type: 'row', row: e.row.map(valueToJson) })
    case 'step_error':
      return JSON.stringify({ type: 'step_error', step: e.step, error: errorToJson(e.error) })
    case 'step_end':
      // a plain i64 for serde here, not the string StmtResult uses
      return `{"type":"step_end","affected_row_count":${e.affectedRowCount},"last_insert_rowid":${e.lastInsertRowid === null ? 'null' : e.lastInsertRowid.toString()}}`
  }
}

// ---------------------------------------------------------------------------------------------------
// Protobuf encoding (the spec's .proto; prost's wire format)

const pbFail = (detail: string): never => {
  throw new ProtocolError(`Could not decode client message from Protobuf: ${detail}`)
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

class PbReader {
  #pos = 0
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.#pos >= this.buf.length
  }

  varint(): bigint {
    let value = 0n
    for (let shift = 0n; ; shift += 7n) {
      if (shift > 63n) return pbFail('invalid varint')
      const byte = this.buf[this.#pos++]
      if (byte === undefined) return pbFail('buffer underflow')
      value |= BigInt(byte & 0x7f) << shift
      if (!(byte & 0x80)) return value & U64
    }
  }

  #expect(wt: number, want: number): void {
    if (wt !== want) pbFail(`invalid wire type: ${wt} (expected ${want})`)
  }

  uint32(wt: number): number {
    this.#expect(wt, 0)
    return Number(this.varint() & 0xffffffffn)
  }

  int32(wt: number): number {
    this.#expect(wt, 0)
    return Number(BigInt.asIntN(32, this.varint()))
  }

  bool(wt: number): boolean {
    this.#expect(wt, 0)
    return this.varint() !== 0n
  }

  sint64(wt: number): bigint {
    this.#expect(wt, 0)
    const v = this.varint()
    return (v >> 1n) ^ -(v & 1n)
  }

  double(wt: number): number {
    this.#expect(wt, 1)
    if (this.#pos + 8 > this.buf.length) return pbFail('buffer underflow')
    const value = new DataView(this.buf.buffer, this.buf.byteOffset + this.#pos, 8).getFloat64(0, true)
    this.#pos += 8
    return value
  }

  bytes(wt: number): Uint8Array {
    this.#expect(wt, 2)
    const length = Number(this.varint())
    if (this.#pos + length > this.buf.length) return pbFail('buffer underflow')
    const bytes = this.buf.subarray(this.#pos, this.#pos + length)
    this.#pos += length
    return bytes
  }

  string(wt: number): string {
    try {
      return utf8.decode(this.bytes(wt))
    } catch (error) {
      if (error instanceof ProtocolError) throw error
      return pbFail('invalid string value: data is not UTF-8 encoded')
    }
  }

  skip(wt: number): void {
    if (wt === 0) this.varint()
    else if (wt === 1) this.#pos += 8
    else if (wt === 2) this.bytes(wt)
    else if (wt === 5) this.#pos += 4
    else pbFail(`invalid wire type: ${wt}`)
    if (this.#pos > this.buf.length) pbFail('buffer underflow')
  }
}

/** Calls `onField` for each field; a field it does not take is skipped. */
function pbDecode(bytes: Uint8Array, onField: (r: PbReader, field: number, wt: number) => boolean): void {
  const r = new PbReader(bytes)
  while (!r.done) {
    const key = r.varint()
    const field = Number(key >> 3n)
    const wt = Number(key & 7n)
    if (field === 0) pbFail('invalid tag value: 0')
    if (!onField(r, field, wt)) r.skip(wt)
  }
}

function pbToValue(bytes: Uint8Array): SqlValue | undefined {
  let value: SqlValue | undefined
  pbDecode(bytes, (r, f, wt) => {
    if (f === 1) {
      r.bytes(wt)
      value = null
    } else if (f === 2) value = r.sint64(wt)
    else if (f === 3) value = r.double(wt)
    else if (f === 4) value = r.string(wt)
    else if (f === 5) value = new Uint8Array(r.bytes(wt))
    else return false
    return true
  })
  return value
}

function pbToStmt(bytes: Uint8Array): Stmt {
  const stmt: Stmt = { args: [], namedArgs: [] }
  pbDecode(bytes, (r, f, wt) => {
    if (f === 1) stmt.sql = r.string(wt)
    else if (f === 2) stmt.sqlId = r.int32(wt)
    else if (f === 3) stmt.args.push(pbToValue(r.bytes(wt)))
    else if (f === 4) {
      const arg = { name: '', value: undefined as SqlValue | undefined }
      pbDecode(r.bytes(wt), (a, af, awt) => {
        if (af === 1) arg.name = a.string(awt)
        else if (af === 2) arg.value = pbToValue(a.bytes(awt))
        else return false
        return true
      })
      stmt.namedArgs.push(arg)
    } else if (f === 5) stmt.wantRows = r.bool(wt)
    else return false
    return true
  })
  return stmt
}

function pbToCond(bytes: Uint8Array): BatchCond {
  let cond: BatchCond = { type: 'none' }
  const list = (b: Uint8Array): BatchCond[] => {
    const conds: BatchCond[] = []
    pbDecode(b, (r, f, wt) => (f === 1 ? (conds.push(pbToCond(r.bytes(wt))), true) : false))
    return conds
  }
  pbDecode(bytes, (r, f, wt) => {
    if (f === 1) cond = { type: 'ok', step: r.uint32(wt) }
    else if (f === 2) cond = { type: 'error', step: r.uint32(wt) }
    else if (f === 3) cond = { type: 'not', cond: pbToCond(r.bytes(wt)) }
    else if (f === 4) cond = { type: 'and', conds: list(r.bytes(wt)) }
    else if (f === 5) cond = { type: 'or', conds: list(r.bytes(wt)) }
    else if (f === 6) {
      r.skip(wt)
      cond = { type: 'is_autocommit' }
    } else return false
    return true
  })
  return cond
}

function pbToSteps(bytes: Uint8Array): BatchStep[] {
  const steps: BatchStep[] = []
  pbDecode(bytes, (r, f, wt) => {
    if (f !== 1) return false
    const step: BatchStep = { stmt: { args: [], namedArgs: [] } }
    pbDecode(r.bytes(wt), (s, sf, swt) => {
      if (sf === 1) step.condition = pbToCond(s.bytes(swt))
      else if (sf === 2) step.stmt = pbToStmt(s.bytes(swt))
      else return false
      return true
    })
    steps.push(step)
    return true
  })
  return steps
}

/** The single embedded message at field 1 (ExecuteStreamReq.stmt, BatchStreamReq.batch), empty if absent. */
function pbField1(bytes: Uint8Array): Uint8Array {
  let inner: Uint8Array = new Uint8Array(0)
  pbDecode(bytes, (r, f, wt) => (f === 1 ? ((inner = r.bytes(wt)), true) : false))
  return inner
}

function pbToRequest(bytes: Uint8Array): StreamRequest {
  let request: StreamRequest = { type: 'none' }
  pbDecode(bytes, (r, f, wt) => {
    if (f < 1 || f > 8) return false
    const body = r.bytes(wt)
    const sqlRef = (): { sql?: string; sqlId?: number } => {
      const ref: { sql?: string; sqlId?: number } = {}
      pbDecode(body, (s, sf, swt) => {
        if (sf === 1) ref.sql = s.string(swt)
        else if (sf === 2) ref.sqlId = s.int32(swt)
        else return false
        return true
      })
      return ref
    }
    if (f === 1) request = { type: 'close' }
    else if (f === 2) request = { type: 'execute', stmt: pbToStmt(pbField1(body)) }
    else if (f === 3) request = { type: 'batch', steps: pbToSteps(pbField1(body)) }
    else if (f === 4) request = { type: 'sequence', ...sqlRef() }
    else if (f === 5) request = { type: 'describe', ...sqlRef() }
    else if (f === 6 || f === 7) {
      const stored = { sqlId: 0, sql: '' }
      pbDecode(body, (s, sf, swt) => {
        if (sf === 1) stored.sqlId = s.int32(swt)
        else if (sf === 2 && f === 6) stored.sql = s.string(swt)
        else return false
        return true
      })
      request = f === 6 ? { type: 'store_sql', ...stored } : { type: 'close_sql', sqlId: stored.sqlId }
    } else request = { type: 'get_autocommit' }
    return true
  })
  return request
}

function pbToPipeline(bytes: Uint8Array): PipelineReq {
  const body: PipelineReq = { requests: [] }
  pbDecode(bytes, (r, f, wt) => {
    if (f === 1) body.baton = r.string(wt)
    else if (f === 2) body.requests.push(pbToRequest(r.bytes(wt)))
    else return false
    return true
  })
  return body
}

function pbToCursorReq(bytes: Uint8Array): { baton?: string; steps: BatchStep[] } {
  const body: { baton?: string; steps: BatchStep[] } = { steps: [] }
  pbDecode(bytes, (r, f, wt) => {
    if (f === 1) body.baton = r.string(wt)
    else if (f === 2) body.steps = pbToSteps(r.bytes(wt))
    else return false
    return true
  })
  return body
}

class PbWriter {
  readonly #bytes: number[] = []

  #varint(value: bigint): void {
    let v = value & U64
    do {
      let byte = Number(v & 0x7fn)
      v >>= 7n
      if (v) byte |= 0x80
      this.#bytes.push(byte)
    } while (v)
  }

  #key(field: number, wt: number): void {
    this.#varint(BigInt((field << 3) | wt))
  }

  uint(field: number, value: number | bigint): this {
    this.#key(field, 0)
    this.#varint(BigInt(value))
    return this
  }

  sint64(field: number, value: bigint): this {
    this.#key(field, 0)
    this.#varint((value << 1n) ^ (value >> 63n))
    return this
  }

  double(field: number, value: number): this {
    this.#key(field, 1)
    const bytes = new Uint8Array(8)
    new DataView(bytes.buffer).setFloat64(0, value, true)
    this.#bytes.push(...bytes)
    return this
  }

  bytes(field: number, value: Uint8Array): this {
    this.#key(field, 2)
    this.#varint(BigInt(value.length))
    for (const byte of value) this.#bytes.push(byte)
    return this
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'))
  }

  message(field: number, build: (w: PbWriter) => void): this {
    const inner = new PbWriter()
    build(inner)
    return this.bytes(field, inner.finish())
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes)
  }

  /** The message preceded by its length, as in a cursor body. */
  delimited(): Uint8Array {
    const body = this.finish()
    const out = new PbWriter()
    out.#varint(BigInt(body.length))
    return Buffer.concat([out.finish(), body])
  }
}

function pbValue(w: PbWriter, v: SqlValue): void {
  if (v === null) w.message(1, () => undefined)
  else if (typeof v === 'bigint') w.sint64(2, v)
  else if (typeof v === 'number') w.double(3, v)
  else if (typeof v === 'string') w.string(4, v)
  else w.bytes(5, v)
}

function pbError(w: PbWriter, e: HranaError): void {
  if (e.message !== '') w.string(1, e.message)
  if (e.code !== '') w.string(2, e.code)
}

function pbCol(w: PbWriter, c: Col): void {
  if (c.name !== null) w.string(1, c.name)
  if (c.decltype !== null) w.string(2, c.decltype)
}

const pbRow = (w: PbWriter, row: SqlValue[]): void => row.forEach((v) => w.message(1, (vw) => pbValue(vw, v)))

function pbStmtResult(w: PbWriter, r: StmtResult): void {
  for (const c of r.cols) w.message(1, (cw) => pbCol(cw, c))
  for (const row of r.rows) w.message(2, (rw) => pbRow(rw, row))
  if (r.affectedRowCount !== 0) w.uint(3, r.affectedRowCount)
  if (r.lastInsertRowid !== null) w.sint64(4, r.lastInsertRowid)
  if (r.queryDurationMs !== 0) w.double(8, r.queryDurationMs)
}

function pbResponse(w: PbWriter, r: StreamResponse): void {
  switch (r.type) {
    case 'close':
      return void w.message(1, () => undefined)
    case 'execute':
      return void w.message(2, (m) => m.message(1, (s) => pbStmtResult(s, r.result)))
    case 'batch':
      return void w.message(3, (m) =>
        m.message(1, (b) => {
          r.result.stepResults.forEach((s, i) => s && b.message(1, (e) => e.uint(1, i).message(2, (sw) => pbStmtResult(sw, s))))
          r.result.stepErrors.forEach((s, i) => s && b.message(2, (e) => e.uint(1, i).message(2, (ew) => pbError(ew, s))))
        }),
      )
    case 'sequence':
      return void w.message(4, () => undefined)
    case 'describe':
      return void w.message(5, (m) =>
        m.message(1, (d) => {
          for (const p of r.result.params) d.message(1, (pw) => p.name !== null && pw.string(1, p.name))
          for (const c of r.result.cols) d.message(2, (cw) => pbCol(cw, c))
          if (r.result.isExplain) d.uint(3, 1)
          if (r.result.isReadonly) d.uint(4, 1)
        }),
      )
    case 'store_sql':
      return void w.message(6, () => undefined)
    case 'close_sql':
      return void w.message(7, () => undefined)
    case 'get_autocommit':
      return void w.message(8, (m) => r.isAutocommit && m.uint(1, 1))
  }
}

function pipelineToPb(body: PipelineResp): Uint8Array {
  const w = new PbWriter()
  if (body.baton !== null) w.string(1, body.baton)
  for (const result of body.results) {
    w.message(3, (rw) =>
      result.type === 'ok' ? rw.message(1, (m) => pbResponse(m, result.response)) : rw.message(2, (m) => pbError(m, result.error)),
    )
  }
  return w.finish()
}

function cursorEntryToPb(e: CursorEntry): Uint8Array {
  const w = new PbWriter()
  switch (e.type) {
    case 'step_begin':
      w.message(1, (m) => {
        if (e.step !== 0) m.uint(1, e.step)
        for (const c of e.cols) m.message(2, (cw) => pbCol(cw, c))
      })
      break
    case 'step_end':
      w.message(2, (m) => {
        if (e.affectedRowCount !== 0) m.uint(1, e.affectedRowCount)
        if (e.lastInsertRowid !== null) m.sint64(2, e.lastInsertRowid)
      })
      break
    case 'step_error':
      w.message(3, (m) => {
        if (e.step !== 0) m.uint(1, e.step)
        m.message(2, (ew) => pbError(ew, e.error))
      })
      break
    case 'row':
      w.message(4, (m) => pbRow(m, e.row))
      break
  }
  return w.delimited()
}

// ---------------------------------------------------------------------------------------------------
// HTTP (sqld's http/user/mod.rs routes and hrana/http/mod.rs handlers)

interface Context {
  streams: Streams
  log: HranaLogEntry[]
  authToken: string | undefined
}

interface Reply {
  status: number
  headers: Record<string, string>
  body?: string | Uint8Array
}

const HELLO = 'Hello, this is HTTP API v2 (Hrana over HTTP)'

const ENDPOINTS: Record<string, { version: Version; encoding: Encoding; cursor: boolean }> = {
  '/v2/pipeline': { version: 2, encoding: 'json', cursor: false },
  '/v3/pipeline': { version: 3, encoding: 'json', cursor: false },
  '/v3/cursor': { version: 3, encoding: 'json', cursor: true },
  '/v3-protobuf/pipeline': { version: 3, encoding: 'protobuf', cursor: false },
  '/v3-protobuf/cursor': { version: 3, encoding: 'protobuf', cursor: true },
}

async function serve(req: IncomingMessage, res: ServerResponse, ctx: Context): Promise<void> {
  const method = req.method ?? 'GET'
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
  const entry: HranaLogEntry = { method, path, status: 0, requests: [] }
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const body = Buffer.concat(chunks)

  let reply: Reply
  const endpoint = ENDPOINTS[path]
  if (method === 'OPTIONS') {
    // tower-http's permissive CorsLayer; the request's headers are echoed because browsers do not let `*`
    // cover Authorization
    reply = {
      status: 200,
      headers: {
        'access-control-allow-methods': '*',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
      },
    }
  } else if (path === '/health' || path === '/v2' || path === '/v3' || path === '/v3-protobuf') {
    if (method !== 'GET') reply = { status: 405, headers: { allow: 'GET,HEAD' } }
    else if (path === '/health') reply = { status: 200, headers: {} }
    else reply = { status: 200, headers: { 'content-type': 'text/plain' }, body: HELLO }
  } else if (endpoint) {
    if (method !== 'POST') reply = { status: 405, headers: { allow: 'POST' } }
    else reply = await hrana(req, body, endpoint, ctx, entry)
  } else {
    reply = { status: 404, headers: {} }
  }

  entry.status = reply.status
  ctx.log.push(entry)
  res.writeHead(reply.status, { 'access-control-allow-origin': '*', ...reply.headers })
  res.end(reply.body)
}

function authError(header: string | undefined, token: string | undefined): string | undefined {
  if (token === undefined) return undefined
  if (header === undefined) return 'The `Authorization` HTTP header is required but was not specified'
  const space = header.indexOf(' ')
  if (space < 0) return 'The `Authorization` HTTP header has invalid value'
  if (header.slice(0, space).toLowerCase() !== 'bearer') {
    return 'The authentication scheme in the `Authorization` HTTP header is not supported'
  }
  return header.slice(space + 1) === token ? undefined : 'The JWT is invalid'
}

const jsonReply = (status: number, body: string): Reply => ({ status, headers: { 'content-type': 'application/json' }, body })

function errorReply(error: unknown, encoding: Encoding): Reply {
  if (error instanceof ProtocolError) return { status: 400, headers: { 'content-type': 'text/plain' }, body: error.message }
  if (error instanceof StreamExpiredError) {
    const e = { message: error.message, code: 'STREAM_EXPIRED' }
    if (encoding === 'json') return jsonReply(500, JSON.stringify(errorToJson(e)))
    const w = new PbWriter()
    pbError(w, e)
    return { status: 500, headers: { 'content-type': 'application/x-protobuf' }, body: w.finish() }
  }
  const message = error instanceof Error ? error.message : String(error)
  return jsonReply(500, JSON.stringify({ error: `Internal Error: \`${message}\`` }))
}

async function hrana(
  req: IncomingMessage,
  body: Buffer,
  { version, encoding, cursor }: { version: Version; encoding: Encoding; cursor: boolean },
  ctx: Context,
  entry: HranaLogEntry,
): Promise<Reply> {
  const denied = authError(req.headers.authorization, ctx.authToken)
  if (denied) return jsonReply(401, JSON.stringify({ error: `Unauthorized: \`${denied}\`` }))
  try {
    if (cursor) {
      entry.requests = ['cursor']
      return await cursorRequest(encoding === 'json' ? jsonToCursorReq(body) : pbToCursorReq(body), version, encoding, ctx)
    }
    const request = encoding === 'json' ? jsonToPipeline(body) : pbToPipeline(body)
    entry.requests = request.requests.map((r) => r.type)
    const stream = await ctx.streams.acquire(request.baton)
    const results: StreamResult[] = []
    try {
      for (const r of request.requests) {
        try {
          results.push({ type: 'ok', response: await handleRequest(stream, r, version) })
        } catch (error) {
          if (!(error instanceof ResponseError)) throw error
          results.push({ type: 'error', error: error.error })
        }
      }
    } catch (error) {
      await ctx.streams.drop(stream)
      throw error
    }
    const response: PipelineResp = { baton: ctx.streams.release(stream), results }
    if (encoding === 'json') return jsonReply(200, pipelineToJson(response))
    return { status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: pipelineToPb(response) }
  } catch (error) {
    return errorReply(error, encoding)
  }
}

/** sqld's handle_cursor: the response body is the CursorRespBody, then one entry per cursor event. */
async function cursorRequest(
  request: { baton?: string; steps: BatchStep[] },
  version: Version,
  encoding: Encoding,
  ctx: Context,
): Promise<Reply> {
  const stream = await ctx.streams.acquire(request.baton)
  const entries: CursorEntry[] = []
  try {
    const conn = connectionOf(stream)
    let program: ProgramStep[]
    try {
      program = await batchToProgram(conn, request.steps, stream.sqls, version)
    } catch (error) {
      // a statement error here is not caught by sqld's cursor handler: it becomes an internal error
      throw error instanceof ResponseError ? new InternalError(error.message) : error
    }
    await runProgram(conn, program, (entry) => entries.push(entry))
  } catch (error) {
    await ctx.streams.drop(stream)
    throw error
  }
  const baton = ctx.streams.release(stream)
  if (encoding === 'json') {
    const lines = [JSON.stringify({ baton, base_url: null }), ...entries.map(cursorEntryToJson)]
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: lines.map((line) => `${line}\n`).join('') }
  }
  const head = new PbWriter()
  if (baton !== null) head.string(1, baton)
  const body = Buffer.concat([head.delimited(), ...entries.map(cursorEntryToPb)])
  return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body }
}

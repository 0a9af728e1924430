// A stand-in for Cloudflare's D1 REST API, for testing the D1 backend over real HTTP.
//
// Cloudflare's API (api.cloudflare.com) cannot be reached from these machines, so nothing here was
// checked against the live service. The database is real: miniflare 4 runs workerd's D1 (SQLite in
// a Durable Object, with D1's SQL authorizer), and a small module worker serves the REST shape over
// its binding. Shapes come from Cloudflare's API reference and OpenAPI-derived schemas for
// `POST /accounts/{account_id}/d1/database/{database_id}/query` and `/raw`, and from error bodies
// quoted in public issue threads (cloudflare/workers-sdk #3977, #4636, #15467; cloudflare-typescript
// #161; cloudflare-python #2678; cloudflare-docs #13934).
//
// Served, and how faithfully:
// - POST {baseUrl}/accounts/:account/d1/database/:db/query and /raw, body `{ sql, params? }` or
//   `{ batch: [{ sql, params? }, ...] }`. Success: 200 `{ result, success: true, errors: [],
//   messages: [] }`, `result` holding one `{ results, success, meta }` per statement; /raw gives
//   `results: { columns, rows }` (duplicate column names kept). `meta` is D1's own as miniflare reports
//   it (changed_db, changes, duration, last_row_id, rows_read, rows_written, size_after, plus
//   `served_by: "miniflare.db"`); the real API also sends served_by_region/colo/primary and timings.
// - A `sql` string holding several statements is split here (quotes, comments and CREATE TRIGGER
//   ... BEGIN ... END bodies respected) and run as one atomic batch with one result per statement,
//   as the reference says ("executed as a batch"). `params` go to the last statement of the string
//   (the rule D1's own engine states). The whole `batch` form is one atomic D1 batch, as on D1.
//   DB.exec is not used: it splits on newlines and returns no rows.
// - /query runs through the public binding (`prepare().bind().all()`, `batch()`). /raw needs column
//   names with rows and meta together, which the public binding never returns at once, so it posts
//   the same statements to the binding's own transport (`env.DB.fetcher`, `resultsFormat=
//   ROWS_AND_COLUMNS`, exactly what `batch()` and `raw()` send inside workerd). Params are converted
//   as the binding does (booleans to 1/0; objects refused) on both routes.
// - Errors (HTTP status, then body):
//   * no Authorization header: 400 `{ success: false, errors: [{ code: 9106, "Missing X-Auth-Key,
//     X-Auth-Email or Authorization headers" }] }` (seen in issues).
//   * Authorization not `Bearer <token>`: 400, code 6003 "Invalid request headers" with
//     `error_chain: [{ code: 6111, "Invalid format for Authorization header" }]` (seen in issues).
//   * wrong token: 403, code 10000 "Authentication error" (seen; some endpoints are reported to use
//     401 instead).
//   * wrong account: 403, code 7403 "The given account is not valid or is not authorized to access
//     this service" (seen on /d1/database/:db/query).
//   * database id that is not a UUID: 400, code 7400 "The request is malformed: failed to decode id"
//     (seen). A UUID that is not this database: 404, code 7404 "The database <id> could not be found"
//     (NOT verified: status and code are a guess). A body that is not `{ sql }` / `{ batch }`: 400,
//     code 7400 "The request is malformed: ..." (wording ours).
//   * SQL error: 400, code 7500, the SQLite message as D1 words it (`near "selec": syntax error at
//     offset 0: SQLITE_ERROR`), without the Workers binding's `D1_ERROR: ` prefix (400 since April
//     2024 per D1's changelog; before that 500). Nothing of a failing batch is kept.
//   * unknown path: 404, codes 7003/7000 "No route for that URI"; other methods: 405, code 7001
//     (both from memory of the API's general behaviour, not checked here).
//   * rate limited (only when a test asks, see `rateLimitNext`): 429 with `Retry-After: <seconds>`,
//     code 971 "Please wait and consider throttling your request speed" (code from memory).
//   Every error body except 9106 has `result: null` and `messages: []`, as the quoted bodies do.
// - CORS: OPTIONS preflights get 204, and every response carries Access-Control-Allow-Origin: * and
//   exposes Retry-After, so a page on another 127.0.0.1 port in Chromium can call it. The real API
//   does not promise CORS; this is for the browser test harness only.
// Not served: every other Cloudflare endpoint, X-Auth-Email/X-Auth-Key auth, token permissions,
// read replicas and bookmarks, D1's size and time limits.
import { randomBytes, randomUUID } from 'node:crypto'
import { Miniflare, Response as MfResponse } from 'miniflare'

/** Options for {@link startD1Server}. */
export interface D1ServerOptions {
  /** The API token requests must send as `Authorization: Bearer <apiToken>`. */
  apiToken: string
  /** Account id in the path. @default 32 random hex characters */
  accountId?: string
  /** Database id (UUID) in the path; also names the persisted database. @default a random UUID */
  databaseId?: string
  /** Directory where D1 keeps its SQLite files across restarts. @default in memory */
  persistTo?: string
}

/** One request the server answered (preflights included). */
export interface D1LogEntry {
  method: string
  path: string
  status: number
  /** SQL statements the request ran or tried to run (0 when refused before SQL). */
  statements: number
}

/** The subset of a D1 prepared statement the tests use. */
export interface D1StatementLike {
  bind(...values: unknown[]): D1StatementLike
  all<T = Record<string, unknown>>(): Promise<D1ResultLike<T>>
  run<T = Record<string, unknown>>(): Promise<D1ResultLike<T>>
  first<T = Record<string, unknown>>(column?: string): Promise<T | null>
  raw<T = unknown[]>(options?: { columnNames?: boolean }): Promise<T[]>
}

/** What D1 returns for one statement. */
export interface D1ResultLike<T = Record<string, unknown>> {
  results: T[]
  success: boolean
  meta: Record<string, unknown>
}

/** The subset of a D1 database binding (`D1Database`) the tests use. */
export interface D1BindingLike {
  prepare(sql: string): D1StatementLike
  batch<T = Record<string, unknown>>(statements: D1StatementLike[]): Promise<D1ResultLike<T>[]>
  exec(sql: string): Promise<{ count: number; duration: number }>
}

/** A running D1 REST stand-in. */
export interface D1Server {
  /** e.g. `http://127.0.0.1:PORT/client/v4`; append `/accounts/:account/d1/database/:db/query`. */
  baseUrl: string
  accountId: string
  databaseId: string
  /** The same database through the Workers binding (miniflare's `getD1Database('DB')`). */
  binding(): Promise<D1BindingLike>
  /** Every answered request, oldest first. */
  log: D1LogEntry[]
  /** Answer the next `count` requests (preflights excluded) with 429 and `Retry-After`. */
  rateLimitNext(count: number, retryAfterSeconds: number): void
  /** Stop workerd; safe to call twice. */
  close(): Promise<void>
}

/**
 * Start the server on 127.0.0.1 on a free port (~0.2 s).
 *
 * @example
 * const d1 = await startD1Server({ apiToken: 'test-token' })
 * await fetch(`${d1.baseUrl}/accounts/${d1.accountId}/d1/database/${d1.databaseId}/query`, {
 *   method: 'POST', headers: { Authorization: 'Bearer test-token' }, body: JSON.stringify({ sql: 'SELECT 1' }) })
 * await d1.close()
 */
export async function startD1Server(options: D1ServerOptions): Promise<D1Server> {
  const accountId = options.accountId ?? randomBytes(16).toString('hex')
  const databaseId = options.databaseId ?? randomUUID()
  const log: D1LogEntry[] = []
  const limit = { remaining: 0, retryAfter: 0 }

  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    modules: true,
    script: WORKER,
    compatibilityDate: '2025-09-01',
    bindings: { CONFIG: { apiToken: options.apiToken, accountId, databaseId } },
    d1Databases: { DB: databaseId },
    d1Persist: options.persistTo ?? false,
    serviceBindings: {
      // The worker asks Node, per request, whether to answer 429, and reports what it answered.
      CONTROL: async (request: { url: string; json(): Promise<unknown> }) => {
        const path = new URL(request.url).pathname
        if (path === '/gate') {
          let retryAfter: number | null = null
          if (limit.remaining > 0) {
            limit.remaining--
            retryAfter = limit.retryAfter
          }
          return new MfResponse(JSON.stringify({ retryAfter }))
        }
        if (path === '/log') {
          log.push((await request.json()) as D1LogEntry)
          return new MfResponse('ok')
        }
        return new MfResponse('unknown control path', { status: 404 })
      },
    },
  })
  let url: URL
  try {
    url = await mf.ready
  } catch (error) {
    await mf.dispose().catch(() => undefined)
    throw error
  }

  let closed: Promise<void> | undefined
  let binding: Promise<D1BindingLike> | undefined
  return {
    baseUrl: new URL('/client/v4', url).href,
    accountId,
    databaseId,
    binding: () => (binding ??= mf.getD1Database('DB') as Promise<D1BindingLike>),
    log,
    rateLimitNext(count, retryAfterSeconds) {
      limit.remaining = count
      limit.retryAfter = retryAfterSeconds
    },
    close: () => (closed ??= mf.dispose()),
  }
}

// The module worker. String.raw keeps its regular expressions and escapes as written; it must hold
// no backtick and no dollar-brace.
const WORKER = String.raw`
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type',
  'Access-Control-Expose-Headers': 'Retry-After',
  'Access-Control-Max-Age': '600',
};
const ROUTE = /^\/client\/v4\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/(query|raw)\/?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class ApiError extends Error {
  constructor(status, body, statements = 0) {
    super(body.errors[0].message);
    this.status = status;
    this.body = body;
    this.statements = statements;
  }
}
const envelope = (code, message, extra) => ({
  result: null, success: false, errors: [Object.assign({ code, message }, extra)], messages: [],
});
const fail = (status, code, message, extra) => new ApiError(status, envelope(code, message, extra));
const malformed = (detail) => fail(400, 7400, 'The request is malformed: ' + detail);

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === 'OPTIONS') {
      await report(env, request, url, 204, 0);
      return new Response(null, { status: 204, headers: CORS });
    }
    const gate = await (await env.CONTROL.fetch('http://control/gate', { method: 'POST' })).json();
    let status = 200, body, headers = {}, statements = 0;
    if (gate.retryAfter !== null) {
      status = 429;
      body = envelope(971, 'Please wait and consider throttling your request speed');
      headers['Retry-After'] = String(gate.retryAfter);
    } else {
      try {
        ({ body, statements } = await handle(request, url, env));
      } catch (e) {
        if (e instanceof ApiError) ({ status, body, statements } = e);
        else { status = 500; body = envelope(7500, 'Internal error: ' + String((e && e.message) || e)); }
      }
    }
    await report(env, request, url, status, statements);
    return new Response(JSON.stringify(body), {
      status, headers: Object.assign({ 'Content-Type': 'application/json' }, CORS, headers),
    });
  },
};

async function report(env, request, url, status, statements) {
  const entry = { method: request.method, path: url.pathname, status, statements };
  await env.CONTROL.fetch('http://control/log', { method: 'POST', body: JSON.stringify(entry) });
}

async function handle(request, url, env) {
  const cfg = env.CONFIG;
  const route = ROUTE.exec(url.pathname);
  if (!route) {
    throw new ApiError(404, {
      result: null, success: false, messages: [],
      errors: [
        { code: 7003, message: 'Could not route to ' + url.pathname + ', perhaps your object identifier is invalid?' },
        { code: 7000, message: 'No route for that URI' },
      ],
    });
  }
  if (request.method !== 'POST') throw fail(405, 7001, 'Method ' + request.method + ' not available for that URI.');
  checkAuth(request.headers.get('Authorization'), cfg.apiToken);
  const [, account, database, kind] = route;
  if (account !== cfg.accountId) {
    throw fail(403, 7403, 'The given account is not valid or is not authorized to access this service');
  }
  if (!UUID.test(database)) throw malformed('failed to decode id');
  if (database.toLowerCase() !== cfg.databaseId.toLowerCase()) {
    throw fail(404, 7404, 'The database ' + database + ' could not be found');
  }
  const statements = parseBody(await request.text());
  try {
    const result = kind === 'raw' ? await runRaw(env.DB, statements) : await runQuery(env.DB, statements);
    return { body: { result, success: true, errors: [], messages: [] }, statements: statements.length };
  } catch (e) {
    if (e instanceof ApiError) throw e;
    const message = String((e && e.message) || e).replace(/^D1_ERROR: /, '');
    throw new ApiError(400, envelope(7500, message), statements.length);
  }
}

function checkAuth(header, token) {
  if (header === null) {
    throw new ApiError(400, {
      success: false, errors: [{ code: 9106, message: 'Missing X-Auth-Key, X-Auth-Email or Authorization headers' }],
    });
  }
  const match = /^Bearer (\S+)$/.exec(header);
  if (!match) {
    throw fail(400, 6003, 'Invalid request headers', {
      error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
    });
  }
  if (match[1] !== token) throw fail(403, 10000, 'Authentication error');
}

function parseBody(text) {
  let body;
  try { body = JSON.parse(text); } catch { throw malformed('the body is not JSON'); }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw malformed('the body must be an object');
  const items = body.batch !== undefined ? body.batch : [body];
  if (!Array.isArray(items) || items.length === 0) throw malformed('batch must be a non-empty array');
  const out = [];
  for (const item of items) {
    if (item === null || typeof item !== 'object' || typeof item.sql !== 'string') throw malformed('sql must be a string');
    if (item.params !== undefined && !Array.isArray(item.params)) throw malformed('params must be an array');
    const params = (item.params || []).map(toD1Value);
    const pieces = splitStatements(item.sql);
    if (pieces.length === 0) pieces.push(item.sql); // let D1 say what is wrong with it
    pieces.forEach((sql, i) => out.push({ sql, params: i === pieces.length - 1 ? params : [] }));
  }
  return out;
}

// As the Workers binding converts values before they reach D1.
function toD1Value(value) {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  throw fail(400, 7500, "D1_TYPE_ERROR: Type '" + typeof value + "' not supported for value '" + JSON.stringify(value) + "'");
}

async function runQuery(db, statements) {
  const prepared = statements.map((s) => db.prepare(s.sql).bind(...s.params));
  const results = prepared.length === 1 ? [await prepared[0].all()] : await db.batch(prepared);
  return results.map((r) => ({ results: r.results || [], success: r.success, meta: r.meta }));
}

async function runRaw(db, statements) {
  if (!db.fetcher) throw new Error('the D1 binding has no fetcher: miniflare changed, /raw needs updating');
  const response = await db.fetcher.fetch('http://d1/query?resultsFormat=ROWS_AND_COLUMNS', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(statements),
  });
  const text = await response.text();
  let answer;
  try { answer = JSON.parse(text); } catch { throw new Error('D1 answered ' + response.status + ': ' + text.slice(0, 200)); }
  if (!Array.isArray(answer)) throw new Error(answer.error || 'D1 answered without results');
  const failed = answer.find((r) => !r.success);
  if (failed) throw new Error(failed.error || 'statement failed');
  return answer.map((r) => ({
    results: { columns: (r.results && r.results.columns) || [], rows: (r.results && r.results.rows) || [] },
    success: r.success,
    meta: r.meta,
  }));
}

// Split a SQL string into statements on top-level semicolons, skipping quotes, brackets, comments,
// and the BEGIN ... END body of CREATE TRIGGER (CASE ... END nests inside it). Empty pieces and
// comment-only pieces are dropped.
function splitStatements(sql) {
  const out = [];
  const n = sql.length;
  let start = 0, i = 0, words = [], depth = 0, hasToken = false;
  const isTrigger = () => words[0] === 'CREATE' &&
    (words[1] === 'TRIGGER' || ((words[1] === 'TEMP' || words[1] === 'TEMPORARY') && words[2] === 'TRIGGER'));
  const finish = (end) => {
    if (hasToken) out.push(sql.slice(start, end).trim());
    start = end + 1; words = []; depth = 0; hasToken = false;
  };
  while (i < n) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '\x60') {
      hasToken = true;
      i++;
      while (i < n) {
        if (sql[i] === c) { if (sql[i + 1] === c) { i += 2; continue; } break; }
        i++;
      }
      i++;
      continue;
    }
    if (c === '[') { hasToken = true; const j = sql.indexOf(']', i); i = j < 0 ? n : j + 1; continue; }
    if (c === '-' && sql[i + 1] === '-') { const j = sql.indexOf('\n', i); i = j < 0 ? n : j + 1; continue; }
    if (c === '/' && sql[i + 1] === '*') { const j = sql.indexOf('*/', i + 2); i = j < 0 ? n : j + 2; continue; }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$]/.test(sql[j])) j++;
      const word = sql.slice(i, j).toUpperCase();
      hasToken = true;
      if (words.length < 3) words.push(word);
      if (isTrigger()) {
        if (word === 'BEGIN' || word === 'CASE') depth++;
        else if (word === 'END') depth--;
      }
      i = j;
      continue;
    }
    if (c === ';' && depth <= 0) { finish(i); i++; continue; }
    if (!/\s/.test(c)) hasToken = true;
    i++;
  }
  finish(n);
  return out;
}
`

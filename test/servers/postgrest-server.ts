// A stand-in for a Supabase project's Data API (PostgREST behind Supabase's gateway), over a real
// PostgreSQL, for testing the supabase backend through the real @supabase/supabase-js.
//
// No PostgREST binary can be installed here (none on npm or Debian; the supabase CLI needs Docker),
// so this serves the subset of PostgREST the backend and its tests use, with PostgREST's semantics:
// the database, its roles, row-level security, SQL errors and SQLSTATEs are PostgreSQL's own.
//
// What @supabase/supabase-js 2.109 sends (recorded in test/supabase.conformance.test.ts from the
// backend's own traffic; test/servers/postgrest-server.test.ts drives each form below through
// supabase-js and checks it is served as described):
// - every request: `apikey: <key>`, `Authorization: Bearer <user access token, else the key>`,
//   `X-Client-Info: supabase-js/2.109.0; runtime=node; ...`; POST/PATCH also `Content-Type:
//   application/json` and `Content-Profile: public`, GET `Accept-Profile: public`. supabase-js adds
//   `X-Retry-Count` when it retries itself (the backend turns its retries off: the transport retries).
// - `supabase.rpc(fn, args)`: POST /rest/v1/rpc/<fn>, body the JSON object of named arguments.
//   Served as PostgREST does: the function is found by schema, name and argument names (PGRST202
//   404 if none matches), called with named arguments read from the body by `json_to_record`
//   with the function's own argument types (so a JSON string with \u0000 fails in PostgreSQL, as
//   there), in a READ ONLY transaction when the function is STABLE or IMMUTABLE. A scalar result
//   is the JSON of the value; a set or table result is a JSON array of rows (with Content-Range).
// - `from(table).select(cols).eq(..).in(..).order(..).limit(..)`: GET /rest/v1/<table>?select=
//   &col=op.value&order=col.asc&limit=n. `insert(rows)` / `upsert(rows, { onConflict })`: POST with
//   `Prefer: return=minimal|representation` and `resolution=merge-duplicates|ignore-duplicates`,
//   `?columns="a","b"&on_conflict=...` (quoted names); `update(values)`: PATCH; `delete()`: DELETE, both with filters.
//   Operators served: eq, neq, gt, gte, lt, lte, is (null, true, false), in (with PostgREST's
//   double-quoted list items). Unknown tables are PGRST205 404.
// - CORS preflights (browsers): answered 200 with the requested headers allowed, as Supabase does.
//
// Authentication, as Supabase layers it:
// - The gateway: `apikey` must be this project's anon or service_role key, else 401 `{"message":
//   "Invalid API key", "hint": ...}` ("No API key found in request" when absent): Kong's bodies,
//   which carry no `code`. An opaque anon key (a newer publishable key) sent as the bearer token
//   means the anon role, as the gateway makes it.
// - PostgREST: `Authorization: Bearer <JWT>` verified as HS256 with the project's JWT secret
//   (node:crypto HMAC, constant-time compare; `exp` checked); any failure is 401 PGRST301 with
//   `WWW-Authenticate: Bearer error="invalid_token"`. No Authorization header: the anon role. The
//   `role` claim becomes the transaction's role (`set_config('role', ...)`, as PostgREST does), and
//   the claims go to `request.jwt.claims`, so `auth.uid()` and row-level security really apply.
//   The server connects as `authenticator` (LOGIN NOINHERIT, member of anon, authenticated and
//   service_role), as PostgREST does on Supabase; service_role has BYPASSRLS there and here.
// - Each request runs in its own transaction; errors roll it back and answer PostgREST's status for
//   the SQLSTATE (see statusFor) with `{ code, details, hint, message }`; 42501 is 401 for the anon
//   role, 403 otherwise.
//
// `prepareSupabaseDatabase` gives a plain PostgreSQL what a Supabase project has before any user SQL:
// the anon, authenticated, service_role and authenticator roles, the `auth` schema with auth.uid(),
// auth.role() and auth.jwt() reading `request.jwt.claims`, and Supabase's default privileges (new
// tables and functions in public granted to anon, authenticated and service_role).
//
// Not served: embedding, `or=`/`not.`/`like`/full-text filters, Range headers, counts, singular
// (`.single()`) answers, GET rpc, PUT, CSV, the Auth, Storage, Realtime and Functions APIs.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'

export interface PostgrestServerOptions {
  /** Superuser URL of the database to serve; the server prepares it (roles, auth schema) once. */
  adminUrl: string
  /** SQL run by the superuser after preparing, e.g. supabase/agent-ltm.sql. */
  setupSql?: string
  /** The project's JWT secret. @default random */
  jwtSecret?: string
  /**
   * The anon key. @default a JWT with role anon, signed with the secret (Supabase's legacy keys). An
   * opaque string stands for one of Supabase's newer publishable keys (`sb_publishable_...`): the
   * gateway accepts it as `apikey`, and as a bearer token it means the anon role.
   */
  anonKey?: string
}

export interface RequestLogEntry {
  method: string
  /** Path and query string as received. */
  path: string
  /** Request headers, lower-case, with apikey and authorization replaced by what they carried (`anon key`, `jwt role=authenticated`). */
  headers: Record<string, string>
  body: string
  status: number
  /** PostgREST or SQLSTATE code of an error answer. */
  code: string | null
}

export interface PostgrestServer {
  /** The project URL to give supabase-js (`http://127.0.0.1:PORT`); the Data API is at /rest/v1. */
  url: string
  anonKey: string
  serviceRoleKey: string
  jwtSecret: string
  /** A signed-in user's access token: role `authenticated`, `sub` the user id, valid for an hour. */
  userToken(userId?: string, claims?: Record<string, unknown>): string
  /** Signs any claims with the project's secret (HS256). */
  sign(claims: Record<string, unknown>): string
  log: RequestLogEntry[]
  /** Runs SQL as the superuser on the served database. */
  adminQuery(sql: string, values?: unknown[]): Promise<pg.QueryResult>
  close(): Promise<void>
}

const EXPOSED_SCHEMAS = ['public']
const ANON_ROLE = 'anon'

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message))
  }
}

const pgrstError = (status: number, code: string, message: string, details: string | null = null, hint: string | null = null): ApiError =>
  new ApiError(status, { code, details, hint, message })

// ---------------------------------------------------------------- JWT (HS256)

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url')

export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
  const body = base64url(JSON.stringify(claims))
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')
  return `${head}.${body}.${signature}`
}

/** The verified claims, or a PGRST301 error as PostgREST words it. */
function verifyJwt(token: string, secret: string, nowSeconds: number): Record<string, unknown> {
  const invalid = (message: string): ApiError =>
    new ApiError(401, { code: 'PGRST301', details: null, hint: null, message }, { 'www-authenticate': `Bearer error="invalid_token", error_description="${message}"` })
  const parts = token.split('.')
  if (parts.length !== 3) throw invalid(`JWSError (CompactDecodeError Invalid number of parts: Expected 3 parts; got ${parts.length})`)
  let header: { alg?: unknown }
  let claims: Record<string, unknown>
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: unknown }
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
  } catch {
    throw invalid('JWSError (CompactDecodeError Invalid JSON)')
  }
  if (header.alg !== 'HS256') throw invalid('JWSError JWSInvalidSignature')
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest()
  const given = Buffer.from(parts[2]!, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('JWSError JWSInvalidSignature')
  if (typeof claims.exp === 'number' && claims.exp <= nowSeconds) throw invalid('JWT expired')
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw invalid('JWSError (CompactDecodeError Invalid JSON)')
  return claims
}

// ---------------------------------------------------------------- errors

/** PostgREST's HTTP status for a SQLSTATE (docs/references/errors.rst). */
export function statusFor(sqlstate: string, authenticated: boolean): number {
  if (sqlstate === '42501') return authenticated ? 403 : 401
  if (/^PT\d{3}$/.test(sqlstate)) return Number(sqlstate.slice(2))
  const exact: Record<string, number> = { '23503': 409, '23505': 409, '25006': 405, '53400': 500, P0001: 400, '42883': 404, '42P01': 404, '42P17': 500 }
  if (exact[sqlstate]) return exact[sqlstate]!
  const prefixes: Array<[string, number]> = [
    ['08', 503], ['09', 500], ['0L', 403], ['0P', 403], ['25', 500], ['28', 403], ['2D', 500], ['38', 500], ['39', 500], ['3B', 500],
    ['40', 500], ['53', 503], ['54', 500], ['55', 500], ['57', 500], ['58', 500], ['F0', 500], ['HV', 500], ['P0', 500], ['XX', 500],
  ]
  for (const [prefix, status] of prefixes) if (sqlstate.startsWith(prefix)) return status
  return 400
}

function databaseError(error: unknown, authenticated: boolean): ApiError {
  const e = error as { code?: string; message?: string; detail?: string; hint?: string }
  if (typeof e?.code !== 'string') return pgrstError(500, 'PGRSTX00', `Database client error. Retrying the connection. ${e?.message ?? String(error)}`)
  return new ApiError(statusFor(e.code, authenticated), { code: e.code, details: e.detail ?? null, hint: e.hint ?? null, message: e.message ?? '' })
}

// ---------------------------------------------------------------- SQL helpers

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`
/** A column list of the query string (`select=a,b`, `columns="a","b"`): names, optionally double-quoted. */
const columnList = (text: string): string[] => text.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'))

interface FunctionInfo {
  schema: string
  name: string
  args: Array<{ name: string; type: string; hasDefault: boolean }>
  returnsSet: boolean
  /** STABLE or IMMUTABLE: PostgREST runs it in a READ ONLY transaction. */
  readOnly: boolean
}

async function findFunctions(client: pg.PoolClient, schema: string, name: string): Promise<FunctionInfo[]> {
  const { rows } = await client.query<{ argnames: string[] | null; argtypes: string[]; nargdefaults: number; proretset: boolean; provolatile: string; prorettype: string }>(
    `SELECT p.proargnames AS argnames, ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) AS t) AS argtypes,
            p.pronargdefaults AS nargdefaults, p.proretset, p.provolatile, format_type(p.prorettype, NULL) AS prorettype
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = $2 AND p.prokind = 'f'`,
    [schema, name],
  )
  return rows.map((row) => {
    const count = row.argtypes.length
    return {
      schema,
      name,
      args: row.argtypes.map((type, i) => ({ name: row.argnames?.[i] ?? '', type, hasDefault: i >= count - row.nargdefaults })),
      returnsSet: row.proretset,
      readOnly: row.provolatile !== 'v',
    }
  })
}

interface Filter {
  column: string
  sql: (param: (value: unknown) => string) => string
}

/** One PostgREST filter (`col=op.value`) of the subset served, on a column of `table` (qualified, as PostgREST writes it). */
function parseFilter(table: string, column: string, expression: string): Filter {
  const dot = expression.indexOf('.')
  const op = dot < 0 ? expression : expression.slice(0, dot)
  const value = dot < 0 ? '' : expression.slice(dot + 1)
  const col = `${table}.${ident(column)}`
  const comparisons: Record<string, string> = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' }
  if (comparisons[op]) return { column, sql: (param) => `${col} ${comparisons[op]} ${param(value)}` }
  if (op === 'is') {
    const literal = { null: 'NULL', true: 'TRUE', false: 'FALSE', unknown: 'UNKNOWN' }[value.toLowerCase()]
    if (!literal) throw pgrstError(400, 'PGRST100', `"failed to parse filter (is.${value})" (line 1, column 4)`, 'unexpected "' + value + '" expecting null or trilean value (unknown, true, false)')
    return { column, sql: () => `${col} IS ${literal}` }
  }
  if (op === 'in') {
    if (!value.startsWith('(') || !value.endsWith(')')) throw pgrstError(400, 'PGRST100', `"failed to parse filter (in.${value})" (line 1, column 4)`)
    const items = parseInList(value.slice(1, -1))
    return { column, sql: (param) => (items.length === 0 ? 'FALSE' : `${col} IN (${items.map((item) => param(item)).join(', ')})`) }
  }
  throw pgrstError(400, 'PGRST100', `"failed to parse filter (${expression})" (line 1, column ${op.length + 1})`, `unexpected "${op}" expecting an operator`)
}

/** PostgREST's in-list: items separated by commas; an item in double quotes may hold commas and parentheses, with \" and \\ escapes. */
function parseInList(text: string): string[] {
  const items: string[] = []
  let i = 0
  while (i <= text.length) {
    let item = ''
    if (text[i] === '"') {
      i++
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++
        item += text[i++]
      }
      i++ // closing quote
    } else {
      while (i < text.length && text[i] !== ',') item += text[i++]
    }
    items.push(item)
    if (text[i] !== ',') break
    i++
  }
  return text === '' ? [] : items
}

// ---------------------------------------------------------------- Supabase's database setup

/** Roles, the auth schema and default privileges as a Supabase project has them (idempotent). */
export async function prepareSupabaseDatabase(admin: pg.Client, authenticatorPassword: string): Promise<void> {
  await admin.query(`
    DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN NOINHERIT; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN NOINHERIT; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS; END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN CREATE ROLE authenticator LOGIN NOINHERIT; END IF;
    END $$;
    GRANT anon, authenticated, service_role TO authenticator;
    CREATE SCHEMA IF NOT EXISTS auth;
    CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
      SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''), nullif(current_setting('request.jwt.claims', true), ''))::jsonb
    $$;
    CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
      SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
    $$;
    CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
      SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''), (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
    $$;
    GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO anon, authenticated, service_role;
    GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
  `)
  await admin.query(`ALTER ROLE authenticator PASSWORD '${authenticatorPassword.replace(/'/g, "''")}'`)
}

// ---------------------------------------------------------------- the server

interface RequestContext {
  role: string
  claims: Record<string, unknown>
  method: string
  path: string
  headers: Record<string, string>
}

export async function startPostgrestServer(options: PostgrestServerOptions): Promise<PostgrestServer> {
  const jwtSecret = options.jwtSecret ?? randomBytes(32).toString('hex')
  const issuedAt = Math.floor(Date.now() / 1000)
  const longLived = { iss: 'supabase', iat: issuedAt, exp: issuedAt + 10 * 365 * 24 * 3600 }
  const anonKey = options.anonKey ?? signJwt({ ...longLived, role: 'anon' }, jwtSecret)
  const serviceRoleKey = signJwt({ ...longLived, role: 'service_role' }, jwtSecret)
  const authenticatorPassword = randomBytes(16).toString('hex')

  const admin = new pg.Client({ connectionString: options.adminUrl })
  await admin.connect()
  try {
    await prepareSupabaseDatabase(admin, authenticatorPassword)
    if (options.setupSql) await admin.query(options.setupSql)
  } finally {
    await admin.end()
  }
  const adminUrl = new URL(options.adminUrl)
  const serverUrl = new URL(options.adminUrl)
  serverUrl.username = 'authenticator'
  serverUrl.password = authenticatorPassword
  const pool = new pg.Pool({ connectionString: serverUrl.toString(), max: 10 })
  pool.on('error', () => undefined) // a connection ended by a test's database restart: the next request reconnects
  const log: RequestLogEntry[] = []

  function keyKind(value: string | undefined): string {
    if (value === undefined) return '(none)'
    if (value === anonKey) return 'anon key'
    if (value === serviceRoleKey) return 'service_role key'
    return 'unknown key'
  }

  /** The gateway's key check, then PostgREST's JWT check: the role and claims of the request. */
  function authenticate(request: IncomingMessage): { role: string; claims: Record<string, unknown> } {
    const apikey = request.headers.apikey
    if (typeof apikey !== 'string' || apikey === '') throw new ApiError(401, { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' })
    if (apikey !== anonKey && apikey !== serviceRoleKey) throw new ApiError(401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' })
    const authorization = request.headers.authorization
    if (authorization === undefined) return { role: ANON_ROLE, claims: { role: ANON_ROLE } }
    const match = /^Bearer\s+(.+)$/i.exec(authorization)
    if (!match) throw pgrstError(401, 'PGRST301', 'JWSError (CompactDecodeError Invalid number of parts: Expected 3 parts; got 1)')
    const token = match[1]!.trim()
    // The gateway stands in for an opaque key sent as the bearer token (supabase-js does when no user is signed in).
    if (token === anonKey && token.split('.').length !== 3) return { role: ANON_ROLE, claims: { role: ANON_ROLE } }
    const claims = verifyJwt(token, jwtSecret, Math.floor(Date.now() / 1000))
    const role = typeof claims.role === 'string' && claims.role !== '' ? claims.role : ANON_ROLE
    return { role, claims }
  }

  /** Runs `work` in one transaction as the request's role with its claims, as PostgREST does. */
  async function inTransaction<T>(context: RequestContext, readOnly: boolean, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (error) {
      throw pgrstError(503, 'PGRST000', `Database connection error. Retrying the connection.`, (error as Error).message)
    }
    let release: boolean | Error = false
    try {
      await client.query(readOnly ? 'BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY' : 'BEGIN ISOLATION LEVEL READ COMMITTED')
      try {
        await client.query(
          `SELECT set_config('search_path', '"public", "extensions"', true), set_config('role', $1, true),
                  set_config('request.jwt.claims', $2, true), set_config('request.method', $3, true),
                  set_config('request.path', $4, true), set_config('request.headers', $5, true)`,
          [context.role, JSON.stringify(context.claims), context.method, context.path, JSON.stringify(context.headers)],
        )
        const result = await work(client)
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined)
        if (error instanceof ApiError) throw error
        throw databaseError(error, context.role !== ANON_ROLE)
      }
    } catch (error) {
      if (!(error instanceof ApiError)) release = error as Error
      throw error
    } finally {
      client.release(release === false ? undefined : release)
    }
  }

  function schemaOf(request: IncomingMessage, method: string): string {
    const header = method === 'GET' || method === 'HEAD' ? request.headers['accept-profile'] : request.headers['content-profile']
    const schema = typeof header === 'string' && header !== '' ? header : EXPOSED_SCHEMAS[0]!
    if (!EXPOSED_SCHEMAS.includes(schema)) throw pgrstError(406, 'PGRST106', `The schema must be one of the following: ${EXPOSED_SCHEMAS.join(', ')}`)
    return schema
  }

  function parseBody(body: string): unknown {
    try {
      return JSON.parse(body)
    } catch {
      throw pgrstError(400, 'PGRST102', 'Empty or invalid json')
    }
  }

  async function rpc(request: IncomingMessage, context: RequestContext, name: string, body: string): Promise<{ status: number; body: string; headers: Record<string, string> }> {
    if (context.method !== 'POST') throw pgrstError(405, 'PGRST101', 'Only GET and POST verbs are allowed for functions (this server serves POST)')
    const schema = schemaOf(request, context.method)
    const args = body.trim() === '' ? {} : parseBody(body)
    if (!args || typeof args !== 'object' || Array.isArray(args)) throw pgrstError(400, 'PGRST102', 'Empty or invalid json')
    const given = Object.keys(args)
    // The schema cache lookup runs outside the request's transaction, as PostgREST's cache does.
    const lookup = await pool.connect()
    let candidates: FunctionInfo[]
    try {
      candidates = await findFunctions(lookup, schema, name)
    } finally {
      lookup.release()
    }
    const fn = candidates.find((candidate) => given.every((key) => candidate.args.some((arg) => arg.name === key)) && candidate.args.every((arg) => arg.hasDefault || given.includes(arg.name)))
    if (!fn) {
      const listed = [...given].sort().join(', ')
      throw pgrstError(
        404,
        'PGRST202',
        `Could not find the function ${schema}.${name}${listed ? `(${listed})` : ' without parameters'} in the schema cache`,
        `Searched for the function ${schema}.${name}${listed ? ` with parameters ${listed}` : ' without parameters'} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
        candidates.length > 0 ? `Perhaps you meant to call the function ${schema}.${name}(${candidates[0]!.args.map((a) => a.name).join(', ')})` : null,
      )
    }
    const used = fn.args.filter((arg) => given.includes(arg.name))
    const call = `${ident(schema)}.${ident(name)}(${used.map((arg) => `${ident(arg.name)} := _args.${ident(arg.name)}`).join(', ')})`
    const record = used.length > 0 ? `json_to_record($1::json) AS _args(${used.map((arg) => `${ident(arg.name)} ${arg.type}`).join(', ')})` : null
    const sql = fn.returnsSet
      ? `SELECT coalesce(json_agg(_pgrst_t), '[]')::text AS body, count(*) AS n FROM ${record ? `${record} CROSS JOIN LATERAL ` : ''}${call} AS _pgrst_t`
      : `SELECT to_json(${call})::text AS body${record ? ` FROM ${record}` : ''}`
    const values = used.length > 0 ? [body] : []
    const row = await inTransaction(context, fn.readOnly, async (client) => (await client.query<{ body: string | null; n?: string }>(sql, values)).rows[0])
    const headers: Record<string, string> = {}
    if (fn.returnsSet) {
      const n = Number(row?.n ?? 0)
      headers['content-range'] = n === 0 ? '*/*' : `0-${n - 1}/*`
    }
    return { status: 200, body: row?.body ?? 'null', headers }
  }

  async function table(request: IncomingMessage, context: RequestContext, name: string, query: URLSearchParams, body: string): Promise<{ status: number; body: string; headers: Record<string, string> }> {
    const schema = schemaOf(request, context.method)
    const known = await pool.query(`SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')`, [schema, name])
    if (known.rowCount === 0) throw pgrstError(404, 'PGRST205', `Could not find the table '${schema}.${name}' in the schema cache`)
    const target = `${ident(schema)}.${ident(name)}`
    const values: unknown[] = []
    const param = (value: unknown): string => {
      values.push(value)
      return `$${values.length}`
    }
    const reserved = new Set(['select', 'order', 'limit', 'offset', 'columns', 'on_conflict'])
    const filters: string[] = []
    for (const [column, expression] of query) if (!reserved.has(column)) filters.push(parseFilter(target, column, expression).sql(param))
    const where = filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''
    const select = query.get('select')
    const columns = !select || select === '*' ? '*' : columnList(select).map(ident).join(', ')
    const prefer = String(request.headers.prefer ?? '')
    const representation = /return=representation/.test(prefer)
    const wrap = (statement: string): string => `WITH _pgrst_rows AS (${statement}) SELECT coalesce(json_agg(_t), '[]')::text AS body, count(*) AS n FROM (SELECT ${columns} FROM _pgrst_rows) _t`

    let sql: string
    let success: number
    switch (context.method) {
      case 'GET': {
        const order = query.get('order')
        const orderBy = order
          ? `ORDER BY ${order.split(',').map((part) => {
              const [column, ...modifiers] = part.split('.')
              return `${ident(column!)}${modifiers.includes('desc') ? ' DESC' : ' ASC'}${modifiers.includes('nullsfirst') ? ' NULLS FIRST' : modifiers.includes('nullslast') ? ' NULLS LAST' : ''}`
            }).join(', ')}`
          : ''
        const limit = query.get('limit') !== null ? `LIMIT ${Number.parseInt(query.get('limit')!, 10)}` : ''
        const offset = query.get('offset') !== null ? `OFFSET ${Number.parseInt(query.get('offset')!, 10)}` : ''
        sql = `SELECT coalesce(json_agg(_t), '[]')::text AS body, count(*) AS n FROM (SELECT ${columns} FROM ${target} ${where} ${orderBy} ${limit} ${offset}) _t`
        success = 200
        break
      }
      case 'POST': {
        const payload = parseBody(body)
        const rows = Array.isArray(payload) ? payload : [payload]
        const listed = query.get('columns')
        const keys = listed ? columnList(listed) : Object.keys((rows[0] ?? {}) as object)
        const cols = keys.map(ident).join(', ')
        const source = `SELECT ${cols} FROM json_populate_recordset(NULL::${target}, ${param(JSON.stringify(rows))}::json)`
        let conflict = ''
        const onConflict = query.get('on_conflict')
        if (/resolution=(merge|ignore)-duplicates/.test(prefer)) {
          const target = onConflict ? `(${columnList(onConflict).map(ident).join(', ')})` : ''
          conflict = /resolution=merge-duplicates/.test(prefer)
            ? `ON CONFLICT ${target} DO UPDATE SET ${keys.map((k) => `${ident(k)} = EXCLUDED.${ident(k)}`).join(', ')}`
            : `ON CONFLICT ${target} DO NOTHING`
        }
        sql = wrap(`INSERT INTO ${target} (${cols}) ${source} ${conflict} RETURNING *`)
        success = 201
        break
      }
      case 'PATCH': {
        const payload = parseBody(body)
        if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw pgrstError(400, 'PGRST102', 'Empty or invalid json')
        const keys = Object.keys(payload)
        const sets = keys.map((k) => `${ident(k)} = _p.${ident(k)}`).join(', ')
        sql = wrap(`UPDATE ${target} SET ${sets} FROM (SELECT * FROM json_populate_record(NULL::${target}, ${param(JSON.stringify(payload))}::json)) _p ${where} RETURNING ${target}.*`)
        success = representation ? 200 : 204
        break
      }
      case 'DELETE':
        sql = wrap(`DELETE FROM ${target} ${where} RETURNING *`)
        success = representation ? 200 : 204
        break
      default:
        throw pgrstError(405, 'PGRST117', `Unsupported HTTP method: ${context.method}`)
    }
    const row = await inTransaction(context, context.method === 'GET', async (client) => (await client.query<{ body: string; n: string }>(sql, values)).rows[0])
    const n = Number(row?.n ?? 0)
    const headers: Record<string, string> = { 'content-range': n === 0 ? '*/*' : `0-${n - 1}/*` }
    if (context.method === 'POST' && !representation) return { status: 201, body: '', headers }
    if (context.method !== 'GET' && !representation) return { status: 204, body: '', headers }
    return { status: success === 204 ? 200 : success, body: row?.body ?? '[]', headers }
  }

  const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'Content-Range, Retry-After, WWW-Authenticate' }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const method = (request.method ?? 'GET').toUpperCase()
    const url = new URL(request.url ?? '/', 'http://localhost')
    const loggedHeaders: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value !== 'string') continue
      if (name === 'apikey') loggedHeaders[name] = keyKind(value)
      else if (name === 'authorization') {
        const token = /^Bearer\s+(.+)$/i.exec(value)?.[1]
        const kind = keyKind(token)
        loggedHeaders[name] = kind !== 'unknown key' ? `Bearer <${kind}>` : `Bearer <jwt role=${String(decodeClaims(token)?.role ?? '?')}>`
      } else loggedHeaders[name] = value
    }
    const entry: RequestLogEntry = { method, path: `${url.pathname}${url.search}`, headers: loggedHeaders, body, status: 0, code: null }
    const send = (status: number, text: string, headers: Record<string, string> = {}): void => {
      entry.status = status
      log.push(entry)
      response.writeHead(status, { ...cors, ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...headers })
      response.end(text)
    }
    try {
      if (method === 'OPTIONS') {
        entry.status = 200
        log.push(entry)
        response.writeHead(200, {
          ...cors,
          'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
          'access-control-allow-headers': String(request.headers['access-control-request-headers'] ?? '*'),
          'access-control-max-age': '600',
        })
        response.end()
        return
      }
      const match = /^\/rest\/v1\/(?:(rpc)\/)?([^/]+)$/.exec(url.pathname)
      if (!match) throw new ApiError(404, { message: 'no Route matched with those values' })
      const { role, claims } = authenticate(request)
      const context: RequestContext = { role, claims, method, path: url.pathname.slice('/rest/v1'.length), headers: Object.fromEntries(Object.entries(request.headers).filter(([, v]) => typeof v === 'string')) as Record<string, string> }
      const name = decodeURIComponent(match[2]!)
      const result = match[1] ? await rpc(request, context, name, body) : await table(request, context, name, url.searchParams, body)
      send(result.status, result.body, result.headers)
    } catch (error) {
      const apiError = error instanceof ApiError ? error : pgrstError(500, 'PGRSTX00', (error as Error).message)
      entry.code = typeof apiError.body.code === 'string' ? apiError.body.code : null
      send(apiError.status, JSON.stringify(apiError.body), apiError.headers)
    }
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, cors)
      response.end(JSON.stringify({ code: 'PGRSTX00', details: null, hint: null, message: String(error) }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url,
    anonKey,
    serviceRoleKey,
    jwtSecret,
    log,
    sign: (claims) => signJwt(claims, jwtSecret),
    userToken(userId = randomUUID(), claims = {}) {
      const now = Math.floor(Date.now() / 1000)
      return signJwt({ aud: 'authenticated', role: 'authenticated', sub: userId, iat: now, exp: now + 3600, ...claims }, jwtSecret)
    },
    async adminQuery(sql, values = []) {
      const client = new pg.Client({ connectionString: adminUrl.toString() })
      await client.connect()
      try {
        return await client.query(sql, values)
      } finally {
        await client.end()
      }
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await pool.end()
    },
  }
}

function decodeClaims(token: string | undefined): Record<string, unknown> | null {
  try {
    return JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
  } catch {
    return null
  }
}

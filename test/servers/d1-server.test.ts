// The D1 REST stand-in, over real HTTP (Node's fetch) against a real D1 database in miniflare.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startD1Server, type D1Server } from './d1-server.js'

const TOKEN = 'test-token_0123456789'

interface Envelope {
  result: unknown
  success: boolean
  errors: Array<{ code: number; message: string; error_chain?: Array<{ code: number; message: string }> }>
  messages?: unknown[]
}
interface Statement<R> {
  results: R
  success: boolean
  meta: Record<string, unknown>
}

let d1: D1Server
const endpoint = (kind: 'query' | 'raw', server = d1): string =>
  `${server.baseUrl}/accounts/${server.accountId}/d1/database/${server.databaseId}/${kind}`

async function call(
  url: string,
  body: unknown,
  headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` },
): Promise<{ status: number; headers: Headers; body: Envelope }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { status: response.status, headers: response.headers, body: (await response.json()) as Envelope }
}

async function query<R = Record<string, unknown>>(body: unknown, server = d1): Promise<Statement<R[]>[]> {
  const { status, body: envelope } = await call(endpoint('query', server), body)
  expect(envelope.errors, JSON.stringify(envelope.errors)).toEqual([])
  expect(status).toBe(200)
  return envelope.result as Statement<R[]>[]
}

beforeAll(async () => {
  d1 = await startD1Server({ apiToken: TOKEN })
})
afterAll(async () => {
  await d1?.close()
})

describe('D1 REST stand-in: /query', () => {
  it('serves a URL on 127.0.0.1 and answers a query with params in the Cloudflare envelope', async () => {
    expect(d1.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/client\/v4$/)
    expect(d1.databaseId).toMatch(/^[0-9a-f-]{36}$/)
    await query({ sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, score REAL)' })

    const { status, headers, body } = await call(endpoint('query'), {
      sql: 'INSERT INTO notes (body, score) VALUES (?, ?), (?, ?)',
      params: ['first', 1.5, 'second', 2],
    })
    expect(status).toBe(200)
    expect(headers.get('content-type')).toBe('application/json')
    expect(body).toMatchObject({ success: true, errors: [], messages: [] })
    const [insert] = body.result as Statement<unknown[]>[]
    expect(insert).toMatchObject({ results: [], success: true, meta: { changes: 2, last_row_id: 2, changed_db: true } })
    for (const field of ['changed_db', 'changes', 'duration', 'last_row_id', 'rows_read', 'rows_written', 'size_after']) {
      expect(insert!.meta, field).toHaveProperty(field)
    }

    const [select] = await query({ sql: 'SELECT id, body FROM notes WHERE score > ?1 ORDER BY id', params: [1] })
    expect(select!.results).toEqual([
      { id: 1, body: 'first' },
      { id: 2, body: 'second' },
    ])
  })

  it('splits a multi-statement sql string into one result per statement (quotes, comments, trigger bodies)', async () => {
    const result = await query({
      sql: `CREATE TABLE audit (note TEXT);
        CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
          INSERT INTO audit VALUES (CASE WHEN new.body LIKE '%;%' THEN 'semi' ELSE 'plain' END);
          INSERT INTO audit VALUES ('second statement; of the trigger');
        END;
        /* a comment; with a semicolon */ INSERT INTO notes (body) VALUES ('a;b');
        SELECT note FROM audit ORDER BY rowid; -- trailing comment; ignored`,
    })
    expect(result).toHaveLength(4)
    expect(result[3]!.results).toEqual([{ note: 'semi' }, { note: 'second statement; of the trigger' }])
  })

  it('runs the batch form atomically: a failing statement leaves nothing behind', async () => {
    const ok = await query({
      batch: [
        { sql: 'INSERT INTO notes (body) VALUES (?)', params: ['batched'] },
        { sql: 'SELECT count(*) AS n FROM notes WHERE body = ?', params: ['batched'] },
      ],
    })
    expect(ok.map((r) => r.results)).toEqual([[], [{ n: 1 }]])

    const failed = await call(endpoint('query'), {
      batch: [
        { sql: 'INSERT INTO notes (body) VALUES (?)', params: ['lost'] },
        { sql: 'INSERT INTO missing_table VALUES (1)' },
      ],
    })
    expect(failed.status).toBe(400)
    expect(failed.body).toEqual({
      result: null,
      success: false,
      errors: [{ code: 7500, message: 'no such table: missing_table: SQLITE_ERROR' }],
      messages: [],
    })
    const [count] = await query({ sql: "SELECT count(*) AS n FROM notes WHERE body = 'lost'" })
    expect(count!.results).toEqual([{ n: 0 }])
  })

  it('answers a SQL error with 400 and code 7500 carrying the SQLite message', async () => {
    const { status, body } = await call(endpoint('query'), { sql: 'SELEC 1' })
    expect(status).toBe(400)
    expect(body).toEqual({
      result: null,
      success: false,
      errors: [{ code: 7500, message: 'near "SELEC": syntax error at offset 0: SQLITE_ERROR' }],
      messages: [],
    })
  })

  it('refuses a malformed body with 400 and code 7400', async () => {
    for (const bad of [{}, { sql: 1 }, { batch: [] }, { sql: 'SELECT 1', params: 'x' }]) {
      const { status, body } = await call(endpoint('query'), bad)
      expect(status, JSON.stringify(bad)).toBe(400)
      expect(body.errors[0]!.code).toBe(7400)
    }
  })
})

describe('D1 REST stand-in: /raw', () => {
  it('returns columns and rows as arrays, keeping duplicate and numeric column names in order', async () => {
    const { status, body } = await call(endpoint('raw'), { sql: 'SELECT 1 AS a, 2 AS a, ? AS "1"', params: ['x'] })
    expect(status).toBe(200)
    expect(body).toMatchObject({ success: true, errors: [], messages: [] })
    const [only] = body.result as Statement<{ columns: string[]; rows: unknown[][] }>[]
    expect(only!.results).toEqual({ columns: ['a', 'a', '1'], rows: [[1, 2, 'x']] })
    expect(only!.meta).toHaveProperty('rows_read')
  })

  it('runs a raw batch atomically too', async () => {
    const ok = await call(endpoint('raw'), {
      batch: [
        { sql: 'INSERT INTO notes (body) VALUES (?)', params: ['raw-batch'] },
        { sql: 'SELECT body FROM notes WHERE body = ?', params: ['raw-batch'] },
      ],
    })
    expect((ok.body.result as Statement<unknown>[]).map((r) => r.results)).toEqual([
      { columns: [], rows: [] },
      { columns: ['body'], rows: [['raw-batch']] },
    ])
    const failed = await call(endpoint('raw'), {
      batch: [{ sql: "INSERT INTO notes (body) VALUES ('raw-lost')" }, { sql: 'SELEC 1' }],
    })
    expect(failed.status).toBe(400)
    expect(failed.body.errors).toEqual([{ code: 7500, message: 'near "SELEC": syntax error at offset 0: SQLITE_ERROR' }])
    const [count] = await query({ sql: "SELECT count(*) AS n FROM notes WHERE body = 'raw-lost'" })
    expect(count!.results).toEqual([{ n: 0 }])
  })
})

describe('D1 REST stand-in: auth, ids, rate limits, CORS', () => {
  it('answers a wrong token with 403 / 10000, a missing header with 400 / 9106, a malformed one with 400 / 6003', async () => {
    const wrong = await call(endpoint('query'), { sql: 'SELECT 1' }, { Authorization: 'Bearer not-the-token' })
    expect(wrong.status).toBe(403)
    expect(wrong.body).toEqual({
      result: null,
      success: false,
      errors: [{ code: 10000, message: 'Authentication error' }],
      messages: [],
    })
    const missing = await call(endpoint('query'), { sql: 'SELECT 1' }, {})
    expect(missing.status).toBe(400)
    expect(missing.body).toEqual({
      success: false,
      errors: [{ code: 9106, message: 'Missing X-Auth-Key, X-Auth-Email or Authorization headers' }],
    })
    const malformed = await call(endpoint('query'), { sql: 'SELECT 1' }, { Authorization: TOKEN })
    expect(malformed.status).toBe(400)
    expect(malformed.body.errors).toEqual([
      {
        code: 6003,
        message: 'Invalid request headers',
        error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
      },
    ])
  })

  it('answers a wrong database id (404 / 7404, or 400 / 7400 when not a UUID) and a wrong account (403 / 7403)', async () => {
    const base = `${d1.baseUrl}/accounts/${d1.accountId}/d1/database`
    const unknown = await call(`${base}/00000000-0000-4000-8000-000000000000/query`, { sql: 'SELECT 1' })
    expect(unknown.status).toBe(404)
    expect(unknown.body).toMatchObject({ success: false, result: null, errors: [{ code: 7404 }] })
    const notUuid = await call(`${base}/placeholder/query`, { sql: 'SELECT 1' })
    expect(notUuid.status).toBe(400)
    expect(notUuid.body.errors).toEqual([{ code: 7400, message: 'The request is malformed: failed to decode id' }])
    const account = await call(endpoint('query').replace(d1.accountId, 'f'.repeat(32)), { sql: 'SELECT 1' })
    expect(account.status).toBe(403)
    expect(account.body.errors[0]!.code).toBe(7403)
  })

  it('answers unknown routes with 404 and other methods with 405', async () => {
    const route = await call(`${d1.baseUrl}/accounts/${d1.accountId}/d1/database/${d1.databaseId}/export`, {})
    expect(route.status).toBe(404)
    expect(route.body.errors.map((e) => e.code)).toEqual([7003, 7000])
    const get = await fetch(endpoint('query'), { headers: { Authorization: `Bearer ${TOKEN}` } })
    expect(get.status).toBe(405)
    expect(((await get.json()) as Envelope).errors[0]!.code).toBe(7001)
  })

  it('answers 429 with Retry-After for exactly the next N requests when told to', async () => {
    d1.rateLimitNext(2, 7)
    for (let i = 0; i < 2; i++) {
      const limited = await call(endpoint('query'), { sql: 'SELECT 1' })
      expect(limited.status).toBe(429)
      expect(limited.headers.get('retry-after')).toBe('7')
      expect(limited.headers.get('access-control-allow-origin')).toBe('*')
      expect(limited.body).toMatchObject({ success: false, result: null, errors: [{ code: 971 }] })
    }
    const [after] = await query({ sql: 'SELECT 1 AS one' })
    expect(after!.results).toEqual([{ one: 1 }])
  })

  it('answers a CORS preflight and adds CORS headers to answers', async () => {
    const preflight = await fetch(endpoint('query'), {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://127.0.0.1:5173',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization')
    const answer = await call(endpoint('query'), { sql: 'SELECT 1' }, { Authorization: 'Bearer wrong' })
    expect(answer.headers.get('access-control-allow-origin')).toBe('*')
    expect(answer.headers.get('access-control-expose-headers')).toContain('Retry-After')
  })

  it('logs every request with its status and statement count', async () => {
    const before = d1.log.length
    await query({ sql: 'SELECT 1; SELECT 2' })
    await call(endpoint('raw'), { sql: 'SELECT 1' }, { Authorization: 'Bearer wrong' })
    expect(d1.log.slice(before)).toEqual([
      { method: 'POST', path: new URL(endpoint('query')).pathname, status: 200, statements: 2 },
      { method: 'POST', path: new URL(endpoint('raw')).pathname, status: 403, statements: 0 },
    ])
  })
})

describe('D1 REST stand-in: the binding', () => {
  it('sees what REST wrote, and REST sees what the binding wrote', async () => {
    await query({ sql: 'CREATE TABLE shared (k TEXT PRIMARY KEY, v TEXT)' })
    await query({ sql: 'INSERT INTO shared VALUES (?, ?)', params: ['from-rest', 'r'] })
    const db = await d1.binding()
    expect(await db.prepare('SELECT v FROM shared WHERE k = ?').bind('from-rest').first('v')).toBe('r')
    await db.prepare('INSERT INTO shared VALUES (?, ?)').bind('from-binding', 'b').run()
    const [rows] = await query({ sql: 'SELECT k FROM shared ORDER BY k' })
    expect(rows!.results).toEqual([{ k: 'from-binding' }, { k: 'from-rest' }])
  })

  it('keeps data across a restart when persistTo is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'd1-persist-'))
    try {
      const first = await startD1Server({ apiToken: TOKEN, persistTo: dir })
      await query({ sql: "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('still here')" }, first)
      await first.close()
      const second = await startD1Server({ apiToken: TOKEN, persistTo: dir, databaseId: first.databaseId })
      try {
        const [rows] = await query({ sql: 'SELECT v FROM kept' }, second)
        expect(rows!.results).toEqual([{ v: 'still here' }])
      } finally {
        await second.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

// What D1 accepts of the SQL our SQL core writes: asserted here so a miniflare/workerd upgrade that
// changes any of it fails loudly. Each statement runs through the binding and through REST.
describe('D1 facts the SQL core depends on', () => {
  const cases: Array<[label: string, setup: string[], sql: string, accepted: boolean]> = [
    ['WITHOUT ROWID', [], 'CREATE TABLE f_kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID', true],
    [
      'trigger with several statements',
      ['CREATE TABLE f_src (v TEXT)', 'CREATE TABLE f_log (v TEXT)'],
      "CREATE TRIGGER f_tr AFTER INSERT ON f_src BEGIN INSERT INTO f_log VALUES (new.v); INSERT INTO f_log VALUES ('again'); END",
      true,
    ],
    ['AS MATERIALIZED', [], 'WITH x AS MATERIALIZED (SELECT 1 AS a) SELECT a FROM x', true],
    ['json_extract', [], `SELECT json_extract('{"a":[1,2]}', '$.a[1]') AS v`, true],
    ['ln()', [], 'SELECT ln(1) AS v', true],
    [
      'upsert with RETURNING',
      ['CREATE TABLE f_up (id TEXT PRIMARY KEY, n INTEGER)'],
      "INSERT INTO f_up VALUES ('x', 1) ON CONFLICT(id) DO UPDATE SET n = n + 1 RETURNING n",
      true,
    ],
    ['total_changes()', [], 'SELECT total_changes() AS t', true],
    ['FTS5', [], 'CREATE VIRTUAL TABLE f_fts USING fts5(body)', true],
    ['BEGIN', [], 'BEGIN', false],
    ['BEGIN TRANSACTION', [], 'BEGIN TRANSACTION', false],
    ['COMMIT', [], 'COMMIT', false],
    ['SAVEPOINT', [], 'SAVEPOINT s1', false],
    ['FTS4', [], 'CREATE VIRTUAL TABLE f_fts4 USING fts4(body)', false],
    ['PRAGMA user_version', [], 'PRAGMA user_version', false],
    ['sqlite_version()', [], 'SELECT sqlite_version()', false],
  ]

  for (const [label, setup, sql, accepted] of cases) {
    it(`${accepted ? 'accepts' : 'refuses'} ${label} through the binding and REST`, async () => {
      const db = await d1.binding()
      for (const s of setup) await db.prepare(s).run()
      // Run on copies with fresh names so both paths start from the same state.
      const viaBinding = await db.prepare(sql).all().then(
        () => 'ok',
        (e: Error) => e.message,
      )
      const restSql = sql.replace(/\bf_(fts4?|kv|tr)\b/g, 'r_$1')
      const rest = await call(endpoint('query'), { sql: restSql })
      if (accepted) {
        expect(viaBinding).toBe('ok')
        expect(rest.status, JSON.stringify(rest.body.errors)).toBe(200)
      } else {
        expect(viaBinding).toMatch(/^D1_ERROR: /)
        expect(rest.status).toBe(400)
        expect(rest.body.errors[0]!.code).toBe(7500)
      }
    })
  }

  it('binds every JS number as REAL: integers in a TEXT column read back as "3.0"', async () => {
    const db = await d1.binding()
    await db.prepare('CREATE TABLE f_num (i INTEGER, t TEXT, a)').run()
    await db.prepare('INSERT INTO f_num VALUES (?, ?, ?)').bind(3, 3, 3).run()
    const row = await db.prepare('SELECT typeof(?) AS p, typeof(i) AS ti, t, typeof(a) AS ta FROM f_num').bind(3).first()
    expect(row).toEqual({ p: 'real', ti: 'integer', t: '3.0', ta: 'real' })
    // The same through REST (params arrive as JSON numbers).
    const [rest] = await query({ sql: 'SELECT typeof(?) AS p, ? || \'\' AS s', params: [3, 3] })
    expect(rest!.results).toEqual([{ p: 'real', s: '3.0' }])
  })

  it('loses integers above 2^53 on the way in (params) and on the way out (results)', async () => {
    const [rows] = await query({
      sql: 'SELECT ? AS param, CAST(? AS TEXT) AS param_text, 9007199254740993 AS literal, CAST(9007199254740993 AS TEXT) AS literal_text',
      params: [2 ** 53 + 1, 2 ** 53 + 1],
    })
    // 2^53 + 1 is not a JS number: JSON.stringify already sends 9007199254740992; it binds as REAL.
    expect(rows!.results).toEqual([
      { param: 9007199254740992, param_text: '9.00719925474099e+15', literal: 9007199254740992, literal_text: '9007199254740993' },
    ])
    const db = await d1.binding()
    // bind() throws synchronously; the async wrapper turns that into a rejection.
    await expect((async () => db.prepare('SELECT ?').bind(9007199254740993n).all())()).rejects.toThrow(/D1_TYPE_ERROR: Type 'bigint'/)
  })

  it('binds booleans as 1/0 and null as NULL (binding and REST alike); undefined is refused', async () => {
    const db = await d1.binding()
    const viaBinding = await db.prepare('SELECT ? AS t, ? AS f, ? IS NULL AS n, typeof(?) AS ty').bind(true, false, null, true).first()
    expect(viaBinding).toEqual({ t: 1, f: 0, n: 1, ty: 'real' })
    const [rest] = await query({ sql: 'SELECT ? AS t, ? AS f, ? IS NULL AS n, typeof(?) AS ty', params: [true, false, null, true] })
    expect(rest!.results).toEqual([viaBinding])
    await expect((async () => db.prepare('SELECT ?').bind(undefined).all())()).rejects.toThrow(/D1_TYPE_ERROR: Type 'undefined'/)
  })
})

// The Hrana-over-HTTP stand-in driven over real HTTP by the real clients: @libsql/client (Node and web
// flavours, which speak Hrana 2 JSON on /v2/pipeline), @libsql/hrana-client opened with protocol version 3
// (what production Turso negotiates: v3-protobuf pipeline and cursor), and plain fetch for protocol edges.
import {
  createClient as createNodeClient,
  LibsqlBatchError,
  LibsqlError,
  type Client,
  type Config,
} from '@libsql/client'
import { createClient as createWebClient } from '@libsql/client/web'
import * as hrana from '@libsql/hrana-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHranaServer, type HranaServer } from './hrana-server.js'

const TOKEN = 'test-token_0123456789'
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<LibsqlError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  )
  if (!('error' in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`)
  expect(outcome.error).toBeInstanceOf(LibsqlError)
  return outcome.error as LibsqlError
}

interface Raw {
  status: number
  type: string | null
  text: string
  /** The parsed body when the server said application/json (tests index into it freely). */
  json: any
}

async function postText(server: HranaServer, path: string, body: string, headers: Record<string, string> = {}): Promise<Raw> {
  const response = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  const text = await response.text()
  const type = response.headers.get('content-type')
  return { status: response.status, type, text, json: type === 'application/json' ? JSON.parse(text) : undefined }
}

const post = (server: HranaServer, path: string, body: unknown, headers?: Record<string, string>): Promise<Raw> =>
  postText(server, path, JSON.stringify(body), headers)

const text = (value: string): unknown => ({ type: 'text', value })
const integer = (value: bigint): unknown => ({ type: 'integer', value: value.toString() })
const exec = (sql: string, args: unknown[] = []): unknown => ({ type: 'execute', stmt: { sql, args, want_rows: true } })

const flavours: Array<[string, (config: Config) => Client]> = [
  ['@libsql/client (node)', createNodeClient],
  ['@libsql/client/web', createWebClient],
]

describe.each(flavours)('%s against the server', (_name, createClient) => {
  let server: HranaServer
  const clients: Client[] = []
  const open = (config: Partial<Config> = {}): Client => {
    const client = createClient({ url: server.url, ...config })
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    server = await startHranaServer()
  })
  afterAll(async () => {
    for (const client of clients) client.close()
    await server.close()
  })

  it('speaks Hrana 2 JSON on POST /v2/pipeline, one request per execute, without probing v3', async () => {
    const client = open()
    const before = server.log.length
    const rs = await client.execute('SELECT 1 AS one')
    expect(rs.columns).toEqual(['one'])
    expect(rs.rows[0]!.one).toBe(1)
    expect(server.log.slice(before)).toEqual([
      { method: 'POST', path: '/v2/pipeline', status: 200, requests: ['execute', 'close'] },
    ])
    expect(server.log.some((e) => e.method === 'GET' || e.path.startsWith('/v3'))).toBe(false)
  })

  it('binds positional, ?NNN and named arguments (with or without the prefix)', async () => {
    const client = open()
    const positional = await client.execute({ sql: 'SELECT ?, ?', args: ['one', 'two'] })
    expect(Array.from(positional.rows[0]!)).toEqual(['one', 'two'])
    const numbered = await client.execute({ sql: 'SELECT ?2, ?3, ?1', args: ['one', 'two', 'three'] })
    expect(Array.from(numbered.rows[0]!)).toEqual(['two', 'three', 'one'])
    for (const sign of [':', '@', '$']) {
      const rs = await client.execute({ sql: `SELECT ${sign}b, ${sign}a, ${sign}b || ${sign}a`, args: { a: 'one', [`${sign}b`]: 'two' } })
      expect(Array.from(rs.rows[0]!)).toEqual(['two', 'one', 'twoone'])
    }
    const mixed = await client.execute({ sql: 'SELECT $b, $a, ?1', args: { a: 'one', $b: 'two' } })
    expect(Array.from(mixed.rows[0]!)).toEqual(['two', 'one', 'two'])

    const missing = await rejection(client.execute({ sql: 'SELECT :a, :b', args: { a: 1 } }))
    expect(missing.code).toBe('ARGS_INVALID')
    expect(missing.message).toBe('ARGS_INVALID: Arguments do not match SQL parameters: value for parameter :b not found')
    const extra = await rejection(client.execute({ sql: 'SELECT ?', args: [1, 2] }))
    expect(extra.message).toBe('ARGS_INVALID: Arguments do not match SQL parameters: too many parameters, expected 1 found 2')
  })

  it('round-trips every value type exactly (intMode bigint)', async () => {
    const client = open({ intMode: 'bigint' })
    const bytes = new Uint8Array(256).map((_, i) => i ^ 0xab)
    const values = [
      9223372036854775807n, -9223372036854775808n, 0n, -42n, 1152921504608088318n,
      0.5, 12.345, 1e18, -1e18, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1.0,
      '', 'boomerang', 'a\n\r\t ', 'žluťoučký kůň úpěl ďábelské ódy 😀',
      null,
    ]
    for (const value of values) {
      const rs = await client.execute({ sql: 'SELECT ? AS v, typeof(?) AS t', args: [value, value] })
      const expectedType = value === null ? 'null' : typeof value === 'bigint' ? 'integer' : typeof value === 'number' ? 'real' : 'text'
      expect({ v: rs.rows[0]!.v, t: rs.rows[0]!.t }).toEqual({ v: value, t: expectedType })
    }
    // -0 cannot be sent: the client's JSON writer turns it into 0; coming back it stays -0
    expect(Object.is((await client.execute('SELECT -0.0')).rows[0]![0], -0)).toBe(true)

    const blob = await client.execute({ sql: 'SELECT ? AS b, typeof(?) AS t, length(?) AS n', args: [bytes, bytes, bytes.buffer] })
    expect(blob.rows[0]!.b).toBeInstanceOf(ArrayBuffer)
    expect(new Uint8Array(blob.rows[0]!.b as ArrayBuffer)).toEqual(bytes)
    expect([blob.rows[0]!.t, blob.rows[0]!.n]).toEqual(['blob', 256n])
    const empty = await client.execute({ sql: 'SELECT ?', args: [new Uint8Array(0)] })
    expect(new Uint8Array(empty.rows[0]![0] as ArrayBuffer)).toEqual(new Uint8Array(0))

    const other = await client.execute({ sql: 'SELECT ?, ?, ?', args: [true, false, new Date('2023-01-02T12:34:56Z')] })
    expect(Array.from(other.rows[0]!)).toEqual([1n, 0n, 1672662896000])
    const literal = await client.execute("SELECT 42, 0.5, 'x', X'626172', NULL, 9223372036854775807")
    expect(Array.from(literal.rows[0]!).slice(0, 3)).toEqual([42n, 0.5, 'x'])
    expect(new TextDecoder().decode(literal.rows[0]![3] as ArrayBuffer)).toBe('bar')
    expect(Array.from(literal.rows[0]!).slice(4)).toEqual([null, 9223372036854775807n])
  })

  it('keeps declared types, rowsAffected and lastInsertRowid as sqld reports them', async () => {
    const client = open({ intMode: 'bigint' })
    await client.execute('CREATE TABLE typed (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, u)')
    const insert = await client.execute({
      sql: 'INSERT INTO typed (id, i, r, t, b, u) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)',
      args: [9007199254740993n, 7n, 2.5, 'text', new Uint8Array([1, 2, 3]), null, 5n, -1n, 3, 'x', new Uint8Array(0), 1.5],
    })
    expect(insert.rowsAffected).toBe(2)
    expect(insert.lastInsertRowid).toBe(5n)
    const rs = await client.execute('SELECT id, i, r, t, b, u, i + 1 AS expr FROM typed ORDER BY id DESC')
    expect(rs.columns).toEqual(['id', 'i', 'r', 't', 'b', 'u', 'expr'])
    expect(rs.columnTypes).toEqual(['INTEGER', 'INTEGER', 'REAL', 'TEXT', 'BLOB', '', ''])
    expect(rs.rowsAffected).toBe(0)
    expect(rs.lastInsertRowid).toBeUndefined()
    expect(rs.rows[0]!.id).toBe(9007199254740993n)
    expect(rs.rows[1]!.r).toBe(3) // a REAL column keeps an integer argument as REAL
    const update = await client.execute({ sql: 'UPDATE typed SET t = ? WHERE id > 0', args: ['y'] })
    expect([update.rowsAffected, update.lastInsertRowid]).toEqual([2, undefined])
    const returning = await client.execute("INSERT INTO typed (i) VALUES (1) RETURNING id, i * 2 AS twice")
    expect(returning.rows.map((r) => r.twice)).toEqual([2n])
    expect(returning.rowsAffected).toBe(1)
    expect(returning.lastInsertRowid).toBe(returning.rows[0]!.id)
    const withInsert = await client.execute('WITH x(a) AS (SELECT i FROM typed) INSERT INTO typed (i) SELECT a + 100 FROM x')
    expect([withInsert.rowsAffected, typeof withInsert.lastInsertRowid]).toEqual([3, 'bigint'])
    const withSelect = await client.execute('WITH x(a) AS (SELECT 1) SELECT a FROM x')
    expect([withSelect.rowsAffected, withSelect.lastInsertRowid]).toEqual([0, undefined])
  })

  it('sends a write batch as one POST and rolls the whole batch back when a statement fails', async () => {
    const client = open()
    await client.execute('CREATE TABLE batched (id INTEGER PRIMARY KEY, v TEXT)')
    const before = server.log.length
    const ok = await client.batch(
      [
        { sql: 'INSERT INTO batched (id, v) VALUES (?, ?)', args: [1, 'one'] },
        { sql: 'INSERT INTO batched (id, v) VALUES (?, ?)', args: [2, 'two'] },
        'SELECT count(*) AS n FROM batched',
      ],
      'write',
    )
    expect(ok.map((r) => r.rowsAffected)).toEqual([1, 1, 0])
    expect(ok[2]!.rows[0]!.n).toBe(2)
    const sent = server.log.slice(before)
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ method: 'POST', path: '/v2/pipeline', status: 200 })
    expect(sent[0]!.requests.filter((r) => r === 'batch')).toHaveLength(1)
    expect(sent[0]!.requests.at(-1)).toBe('close')

    const failing = client.batch(
      [
        { sql: 'INSERT INTO batched (id, v) VALUES (?, ?)', args: [3, 'three'] },
        { sql: 'INSERT INTO batched (id, v) VALUES (?, ?)', args: [1, 'duplicate'] },
        { sql: 'INSERT INTO batched (id, v) VALUES (?, ?)', args: [4, 'four'] },
      ],
      'write',
    )
    const error = await rejection(failing)
    expect(error).toBeInstanceOf(LibsqlBatchError)
    expect((error as LibsqlBatchError).statementIndex).toBe(1)
    expect(error.code).toBe('SQLITE_CONSTRAINT')
    // the client prefixes the code twice on batch errors
    expect(error.message).toBe('SQLITE_CONSTRAINT: SQLITE_CONSTRAINT: SQLite error: UNIQUE constraint failed: batched.id')
    const rows = await client.execute('SELECT id FROM batched ORDER BY id')
    expect(rows.rows.map((r) => r.id)).toEqual([1, 2])
    expect(server.log.slice(before)).toHaveLength(3)
  })

  it('runs a read batch in one POST and refuses a batch with a syntax error before running any of it', async () => {
    const client = open()
    const before = server.log.length
    const results = await client.batch(['SELECT 1+1 AS two', { sql: 'VALUES (?), (?)', args: ['big', 'ben'] }], 'read')
    expect(results[0]!.rows[0]!.two).toBe(2)
    expect(results[1]!.rows.map((r) => r[0])).toEqual(['big', 'ben'])
    expect(server.log.slice(before)).toHaveLength(1)

    await client.execute('CREATE TABLE untouched (v)')
    const error = await rejection(client.batch(['INSERT INTO untouched VALUES (1)', 'SELEC 2'], 'write'))
    expect(error.code).toBe('SQL_PARSE_ERROR')
    expect((await client.execute('SELECT count(*) FROM untouched')).rows[0]![0]).toBe(0)
  })

  it('isolates an interactive transaction: own writes visible, others see only commits and wait to write', async () => {
    const client = open()
    const other = open()
    await client.execute('CREATE TABLE tx (v TEXT)')

    const tx = await client.transaction('write')
    await tx.execute({ sql: 'INSERT INTO tx VALUES (?)', args: ['mine'] })
    expect((await tx.execute('SELECT count(*) FROM tx')).rows[0]![0]).toBe(1)
    expect((await other.execute('SELECT count(*) FROM tx')).rows[0]![0]).toBe(0)

    let written = false
    const waiting = other.execute({ sql: 'INSERT INTO tx VALUES (?)', args: ['theirs'] }).then(() => (written = true))
    await sleep(300)
    expect(written).toBe(false) // blocked on the transaction's write lock, as on a real SQLite server
    await tx.commit()
    await waiting
    expect(tx.closed).toBe(true)
    const all = await other.execute('SELECT v FROM tx ORDER BY rowid')
    expect(all.rows.map((r) => r.v)).toEqual(['mine', 'theirs'])

    const rolledBack = await client.transaction('write')
    await rolledBack.batch([{ sql: 'INSERT INTO tx VALUES (?)', args: ['gone'] }, 'DELETE FROM tx WHERE v = \'mine\''])
    expect((await rolledBack.execute('SELECT v FROM tx ORDER BY rowid')).rows.map((r) => r.v)).toEqual(['theirs', 'gone'])
    await rolledBack.rollback()
    expect((await client.execute('SELECT v FROM tx ORDER BY rowid')).rows.map((r) => r.v)).toEqual(['mine', 'theirs'])
    const closed = await rejection(rolledBack.execute('SELECT 1'))
    expect(closed.code).toBe('TRANSACTION_CLOSED')

    const failing = await client.transaction('write')
    const error = await rejection(failing.execute('INSERT INTO nowhere VALUES (1)'))
    expect(error.code).toBe('SQLITE_UNKNOWN')
    await failing.execute("INSERT INTO tx VALUES ('after error')") // the transaction survives a failed statement
    await failing.commit()
    expect((await client.execute('SELECT count(*) FROM tx')).rows[0]![0]).toBe(3)
  })

  it('runs executeMultiple as one sequence request that stops at the first error', async () => {
    const client = open()
    const before = server.log.length
    await client.executeMultiple(`
      CREATE TABLE script (v TEXT); -- a comment; with a semicolon
      INSERT INTO script VALUES ('a;b');
      CREATE TRIGGER script_copy AFTER INSERT ON script BEGIN INSERT INTO script_log VALUES (new.v); END;
      CREATE TABLE script_log (v TEXT);
      INSERT INTO script VALUES ('c');
    `)
    expect(server.log.slice(before).map((e) => e.requests)).toEqual([['sequence', 'close']])
    expect((await client.execute('SELECT v FROM script ORDER BY rowid')).rows.map((r) => r.v)).toEqual(['a;b', 'c'])
    expect((await client.execute('SELECT v FROM script_log')).rows.map((r) => r.v)).toEqual(['c'])

    const error = await rejection(client.executeMultiple("INSERT INTO script VALUES ('d'); INSERT INTO nope VALUES (1); INSERT INTO script VALUES ('e');"))
    expect(error.message).toBe('SQLITE_UNKNOWN: SQLite error: no such table: nope')
    expect((await client.execute('SELECT count(*) FROM script')).rows[0]![0]).toBe(3)
  })

  it('reports SQL errors as LibsqlError with the codes sqld sends', async () => {
    const client = open()
    await client.execute('CREATE TABLE errs (id INTEGER PRIMARY KEY, v NOT NULL)')
    await client.execute('INSERT INTO errs VALUES (1, 1)')
    const cases: Array<[string, string, string]> = [
      ['INSERT INTO errs VALUES (1, 2)', 'SQLITE_CONSTRAINT', 'SQLite error: UNIQUE constraint failed: errs.id'],
      ['INSERT INTO errs VALUES (2, NULL)', 'SQLITE_CONSTRAINT', 'SQLite error: NOT NULL constraint failed: errs.v'],
      ['SELECT * FROM missing', 'SQLITE_UNKNOWN', 'SQLite error: no such table: missing'],
      ['SELECT foobar', 'SQL_INPUT_ERROR', 'SQL input error: no such column: foobar (at offset 7)'],
      ['SELECT nofn(1)', 'SQL_INPUT_ERROR', 'SQL input error: no such function: nofn (at offset 7)'],
      ['SELEC 1', 'SQL_PARSE_ERROR', 'SQL string could not be parsed: syntax error around L1:1: `SELEC`'],
      ['SELECT 1 FROM', 'SQL_PARSE_ERROR', 'SQL string could not be parsed: unexpected end of input'],
      ['SELECT 1; SELECT 2', 'SQL_MANY_STATEMENTS', 'SQL string contains more than one statement'],
      [' -- nothing\n', 'SQL_NO_STATEMENT', 'SQL string does not contain any statement'],
      ['PRAGMA journal_mode = DELETE', 'SQL_PARSE_ERROR', 'SQL string could not be parsed: unsupported statement: PRAGMA journal_mode = DELETE'],
      ['VACUUM', 'SQL_PARSE_ERROR', 'SQL string could not be parsed: unsupported statement: VACUUM'],
    ]
    for (const [sql, code, message] of cases) {
      const error = await rejection(client.execute(sql))
      expect({ sql, code: error.code, message: error.message }).toEqual({ sql, code, message: `${code}: ${message}` })
    }
    expect((await client.execute('PRAGMA foreign_keys')).rows.length).toBe(1) // pragmas sqld allows still run
  })
})

describe('authentication', () => {
  let server: HranaServer
  beforeAll(async () => {
    server = await startHranaServer({ authToken: TOKEN })
  })
  afterAll(() => server.close())

  it('accepts the token and refuses others with 401, which the client reports as SERVER_ERROR', async () => {
    const good = createNodeClient({ url: server.url, authToken: TOKEN })
    expect((await good.execute('SELECT 1')).rows[0]![0]).toBe(1)
    good.close()

    for (const client of [
      createNodeClient({ url: server.url, authToken: 'wrong' }),
      createWebClient({ url: server.url, authToken: 'wrong' }),
      createNodeClient({ url: server.url }),
    ]) {
      const error = await rejection(client.execute('SELECT 1'))
      expect(error.code).toBe('SERVER_ERROR')
      expect(error.message).toBe('SERVER_ERROR: Server returned HTTP status 401')
      client.close()
    }
    expect(server.log.filter((e) => e.status === 401)).toHaveLength(3)
  })

  it('answers with sqld bodies and leaves the version probes open', async () => {
    const body = { requests: [exec('SELECT 1')] }
    const wrong = await post(server, '/v2/pipeline', body, { authorization: 'Bearer wrong' })
    expect([wrong.status, wrong.type, wrong.json]).toEqual([401, 'application/json', { error: 'Unauthorized: `The JWT is invalid`' }])
    const missing = await post(server, '/v2/pipeline', body)
    expect(missing.json).toEqual({ error: 'Unauthorized: `The `Authorization` HTTP header is required but was not specified`' })
    const basic = await post(server, '/v3-protobuf/pipeline', body, { authorization: 'Basic abc' })
    expect(basic.json).toEqual({ error: 'Unauthorized: `The authentication scheme in the `Authorization` HTTP header is not supported`' })
    expect((await fetch(`${server.url}/v3-protobuf`)).status).toBe(200)
  })
})

describe('protocol details over plain HTTP', () => {
  let server: HranaServer
  beforeAll(async () => {
    server = await startHranaServer({ streamExpirationMs: 300 })
  })
  afterAll(() => server.close())

  it('serves the version probes and health, and nothing else', async () => {
    for (const path of ['/v2', '/v3', '/v3-protobuf']) {
      const response = await fetch(server.url + path)
      expect([response.status, response.headers.get('content-type'), await response.text()]).toEqual([
        200, 'text/plain', 'Hello, this is HTTP API v2 (Hrana over HTTP)',
      ])
    }
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
    expect((await fetch(`${server.url}/v2/pipeline`)).status).toBe(405)
    expect((await fetch(`${server.url}/v1/execute`, { method: 'POST', body: '{}' })).status).toBe(404)
  })

  it('encodes results as the spec and sqld do (integers as strings, unpadded base64, null base_url)', async () => {
    const res = await post(server, '/v3/pipeline', {
      baton: null,
      requests: [
        exec("SELECT 42 AS i, 0.5 AS f, 'héllo' AS t, X'00ff' AS b, NULL AS n, ? AS big, ? AS blob", [
          integer(-9223372036854775808n), { type: 'blob', base64: 'AP8=' },
        ]),
        { type: 'close' },
      ],
    })
    expect(res.status).toBe(200)
    expect(res.json).toEqual({
      baton: null,
      base_url: null,
      results: [
        {
          type: 'ok',
          response: {
            type: 'execute',
            result: {
              cols: ['i', 'f', 't', 'b', 'n', 'big', 'blob'].map((name) => ({ name, decltype: null })),
              rows: [[
                { type: 'integer', value: '42' }, { type: 'float', value: 0.5 }, { type: 'text', value: 'héllo' },
                { type: 'blob', base64: 'AP8' }, { type: 'null' }, { type: 'integer', value: '-9223372036854775808' },
                { type: 'blob', base64: 'AP8' },
              ]],
              affected_row_count: 0,
              last_insert_rowid: null,
              replication_index: null,
              rows_read: 0,
              rows_written: 0,
              query_duration_ms: expect.any(Number),
            },
          },
        },
        { type: 'ok', response: { type: 'close' } },
      ],
    })
    // -0.0 written by hand: JSON.stringify sends -0 as 0
    const body = JSON.stringify({
      requests: [exec('CREATE TABLE shapes (v)'), exec('INSERT INTO shapes VALUES (?), (?)', [text('a'), { type: 'float', value: 12345 }]), exec('SELECT v FROM shapes')],
    }).replace('"value":12345', '"value":-0.0')
    const insert = await postText(server, '/v2/pipeline', body)
    const [, inserted, selected] = insert.json.results
    expect(inserted.response.result).toMatchObject({ affected_row_count: 2, last_insert_rowid: '2' })
    expect(insert.text).toContain('{"type":"float","value":-0.0}')
    expect(selected.response.result.rows).toEqual([[text('a')], [{ type: 'float', value: -0 }]])
  })

  it('chains batons, refuses reused, forged and closed ones, and drops a stream after a protocol error', async () => {
    const first = await post(server, '/v2/pipeline', { baton: null, requests: [exec('SELECT 1')] })
    const baton: string = first.json.baton
    expect(baton).toMatch(/^[A-Za-z0-9+/]{64}$/)
    const second = await post(server, '/v2/pipeline', { baton, requests: [exec('SELECT 2')] })
    expect(second.status).toBe(200)
    expect(second.json.baton).not.toBe(baton)

    const reused = await post(server, '/v2/pipeline', { baton, requests: [exec('SELECT 3')] })
    expect([reused.status, reused.type, reused.text]).toEqual([400, 'text/plain', 'Received a baton that has already been used'])
    const forged = second.json.baton.slice(0, -2) + (second.json.baton.endsWith('AA') ? 'BA' : 'AA')
    expect((await post(server, '/v2/pipeline', { baton: forged, requests: [] })).text).toBe('Received an invalid baton')

    const closing = await post(server, '/v2/pipeline', { baton: second.json.baton, requests: [{ type: 'close' }, { type: 'close_sql', sql_id: 1 }] })
    expect(closing.json.baton).toBeNull()
    expect((await post(server, '/v2/pipeline', { baton: second.json.baton, requests: [] })).text).toBe('Received an invalid baton')
    const afterClose = await post(server, '/v2/pipeline', { requests: [{ type: 'close' }, exec('SELECT 1')] })
    expect([afterClose.status, afterClose.text]).toEqual([400, 'Stream for this baton was closed'])

    const stored = await post(server, '/v2/pipeline', {
      requests: [
        { type: 'store_sql', sql_id: 1, sql: 'SELECT ? AS x' },
        { type: 'execute', stmt: { sql_id: 1, args: [text('stored')] } },
        { type: 'close_sql', sql_id: 1 },
      ],
    })
    expect(stored.json.results[1].response.result.rows).toEqual([[text('stored')]])
    const unknown = await post(server, '/v2/pipeline', { baton: stored.json.baton, requests: [{ type: 'execute', stmt: { sql_id: 1 } }] })
    expect([unknown.status, unknown.text]).toEqual([400, 'SQL text 1 not found'])
    expect((await post(server, '/v2/pipeline', { baton: stored.json.baton, requests: [] })).text).toBe('Received an invalid baton')
    const bad = await post(server, '/v2/pipeline', { requests: [{ type: 'nope' }] })
    expect(bad.status).toBe(400)
    expect(bad.text).toMatch(/^Cannot deserialize client message from JSON: unknown variant `nope`/)
  })

  it('expires idle streams, rolling back their transaction', async () => {
    await post(server, '/v2/pipeline', { requests: [exec('CREATE TABLE expiring (v)'), { type: 'close' }] })
    const open = await post(server, '/v2/pipeline', { requests: [exec('BEGIN'), exec('INSERT INTO expiring VALUES (1)')] })
    expect(open.json.results.map((r: { type: string }) => r.type)).toEqual(['ok', 'ok'])
    await sleep(800)
    const expired = await post(server, '/v2/pipeline', { baton: open.json.baton, requests: [exec('COMMIT')] })
    expect([expired.status, expired.json]).toEqual([500, { message: 'The stream has expired due to inactivity', code: 'STREAM_EXPIRED' }])
    const count = await post(server, '/v2/pipeline', { requests: [exec('INSERT INTO expiring VALUES (2)'), exec('SELECT count(*) FROM expiring'), { type: 'close' }] })
    expect(count.json.results[1].response.result.rows).toEqual([[integer(1n)]])
  })

  it('makes a writer wait for another stream\'s transaction, then fail with SQLITE_BUSY after the busy timeout', async () => {
    const busy = await startHranaServer({ busyTimeoutMs: 200 })
    try {
      await post(busy, '/v2/pipeline', { requests: [exec('CREATE TABLE locked (v)'), { type: 'close' }] })
      const holder = await post(busy, '/v2/pipeline', { requests: [exec('BEGIN IMMEDIATE'), exec("INSERT INTO locked VALUES ('held')")] })
      const started = Date.now()
      const blocked = await post(busy, '/v2/pipeline', { requests: [exec("INSERT INTO locked VALUES ('blocked')")] })
      expect(Date.now() - started).toBeGreaterThanOrEqual(150)
      expect(blocked.json.results[0]).toEqual({ type: 'error', error: { message: 'SQLite error: database is locked', code: 'SQLITE_BUSY' } })
      const reader = await post(busy, '/v2/pipeline', { requests: [exec('SELECT count(*) FROM locked'), { type: 'close' }] })
      expect(reader.json.results[0].response.result.rows).toEqual([[integer(0n)]]) // readers do not wait
      await post(busy, '/v2/pipeline', { baton: holder.json.baton, requests: [exec('COMMIT'), { type: 'close' }] })
      // the stream that got SQLITE_BUSY goes on writing, and its writes are committed
      const retry = await post(busy, '/v2/pipeline', { baton: blocked.json.baton, requests: [exec("INSERT INTO locked VALUES ('retried')")] })
      expect(retry.json.results[0].type).toBe('ok')

      // a transaction that read before another stream committed cannot write any more (SQLite's BUSY_SNAPSHOT)
      const reading = await post(busy, '/v2/pipeline', { requests: [exec('BEGIN'), exec('SELECT count(*) FROM locked')] })
      await post(busy, '/v2/pipeline', { requests: [exec("INSERT INTO locked VALUES ('other')"), { type: 'close' }] })
      const stale = await post(busy, '/v2/pipeline', {
        baton: reading.json.baton,
        requests: [exec("INSERT INTO locked VALUES ('stale')"), exec('ROLLBACK'), exec("INSERT INTO locked VALUES ('after')"), { type: 'close' }],
      })
      expect(stale.json.results.map((r: { type: string; error?: { code: string } }) => r.error?.code ?? r.type)).toEqual(['SQLITE_BUSY', 'ok', 'ok', 'ok'])
      const rows = await post(busy, '/v2/pipeline', { requests: [exec('SELECT v FROM locked ORDER BY rowid'), { type: 'close' }] })
      expect(rows.json.results[0].response.result.rows).toEqual([[text('held')], [text('retried')], [text('other')], [text('after')]])
    } finally {
      await busy.close()
    }
  })

  it('evaluates batch conditions as sqld does, and checks them before running anything', async () => {
    await post(server, '/v2/pipeline', { requests: [exec('CREATE TABLE conds (v)'), { type: 'close' }] })
    const step = (sql: string, condition?: unknown): unknown => ({ condition, stmt: { sql, want_rows: true } })
    const ok = (s: number): unknown => ({ type: 'ok', step: s })
    const res = await post(server, '/v3/pipeline', {
      requests: [
        {
          type: 'batch',
          batch: {
            steps: [
              step('INSERT INTO conds VALUES (1)'),
              step('INSERT INTO nope VALUES (1)'),
              step("SELECT 'error(1)'", { type: 'error', step: 1 }),
              step("SELECT 'not ok(1)'", { type: 'not', cond: ok(1) }),
              step("SELECT 'and'", { type: 'and', conds: [ok(0), ok(1)] }),
              step("SELECT 'or'", { type: 'or', conds: [ok(1), ok(0)] }),
              step("SELECT 'autocommit'", { type: 'is_autocommit' }),
              step("SELECT 'ok(skipped)'", ok(4)),
              step("SELECT 'error(skipped)'", { type: 'error', step: 4 }),
            ],
          },
        },
        { type: 'close' },
      ],
    })
    const result = res.json.results[0].response.result
    expect(result.step_results.map((r: unknown) => r !== null)).toEqual([true, false, true, true, false, true, true, false, true])
    expect(result.step_errors.map((e: unknown) => e !== null)).toEqual([false, true, false, false, false, false, false, false, false])
    expect(result.step_errors[1]).toEqual({ message: 'SQLite error: no such table: nope', code: 'SQLITE_UNKNOWN' })
    expect(result.replication_index).toBeNull()

    const forward = await post(server, '/v3/pipeline', { requests: [{ type: 'batch', batch: { steps: [step('SELECT 1', ok(0))] } }] })
    expect([forward.status, forward.text]).toEqual([400, 'Invalid reference to step in a batch condition'])
    const v2 = await post(server, '/v2/pipeline', { requests: [{ type: 'batch', batch: { steps: [step('SELECT 1', { type: 'is_autocommit' })] } }] })
    expect(v2.text).toBe('BatchCond of type `is_autocommit` is only supported in protocol version hrana3 and higher')
    const autocommit = await post(server, '/v2/pipeline', { requests: [{ type: 'get_autocommit' }] })
    expect(autocommit.text).toBe('The `get_autocommit` request is only supported in protocol version hrana3 and higher')
  })

  it('answers get_autocommit, describe and JSON cursors on v3', async () => {
    const res = await post(server, '/v3/pipeline', {
      requests: [
        exec('CREATE TABLE described (id INTEGER PRIMARY KEY, v TEXT)'),
        { type: 'get_autocommit' },
        exec('BEGIN'),
        { type: 'get_autocommit' },
        exec('ROLLBACK'),
        { type: 'describe', sql: 'SELECT id, v AS value FROM described WHERE id = :id OR id = ?' },
        { type: 'describe', sql: 'INSERT INTO described (v) VALUES (?)' },
        { type: 'describe', sql: 'EXPLAIN SELECT 1' },
        { type: 'describe', sql: 'SELECT * FROM nope' },
      ],
    })
    const [, on, , off, , select, insert, explain, missing] = res.json.results
    expect([on.response.is_autocommit, off.response.is_autocommit]).toEqual([true, false])
    expect(select.response.result).toEqual({
      params: [{ name: ':id' }, { name: null }],
      cols: [{ name: 'id', decltype: 'INTEGER' }, { name: 'value', decltype: 'TEXT' }],
      is_explain: false,
      is_readonly: true,
    })
    expect(insert.response.result).toMatchObject({ params: [{ name: null }], cols: [], is_readonly: false })
    expect(explain.response.result).toMatchObject({ is_explain: true })
    expect(missing).toEqual({ type: 'error', error: { message: 'SQLite error: no such table: nope', code: 'SQLITE_UNKNOWN' } })

    const cursor = await post(server, '/v3/cursor', {
      baton: res.json.baton,
      batch: { steps: [{ stmt: { sql: "INSERT INTO described (v) VALUES ('x') RETURNING id" } }, { stmt: { sql: 'SELECT * FROM nope' } }] },
    })
    expect(cursor.type).toBe('text/plain')
    const lines = cursor.text.trimEnd().split('\n').map((line) => JSON.parse(line))
    expect(lines.slice(1)).toEqual([
      { type: 'step_begin', step: 0, cols: [{ name: 'id', decltype: 'INTEGER' }] },
      { type: 'row', row: [integer(1n)] },
      { type: 'step_end', affected_row_count: 1, last_insert_rowid: 1 },
      { type: 'step_error', step: 1, error: { message: 'SQLite error: no such table: nope', code: 'SQLITE_UNKNOWN' } },
    ])
    expect((await post(server, '/v3/pipeline', { baton: lines[0].baton, requests: [{ type: 'close' }] })).json.baton).toBeNull()
  })
})

describe('@libsql/hrana-client with protocol version 3 (v3-protobuf)', () => {
  let server: HranaServer
  let client: hrana.HttpClient
  beforeAll(async () => {
    server = await startHranaServer()
    client = hrana.openHttp(server.url, undefined, undefined, undefined, 3)
    client.intMode = 'bigint'
  })
  afterAll(async () => {
    client.close()
    await server.close()
  })

  it('negotiates v3-protobuf and round-trips every value type', async () => {
    expect(await client.getVersion()).toBe(3)
    expect(server.log[0]).toEqual({ method: 'GET', path: '/v3-protobuf', status: 200, requests: [] })
    const stream = client.openStream()
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255])
    const rs = await stream.query(['SELECT ?, ?, ?, ?, ?, ?, ?, ?', [9223372036854775807n, -9223372036854775808n, 0.5, -0, 'žluť 😀', bytes, null, 0n]])
    const row = Array.from(rs.rows[0]!)
    expect(row.slice(0, 5)).toEqual([9223372036854775807n, -9223372036854775808n, 0.5, -0, 'žluť 😀'])
    expect(Object.is(row[3], -0)).toBe(true)
    expect(new Uint8Array(row[5] as ArrayBuffer)).toEqual(bytes)
    expect(row.slice(6)).toEqual([null, 0n])

    await stream.run('CREATE TABLE pb (id INTEGER PRIMARY KEY, v TEXT)')
    const insert = await stream.run(['INSERT INTO pb (id, v) VALUES (?, ?)', [-5n, 'neg']])
    expect([insert.affectedRowCount, insert.lastInsertRowid]).toEqual([1, -5n])
    const named = await stream.query(['SELECT v FROM pb WHERE id = :id', { id: -5n }])
    expect(named.rows[0]![0]).toBe('neg')
    stream.close()
    expect(server.log.filter((e) => e.path === '/v3-protobuf/pipeline').every((e) => e.status === 200)).toBe(true)
  })

  it('runs batches with cursors, conditions and errors', async () => {
    const stream = client.openStream()
    const batch = stream.batch(true)
    const begin = batch.step()
    const beginDone = begin.run('BEGIN')
    const insert = batch.step().condition(hrana.BatchCond.ok(begin))
    const inserted = insert.query("INSERT INTO pb (v) VALUES ('one'), ('two') RETURNING v")
    const bad = batch.step().condition(hrana.BatchCond.not(hrana.BatchCond.isAutocommit(batch)))
    const badDone = bad.run('INSERT INTO nope VALUES (1)').then(() => undefined, (error: unknown) => error)
    const skipped = batch.step().condition(hrana.BatchCond.ok(bad)).run('SELECT 1')
    const commit = batch.step().condition(hrana.BatchCond.and(batch, [hrana.BatchCond.ok(insert), hrana.BatchCond.error(bad)])).run('COMMIT')
    const before = server.log.length
    await batch.execute()
    const sent = server.log.slice(before)
    expect(sent.filter((e) => e.path === '/v3-protobuf/cursor')).toEqual([
      { method: 'POST', path: '/v3-protobuf/cursor', status: 200, requests: ['cursor'] },
    ])
    expect(sent.some((e) => e.requests.includes('batch'))).toBe(false)
    await beginDone
    expect((await inserted)!.rows.map((r) => r[0])).toEqual(['one', 'two'])
    expect(await badDone).toMatchObject({ code: 'SQLITE_UNKNOWN', message: 'SQLite error: no such table: nope' })
    expect(await skipped).toBeUndefined()
    expect(await commit).toBeDefined()
    expect(await stream.getAutocommit()).toBe(true)

    const plain = stream.batch(false)
    const count = plain.step().queryValue('SELECT count(*) FROM pb')
    await plain.execute()
    expect((await count)!.value).toBe(3n)
    stream.close()
  })

  it('answers sequence, describe, store_sql and errors over Protobuf', async () => {
    const stream = client.openStream()
    await stream.sequence('CREATE TABLE seq (a); INSERT INTO seq VALUES (1); INSERT INTO seq VALUES (2);')
    const sql = stream.storeSql('SELECT count(*) FROM seq WHERE a > ?')
    expect((await stream.queryValue([sql, [0n]])).value).toBe(2n)
    sql.close()
    const described = await stream.describe('SELECT a AS x FROM seq WHERE a = :a')
    // Protobuf leaves an absent decltype out, which the client reads as undefined
    expect(described).toEqual({ paramNames: [':a'], columns: [{ name: 'x', decltype: undefined }], isExplain: false, isReadonly: true })
    await expect(stream.query('SELECT * FROM nope')).rejects.toMatchObject({ code: 'SQLITE_UNKNOWN' })
    await expect(stream.run('INSERT INTO pb (id) VALUES (-5)')).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT',
      message: 'SQLite error: UNIQUE constraint failed: pb.id',
    })
    expect(await stream.getAutocommit()).toBe(true)
    stream.close()
  })
})

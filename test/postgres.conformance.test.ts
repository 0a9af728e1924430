// PostgreSQL 15, started by the test itself on a temporary data directory (test/servers/postgres-server.ts):
// the shared conformance suite, then what is particular to PostgreSQL: round trips, real transactions,
// search parity with the embedded backend and hostile text, bad input, and faults of the real server
// (locks, timeouts, a wrong password, a newer schema, a killed server).
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { memories, queryList, toBatch } from '../bench/corpus.js'
import { createLTM, createLTMFromSettings, LtmError, migrate, type BatchEntry, type LTM, type MetadataFilter, type PostgresOptions, type SearchOptions } from '../src/index.node.js'
import { expectFound, expectInvalid, ok, show } from './conformance/harness.js'
import { runConformance, type ConformanceHarness } from './conformance/suite.js'
import { startPostgresServer, type PostgresServer } from './servers/postgres-server.js'

let server: PostgresServer

beforeAll(async () => {
  server = await startPostgresServer()
}, 60_000)

afterAll(async () => {
  await server?.stop()
}, 30_000)

/** Each open() gets a new, empty schema (its URL sets search_path); reopen() opens the last one again. */
function harness(): ConformanceHarness {
  const databases: string[] = []
  return {
    async open(options) {
      const url = await server.createSchema()
      databases.push(url)
      return createLTM({ backend: 'postgres', url, ...options })
    },
    async reopen(options) {
      return createLTM({ backend: 'postgres', url: databases.at(-1)!, ...options })
    },
    async cleanup() {
      for (const url of databases.splice(0)) await server.dropSchema(url)
    },
  }
}

runConformance('postgres 15', harness(), migrate)

// ------------------------------------------------------------------------------------------------
// Statements the SDK sends, counted where pg sends them: its connections name themselves agent-ltm.

const sent: string[] = []
type Query = (this: pg.Client, ...args: unknown[]) => unknown
const originalQuery = pg.Client.prototype.query as unknown as Query
beforeAll(() => {
  ;(pg.Client.prototype as unknown as { query: Query }).query = function (this: pg.Client, ...args: unknown[]) {
    if ((this as unknown as { connectionParameters?: { application_name?: string } }).connectionParameters?.application_name === 'agent-ltm') {
      const [first] = args
      sent.push(typeof first === 'string' ? first : String((first as { text?: unknown })?.text))
    }
    return originalQuery.apply(this, args)
  }
})
afterAll(() => {
  ;(pg.Client.prototype as unknown as { query: Query }).query = originalQuery
})

/** Handles, raw clients and schemas made by a test, released after it. */
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

/** A handle on a fresh schema of the shared server (or on `on`). */
async function fresh(options: Partial<Omit<PostgresOptions, 'backend' | 'url'>> = {}, on: () => PostgresServer = () => server): Promise<{ ltm: LTM; url: string }> {
  const url = await on().createSchema()
  cleanups.push(() => on().dropSchema(url))
  const ltm = await createLTM({ backend: 'postgres', url, ...options })
  cleanups.push(() => ltm.close())
  return { ltm, url }
}

/** A plain pg connection as the test role on the same schema: "another connection". */
async function rawClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => undefined)
  await client.connect()
  cleanups.push(() => client.end())
  return client
}

async function statementsOf(run: () => Promise<unknown>): Promise<string[]> {
  const before = sent.length
  const result = await run()
  if (result && typeof result === 'object' && 'success' in result) expect((result as { success: unknown }).success, show(result)).toBe(true)
  return sent.slice(before).map((text) => text.trim().split(/\s+/).slice(0, 4).join(' '))
}

describe('postgres: one round trip per operation', () => {
  it('every single operation, a batch of 500 and a search are one statement; a transaction adds BEGIN and COMMIT', async () => {
    const { ltm, url } = await fresh()
    expect(await statementsOf(() => ltm.store('k', 'hello round trips', { n: 1 }))).toHaveLength(1)
    expect(await statementsOf(() => ltm.store('k', 'hello round trips', { n: 1 }))).toHaveLength(1) // deduplicated
    expect(await statementsOf(() => ltm.retrieve('k'))).toHaveLength(1)
    expect(await statementsOf(() => ltm.search('round trips', { n: 1 }))).toHaveLength(1)
    expect(await statementsOf(() => ltm.search('round*', null, 5, { match: 'all' }))).toHaveLength(1)
    expect(await statementsOf(() => ltm.search(null, { n: { $gte: 1 } }))).toHaveLength(1)
    const batch = Array.from({ length: 500 }, (_, i) => ({ key: `b${i}`, value: `batch memory ${i}`, metadata: { i } }))
    expect(await statementsOf(() => ltm.storeBatch(batch))).toHaveLength(1)
    expect(await statementsOf(() => ltm.storeBatch([...batch.slice(0, 3), { key: 'b0', value: 'again' }]))).toHaveLength(1) // a key twice
    expect(await statementsOf(() => ltm.retrieveBatch(['k', 'b1', 'b499', 'missing']))).toHaveLength(1)
    expect(await statementsOf(() => ltm.delete('k'))).toHaveLength(1)
    expect(await statementsOf(() => ltm.cleanupExpired())).toHaveLength(1)
    expect(await statementsOf(() => ltm.stats())).toHaveLength(1)
    expect(await statementsOf(async () => {
      for await (const _ of ltm.iterateAll({ pageSize: 1000 })) {
        // drain: 501 memories, one page
      }
    })).toHaveLength(1)
    const tx = await statementsOf(() =>
      ltm.transaction(async (t) => {
        ok(await t.store('t1', 'in a transaction'))
        ok(await t.retrieve('t1'))
        ok(await t.search('transaction'))
      }),
    )
    expect(tx).toHaveLength(5)
    expect(tx[0]).toBe('BEGIN')
    expect(tx[4]).toBe('COMMIT')
    // Opening a database whose schema is current reads its version: one statement.
    const before = sent.length
    const again = await createLTM({ backend: 'postgres', url })
    cleanups.push(() => again.close())
    expect(sent.length - before).toBe(1)
    expect(expectFound(await again.retrieve('t1')).value).toBe('in a transaction')
  })

  it('writes on one handle land in the order they were made, across pooled connections', async () => {
    const { ltm } = await fresh({ pool: 5 })
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => ltm.store('hot', i)))
    expect(results.map((r) => r.success && r.stored && r.created)).toEqual([true, ...Array.from({ length: 39 }, () => false)])
    expect(expectFound(await ltm.retrieve('hot')).value).toBe(39)
  })
})

describe('postgres: transactions are real BEGIN/COMMIT', () => {
  it('other connections see nothing until COMMIT', async () => {
    const { ltm, url } = await fresh()
    const other = await rawClient(url)
    const visible = async (key: string): Promise<boolean> => (await other.query('SELECT 1 FROM ltm_memories WHERE key = $1', [key])).rowCount === 1
    const result = await ltm.transaction(async (tx) => {
      ok(await tx.store('tx-1', 'inside the transaction'))
      expect(await visible('tx-1')).toBe(false)
      expect(expectFound(await tx.retrieve('tx-1')).value).toBe('inside the transaction')
      return 'done'
    })
    expect(result).toEqual({ success: true, committed: true, rolled_back: false, value: 'done' })
    expect(await visible('tx-1')).toBe(true)
  })

  it('a throwing callback rolls back writes, deletes and the namespace statistics', async () => {
    const { ltm, url } = await fresh()
    ok(await ltm.store('keep', 'original words'))
    ok(await ltm.store('gone', 'still here'))
    const other = await rawClient(url)
    const counts = async () => (await other.query('SELECT doc_count, token_count FROM ltm_namespaces ORDER BY name')).rows
    const before = await counts()
    const boom = new Error('boom')
    await expect(
      ltm.transaction(async (tx) => {
        ok(await tx.store('keep', 'changed to other words'))
        ok(await tx.delete('gone'))
        ok(await tx.storeBatch([{ key: 'new', value: 'temporary' }]))
        ok(await tx.namespace('elsewhere').store('n', 'also temporary'))
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(expectFound(await ltm.retrieve('keep')).value).toBe('original words')
    expect(expectFound(await ltm.retrieve('gone')).value).toBe('still here')
    expect(await ltm.retrieve('new')).toMatchObject({ found: false })
    expect(await counts()).toEqual(before)
    expect((await other.query('SELECT count(*)::int AS n FROM ltm_memories')).rows[0].n).toBe(2)
  })

  it('a statement that fails aborts the transaction: later calls get the failure and nothing is kept', async () => {
    const { ltm, url } = await fresh({ lockTimeoutMs: 200 })
    ok(await ltm.store('locked', 'original'))
    const other = await rawClient(url)
    await other.query('BEGIN')
    await other.query(`SELECT 1 FROM ltm_memories WHERE key = 'locked' FOR UPDATE`)
    const result = await ltm.transaction(async (tx) => {
      ok(await tx.store('free', 1))
      expect(await tx.store('locked', 'changed')).toMatchObject({ success: false, error_type: 'lock_timeout' })
      expect(await tx.retrieve('free')).toMatchObject({ success: false, error_type: 'lock_timeout' })
      return 'returned normally'
    })
    expect(result).toMatchObject({ success: false, error_type: 'lock_timeout', committed: false, rolled_back: true })
    await other.query('ROLLBACK')
    expect(await ltm.retrieve('free')).toMatchObject({ success: true, found: false })
    expect(expectFound(await ltm.retrieve('locked')).value).toBe('original')
  })
})

describe('postgres: search', () => {
  /** The same memories and queries on the embedded backend and here: same keys, same order, same scores. */
  async function expectParity(items: BatchEntry[], queries: Array<[string, MetadataFilter | null, SearchOptions?]>): Promise<number> {
    const { ltm } = await fresh()
    const embedded = await createLTM({ backend: 'sqlite', path: ':memory:' })
    cleanups.push(() => embedded.close())
    ok(await ltm.storeBatch(items))
    ok(await embedded.storeBatch(items))
    let hits = 0
    for (const [text, filter, options] of queries) {
      const expected = ok(await embedded.search(text, filter, 50, options)).results
      const actual = ok(await ltm.search(text, filter, 50, options)).results
      const label = `${JSON.stringify(text)} ${JSON.stringify(filter)} ${JSON.stringify(options ?? {})}`
      expect(actual.map((r) => r.key), label).toEqual(expected.map((r) => r.key))
      actual.forEach((r, i) => expect(Math.abs(r.score - expected[i]!.score), `${label}: ${r.key}`).toBeLessThan(1e-9))
      hits += actual.length
    }
    return hits
  }

  it('ranks exactly as the embedded backend: 200 memories, 20 queries, with and without filters', async () => {
    const corpus = toBatch(memories(0, 200, 7))
    const queries = queryList()
      .filter((_, i) => i % 4 === 0)
      .slice(0, 20)
      .map((q, i): [string, MetadataFilter | null, SearchOptions?] => [q.text, i % 3 === 0 ? { priority: { $gte: 3 } } : null, i % 5 === 4 ? { match: 'all' } : undefined])
    const prefixes = queryList()
      .slice(0, 5)
      .map((q): [string, MetadataFilter | null] => [`${q.text.split(' ')[0]!.slice(0, 3)}*`, null])
    expect(await expectParity(corpus, [...queries, ...prefixes])).toBeGreaterThan(100)
  })

  it("matches the SDK's terms even where PostgreSQL's parser splits words differently", async () => {
    const items = [
      { key: 'cant', value: "I can't swim" },
      { key: 'can', value: 'I can swim' },
      { key: 'snake', value: 'snake_case names' },
      { key: 'words', value: 'a snake and a case' },
      { key: 'float', value: 'version 1.5 and 1.5e3' },
      { key: 'host', value: 'see example.com or e.g the docs' },
      { key: 'dunder', value: 'def __init__ self' },
      { key: 'cjk', value: '我喜欢喝咖啡 東京でコーヒー' },
      { key: 'accents', value: 'Café crème brûlée' },
      { key: 'apostrophes', value: "l'été d'un garçon" },
    ]
    const queries: Array<[string, MetadataFilter | null, SearchOptions?]> = [
      ["can't", null], ['can', null], ['can*', null], ['snake_case', null], ['snake', null], ['case', null], ['1.5', null], ['1.5*', null],
      ['1.5e3', null], ['example.com', null], ['example', null], ['e.g', null], ['__init__', null], ['init', null], ['咖啡', null],
      ['コーヒー', null], ['cafe creme', null], ['bru*', null], ["l'été", null], ['ete', null], ["d'un garcon", null, { match: 'all' }],
      ['+can -swim', null, { syntax: 'raw' }], ['+snake case', null, { syntax: 'raw' }], ['swim -can', null, { syntax: 'raw' }],
    ]
    expect(await expectParity(items, queries)).toBeGreaterThan(10)
  })

  it('any text is a safe query: tsquery operators, quotes, backslashes and SQL are words', async () => {
    const { ltm } = await fresh()
    ok(await ltm.store('known', 'known value with a b x words'))
    ok(await ltm.store('ops', 'alpha beta gamma'))
    const hostile = [
      '&', '|', '!', '!!', '(', ')', ':', '*', '<->', '<2>', "'", "''", '"', '\\', '\\\\', "'a':*", 'a&b', 'a|b', '!a', '(a', 'a)', 'a:*',
      'a <-> b', 'a <2> b', "alpha' | 'beta", "alpha:* & !beta", 'alpha:A', "';DROP TABLE ltm_memories;--", '$1', '$$', '::tsquery', '%', '_',
      '\u0000', 'a\u0000b', '🎉', 'known*', 'a -known', '+known', 'OR', 'or known',
    ]
    for (const text of hostile) {
      for (const options of [undefined, { match: 'all' as const }, { syntax: 'raw' as const }]) {
        const result = await ltm.search(text, null, 10, options)
        expect(result, `${JSON.stringify(text)} ${JSON.stringify(options)}`).toMatchObject({ success: true })
      }
    }
    expect(ok(await ltm.search('a&b')).results.map((r) => r.key)).toEqual(['known'])
    expect(ok(await ltm.search("alpha' | 'beta", null, 10, { match: 'all' })).results.map((r) => r.key)).toEqual(['ops'])
    expect(ok(await ltm.search('alpha:* & !beta')).results.map((r) => r.key)).toEqual(['ops'])
    expect(expectFound(await ltm.retrieve('known')).value).toBe('known value with a b x words')
  })

  it("ranking 'ts_rank_cd' matches the same memories, with positive scores following term frequency", async () => {
    const { url } = await fresh()
    const bm25 = await createLTM({ backend: 'postgres', url })
    const cd = await createLTM({ backend: 'postgres', url, ranking: 'ts_rank_cd' })
    cleanups.push(() => bm25.close(), () => cd.close())
    ok(await bm25.storeBatch([
      { key: 'once', value: 'coffee in the morning' },
      { key: 'thrice', value: 'coffee coffee coffee all day' },
      { key: 'tea', value: 'tea in the afternoon' },
      { key: 'both', value: 'coffee then tea', metadata: { k: 1 } },
    ]))
    for (const [text, filter, options] of [['coffee', null], ['coffee tea', null], ['coffee tea', null, { match: 'all' }], ['cof*', { k: 1 }]] as const) {
      const a = ok(await bm25.search(text, filter, 10, options)).results.map((r) => r.key).sort()
      const b = ok(await cd.search(text, filter, 10, options)).results
      expect(b.map((r) => r.key).sort(), text).toEqual(a)
      for (const r of b) expect(r.score).toBeGreaterThan(0)
    }
    const coffee = ok(await cd.search('coffee')).results
    expect(coffee[0]!.key).toBe('thrice')
    expect(coffee[0]!.score).toBeGreaterThan(coffee[1]!.score)
    expect(ok(await cd.stats())).toMatchObject({ ranking: 'ts_rank_cd' })
  })

  it('a memory too large for a tsvector (over 1 MB of lexemes) is stored and still found', async () => {
    const { ltm, url } = await fresh()
    const words = Array.from({ length: 70_000 }, (_, i) => `w${i.toString(36)}x`)
    ok(await ltm.store('huge', words.join(' '), { size: 'huge' }))
    ok(await ltm.store('small', 'w1x and something else'))
    const other = await rawClient(url)
    expect((await other.query(`SELECT key, tsv IS NULL AS unindexed FROM ltm_memories ORDER BY key`)).rows).toEqual([
      { key: 'huge', unindexed: true },
      { key: 'small', unindexed: false },
    ])
    expect(ok(await ltm.search('w1x')).results.map((r) => r.key).sort()).toEqual(['huge', 'small'])
    expect(ok(await ltm.search('w1ekx')).results.map((r) => r.key)).toEqual(['huge'])
    expect(ok(await ltm.search('something')).results.map((r) => r.key)).toEqual(['small'])
    expect(ok(await ltm.search('w1x', { size: 'huge' })).results.map((r) => r.key)).toEqual(['huge'])
  }, 30_000)
})

describe('postgres: bad input gets a typed error and loses nothing', () => {
  it('U+0000 in keys, namespaces, metadata and filters, and lone surrogates in metadata, are invalid_input', async () => {
    const { ltm } = await fresh()
    ok(await ltm.store('existing', 'original', { tag: 'x' }))
    expectInvalid(await ltm.store('a\u0000b', 'v'))
    expectInvalid(await ltm.retrieve('a\u0000b'))
    expectInvalid(await ltm.delete('a\u0000b'))
    expectInvalid(await ltm.retrieveBatch(['existing', 'a\u0000b']))
    expectInvalid(await ltm.store('existing', 'changed', { note: 'nul \u0000 inside' }))
    expectInvalid(await ltm.store('existing', 'changed', { ['key\u0000']: 1 }))
    expectInvalid(await ltm.store('existing', 'changed', { half: '\ud800' }))
    expectInvalid(await ltm.namespace('user\u0000x').store('k', 'v'))
    const batch = await ltm.storeBatch([{ key: 'fresh', value: 1 }, { key: 'existing', value: 'changed' }, { key: 'x\u0000', value: 2 }])
    expect(batch).toMatchObject({ success: false, error_type: 'invalid_input', stored_count: 0 })
    expectInvalid(await ltm.search('original', { tag: 'a\u0000' }))
    expectInvalid(await ltm.search(null, { ['t\u0000ag']: { $exists: true } }))
    expect(await ltm.retrieve('fresh')).toMatchObject({ success: true, found: false })
    expect(expectFound(await ltm.retrieve('existing'))).toMatchObject({ value: 'original', metadata: { tag: 'x' } })
    // U+0000 inside a value is fine: values are stored as JSON text, where it is an escape.
    ok(await ltm.store('nul-value', { text: 'a\u0000b', emoji: '\ud83c\udf89', half: '\ud800' }))
    expect(expectFound(await ltm.retrieve('nul-value')).value).toEqual({ text: 'a\u0000b', emoji: '\ud83c\udf89', half: '\ud800' })
  })

  it('a namespace name over PostgreSQL index limits is invalid_input, not a crash', async () => {
    const { ltm } = await fresh()
    // Incompressible, so its index entry stays over the 2704-byte btree limit after compression.
    const result = await ltm.namespace(randomBytes(2000).toString('hex')).store('k', 'v')
    expect(result).toMatchObject({ success: false, error_type: 'invalid_input' })
    ok(await ltm.store('after', 'still fine'))
    expect(ok(await ltm.stats())).toMatchObject({ memories: 1 })
  })
})

describe('postgres: several handles on one database', () => {
  it('handles opening a new database at once create the schema once, and concurrent writers keep the statistics exact', async () => {
    const url = await server.createSchema()
    cleanups.push(() => server.dropSchema(url))
    const handles = await Promise.all(Array.from({ length: 3 }, () => createLTM({ backend: 'postgres', url, pool: 3 })))
    cleanups.push(...handles.map((h) => () => h.close()))
    await Promise.all(
      handles.flatMap((ltm, h) => [
        ...Array.from({ length: 40 }, (_, i) => ltm.store(`h${h}-${i}`, `writer ${h} item ${i} shared words`)),
        ltm.storeBatch(Array.from({ length: 30 }, (_, i) => ({ key: `batch-${i}`, value: `batch ${i} from ${h}`, metadata: { h } }))),
        ltm.namespace('other').store('x', 'other namespace'),
      ]),
    )
    const other = await rawClient(url)
    const { rows } = await other.query(`SELECT n.name, n.doc_count::int, n.token_count::int, count(m.*)::int AS rows, COALESCE(sum(m.doc_len), 0)::int AS tokens
      FROM ltm_namespaces n LEFT JOIN ltm_memories m ON m.ns = n.name GROUP BY n.name, n.doc_count, n.token_count ORDER BY n.name`)
    expect(rows).toEqual([
      { name: '', doc_count: 150, token_count: rows[0].tokens, rows: 150, tokens: rows[0].tokens },
      { name: 'other', doc_count: 1, token_count: 2, rows: 1, tokens: 2 },
    ])
    expect(ok(await handles[0]!.search('shared', null, 500)).count).toBe(120)
  })

  it('a new key another connection inserts meanwhile: the store reports what it did (an update), single and batched', async () => {
    const { ltm, url } = await fresh()
    const other = await createLTM({ backend: 'postgres', url })
    cleanups.push(() => other.close())
    const watcher = await rawClient(url)
    const waitingWriters = async (): Promise<number> =>
      Number((await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'agent-ltm' AND wait_event_type = 'Lock'`)).rows[0].n)
    for (const [key, write] of [
      ['single', (k: string) => ltm.store(k, 'second writer')],
      ['batched', (k: string) => ltm.storeBatch([{ key: k, value: 'second writer' }, { key: `${k}-fresh`, value: 'new' }])],
    ] as const) {
      let pending: Promise<unknown> | undefined
      const first = await other.transaction(async (tx) => {
        ok(await tx.store(key, 'first writer')) // inserted, not yet committed: invisible to the other connection
        pending = write(key) // decides "new key", then its INSERT waits for this transaction
        const deadline = Date.now() + 10_000
        while ((await waitingWriters()) === 0) {
          if (Date.now() > deadline) throw new Error('the second writer never waited on the first')
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      })
      expect(first).toMatchObject({ success: true, committed: true })
      const result = ok((await pending) as Parameters<typeof ok>[0]) as { created?: boolean; results?: Array<{ created?: boolean }> }
      if (key === 'single') expect(result).toMatchObject({ stored: true, created: false })
      else expect(result.results!.map((r) => r.created)).toEqual([false, true])
      expect(expectFound(await ltm.retrieve(key)).value).toBe('second writer')
    }
  })
})

describe('postgres: schema upgrades', () => {
  it('a version 1 database is upgraded on open: ltm_write replaced, version 2, memories kept', async () => {
    const { ltm, url } = await fresh()
    ok(await ltm.store('kept', 'from before the upgrade'))
    await ltm.close()
    const other = await rawClient(url)
    // What version 1 left: its own ltm_write (here a stand-in that would fail if called) and version 1.
    await other.query(`CREATE OR REPLACE FUNCTION ltm_write(entries json, now_ms bigint) RETURNS TABLE (ord integer, out_status text, out_expires_at bigint)
      LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'version 1 ltm_write'; END $$`)
    await other.query('UPDATE ltm_schema SET version = 1')
    const upgraded = await createLTM({ backend: 'postgres', url })
    cleanups.push(() => upgraded.close())
    expect((await other.query('SELECT version FROM ltm_schema')).rows).toEqual([{ version: 2 }])
    expect(ok(await upgraded.store('new', 'after'))).toMatchObject({ created: true })
    expect(expectFound(await upgraded.retrieve('kept')).value).toBe('from before the upgrade')
  })
})

describe('postgres: options and settings', () => {
  it('invalid options throw LtmError invalid_argument', async () => {
    for (const options of [
      { url: 'mysql://nope' },
      { url: server.url, pool: 0 },
      { url: server.url, pool: { max: 1.5 } },
      { url: server.url, lockTimeoutMs: -1 },
      { url: server.url, ranking: 'tf-idf' },
    ]) {
      await expect(createLTM({ backend: 'postgres', ...options } as PostgresOptions), JSON.stringify(options)).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
    }
    await expect(createLTM({ backend: 'postgres' } as PostgresOptions)).rejects.toBeInstanceOf(LtmError)
  })

  it('without pg installed, every call returns dependency_missing with the install command', async () => {
    vi.doMock('pg', () => {
      throw new Error("Cannot find package 'pg'")
    })
    try {
      const { postgresBackend } = await import('../src/backends/postgres.js')
      const failure = await postgresBackend.open({ backend: 'postgres', url: server.url }).catch((error: unknown) => error)
      expect(failure).toMatchObject({ name: 'LtmFailure', errorType: 'dependency_missing' })
      expect((failure as Error).message).toContain('npm install pg')
    } finally {
      vi.doUnmock('pg')
    }
  })

  it('opens from agent settings (ltm_backend, ltm_url, ltm_pool)', async () => {
    const url = await server.createSchema()
    cleanups.push(() => server.dropSchema(url))
    const ltm = await createLTMFromSettings({ ltm_backend: 'postgres', ltm_url: '${PG_URL}', ltm_pool: 2 }, { env: { PG_URL: url } })
    cleanups.push(() => ltm.close())
    ok(await ltm.store('from-settings', 'yes'))
    expect(ok(await ltm.stats())).toMatchObject({ backend: 'postgres', engine: 'pg', pool: { total: 1 } })
  })
})

// ------------------------------------------------------------------------------------------------
// Faults of a real server: its own, since one test kills it.

describe('postgres: faults give typed errors and leave data unchanged', () => {
  let own: PostgresServer
  beforeAll(async () => {
    own = await startPostgresServer()
  }, 60_000)
  afterAll(async () => {
    await own?.stop()
  }, 30_000)
  const onOwn = (): PostgresServer => own

  it('a row lock held past lockTimeoutMs gives lock_timeout; the batch is all or nothing', async () => {
    const { ltm, url } = await fresh({ lockTimeoutMs: 200 }, onOwn)
    ok(await ltm.store('held', 'original'))
    const other = await rawClient(url)
    await other.query('BEGIN')
    await other.query(`SELECT 1 FROM ltm_memories WHERE key = 'held' FOR UPDATE`)
    const started = Date.now()
    const single = await ltm.store('held', 'changed')
    expect(single).toMatchObject({ success: false, error_type: 'lock_timeout' })
    expect((single as { error: string }).error).toMatch(/lockTimeoutMs.*55P03/)
    expect(Date.now() - started).toBeLessThan(3000)
    const batch = await ltm.storeBatch([{ key: 'new-1', value: 1 }, { key: 'held', value: 'changed' }])
    expect(batch).toMatchObject({ success: false, error_type: 'lock_timeout', stored_count: 0 })
    expect(expectFound(await ltm.retrieve('held')).value).toBe('original') // readers do not wait for row locks
    await other.query('ROLLBACK')
    expect(await ltm.retrieve('new-1')).toMatchObject({ found: false })
    ok(await ltm.store('held', 'changed'))
    expect(expectFound(await ltm.retrieve('held')).value).toBe('changed')
  })

  it('statementTimeoutMs cancels a statement (57014) with lock_timeout', async () => {
    const { ltm, url } = await fresh({ lockTimeoutMs: 0, statementTimeoutMs: 300 }, onOwn)
    ok(await ltm.store('held', 'original'))
    const other = await rawClient(url)
    await other.query('BEGIN')
    await other.query('LOCK TABLE ltm_memories IN ACCESS EXCLUSIVE MODE')
    const result = await ltm.search('original')
    expect(result).toMatchObject({ success: false, error_type: 'lock_timeout' })
    expect((result as { error: string }).error).toContain('57014')
    await other.query('ROLLBACK')
    expect(ok(await ltm.search('original')).results.map((r) => r.key)).toEqual(['held'])
  })

  it('a wrong password gives auth_failed from every call, without any password in the message', async () => {
    const ltm = await createLTM({ backend: 'postgres', url: own.urlFor('ltm_test', 'Wr0ng-Secret!pw') })
    cleanups.push(() => ltm.close())
    const result = await ltm.store('k', 'v')
    expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
    expect((result as { error: string }).error).toContain('28P01')
    for (const secret of ['Wr0ng-Secret!pw', encodeURIComponent('Wr0ng-Secret!pw'), own.password]) expect(JSON.stringify(result)).not.toContain(secret)
    expect(await ltm.search('v')).toMatchObject({ success: false, error_type: 'auth_failed' })
    // The password as a URL parameter, as pg also reads it.
    const asParameter = await createLTM({ backend: 'postgres', url: `postgres://ltm_test@${own.host}:${own.port}/ltm_test?password=Param-Secret-77` })
    cleanups.push(() => asParameter.close())
    const refused = await asParameter.retrieve('k')
    expect(refused).toMatchObject({ success: false, error_type: 'auth_failed' })
    expect(JSON.stringify(refused)).not.toContain('Param-Secret-77')
    const right = await createLTM({ backend: 'postgres', url: own.url })
    cleanups.push(() => right.close())
    expect(await right.retrieve('k')).toMatchObject({ success: true, found: false })
  })

  it('no password against a server that asks for one: auth_failed saying so (not a connection error)', async () => {
    const previous = process.env.PGPASSWORD
    delete process.env.PGPASSWORD
    try {
      const ltm = await createLTM({ backend: 'postgres', url: `postgres://ltm_test@${own.host}:${own.port}/ltm_test` })
      cleanups.push(() => ltm.close())
      const result = await ltm.store('k', 'v')
      expect(result).toMatchObject({ success: false, error_type: 'auth_failed', error: expect.stringMatching(/asks for a password and none was given/) })
      expect(await ltm.retrieve('k')).toMatchObject({ success: false, error_type: 'auth_failed' })
    } finally {
      if (previous !== undefined) process.env.PGPASSWORD = previous
    }
  })

  it('a database written by a newer schema version is refused with backend_error', async () => {
    const { ltm, url } = await fresh({}, onOwn)
    ok(await ltm.store('k', 'v'))
    const other = await rawClient(url)
    await other.query('UPDATE ltm_schema SET version = 99')
    const newer = await createLTM({ backend: 'postgres', url })
    cleanups.push(() => newer.close())
    const result = await newer.retrieve('k')
    expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
    expect((result as { error: string }).error).toMatch(/version 99, newer than this agent-ltm understands \(2\)/)
    expect(await newer.store('k2', 'v')).toMatchObject({ success: false, error_type: 'backend_error' })
    expect((await other.query('SELECT count(*)::int AS n FROM ltm_memories')).rows[0].n).toBe(1)
  })

  it('a server that stops answering gives connection_timeout after statementTimeoutMs plus 2 s; a write sent meanwhile lands whole or not at all', async () => {
    const { ltm } = await fresh({ statementTimeoutMs: 300, pool: { max: 2, connectTimeoutMs: 1000 } }, onOwn)
    ok(await ltm.storeBatch([{ key: 'a', value: 'before the pause' }, { key: 'b', value: 'before the pause' }]))
    own.pause()
    try {
      const started = Date.now()
      expect(await ltm.retrieve('a')).toMatchObject({ success: false, error_type: 'connection_timeout' })
      expect(Date.now() - started).toBeLessThan(5000)
      // Its answer is lost, but the server holds the request and runs it once it resumes.
      expect(await ltm.storeBatch([{ key: 'a', value: 'while paused' }, { key: 'b', value: 'while paused' }])).toMatchObject({
        success: false,
        error_type: 'connection_timeout',
      })
    } finally {
      own.resume()
    }
    const batch = ok(await ltm.retrieveBatch(['a', 'b']))
    const values = Object.values(batch.entries).map((entry) => (entry as { value: unknown }).value)
    expect([['before the pause', 'before the pause'], ['while paused', 'while paused']]).toContainEqual(values)
    ok(await ltm.store('c', 'after the pause'))
  }, 20_000)

  it('a killed server gives connection_timeout, mid-transaction too, and the handle recovers once it is back', async () => {
    const { ltm, url } = await fresh({ pool: { max: 3, connectTimeoutMs: 2000 } }, onOwn)
    ok(await ltm.storeBatch([{ key: 'a', value: 'before the crash' }, { key: 'b', value: 'also before' }]))
    await Promise.all([ltm.retrieve('a'), ltm.retrieve('b'), ltm.search('crash')]) // several pooled connections

    const inTransaction = ltm.transaction(async (tx) => {
      ok(await tx.store('a', 'changed inside the transaction'))
      await own.kill()
      expect(await tx.store('c', 'after the kill')).toMatchObject({ success: false, error_type: 'connection_timeout' })
    })
    expect(await inTransaction).toMatchObject({ success: false, error_type: 'connection_timeout', rolled_back: true })

    for (const call of [() => ltm.store('d', 'while down'), () => ltm.retrieve('a'), () => ltm.search('crash'), () => ltm.storeBatch([{ key: 'e', value: 1 }]), () => ltm.cleanupExpired()]) {
      const result = await call()
      expect(result, show(result)).toMatchObject({ success: false, error_type: 'connection_timeout' })
      expect(JSON.stringify(result)).not.toContain(own.password)
    }
    // A handle opened while the server is down recovers too (its open is retried on each call).
    const openedWhileDown = await createLTM({ backend: 'postgres', url, pool: { connectTimeoutMs: 2000 } })
    cleanups.push(() => openedWhileDown.close())
    expect(await openedWhileDown.retrieve('a')).toMatchObject({ success: false, error_type: 'connection_timeout' })

    await own.restart()
    expect(expectFound(await ltm.retrieve('a')).value).toBe('before the crash')
    for (const key of ['c', 'd', 'e']) expect(await ltm.retrieve(key)).toMatchObject({ success: true, found: false })
    ok(await ltm.store('f', 'after the restart'))
    expect(ok(await ltm.search('before crash restart')).results.map((r) => r.key).sort()).toEqual(['a', 'b', 'f'])
    expect(expectFound(await openedWhileDown.retrieve('f')).value).toBe('after the restart')
  }, 30_000)
})

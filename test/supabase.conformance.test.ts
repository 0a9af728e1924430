// Supabase through the real @supabase/supabase-js and the SDK's transport, against
// test/servers/postgrest-server.ts: PostgREST's subset over a real PostgreSQL 15 with supabase/agent-ltm.sql
// installed. Every store the suite opens is a new signed-in user on the same table: row-level security
// is what keeps them apart.
import { randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLTM, createLTMFromSettings, migrate, type BatchEntry, type LTM, type MetadataFilter, type SupabaseOptions } from '../src/index.node.js'
import { memories, queryList, toBatch } from '../bench/corpus.js'
import { runConformance } from './conformance/suite.js'
import { ok } from './conformance/harness.js'
import { startPostgresServer, type PostgresServer } from './servers/postgres-server.js'
import { startPostgrestServer, type PostgrestServer } from './servers/postgrest-server.js'

const SQL = readFileSync(new URL('../supabase/agent-ltm.sql', import.meta.url), 'utf8')
let database: PostgresServer
let server: PostgrestServer

/** A superuser URL for a fresh database of the test PostgreSQL. */
async function freshDatabase(): Promise<string> {
  const url = new URL(await database.createDatabase())
  const admin = new URL(database.adminUrl)
  admin.pathname = url.pathname
  return admin.toString()
}

beforeAll(async () => {
  database = await startPostgresServer()
  server = await startPostgrestServer({ adminUrl: await freshDatabase(), setupSql: SQL })
}, 60_000)
afterAll(async () => {
  await server?.close()
  await database?.stop()
})

const asUser = (userId: string, extra: Partial<SupabaseOptions> = {}): SupabaseOptions => ({ backend: 'supabase', url: server.url, key: server.anonKey, accessToken: server.userToken(userId), ...extra })

let lastUser = ''
runConformance(
  'supabase (supabase-js, PostgREST subset over real PostgreSQL, one user per store)',
  {
    transactions: 'batched',
    async open(extra) {
      lastUser = randomUUID()
      return createLTM({ ...asUser(lastUser), ...extra })
    },
    reopen: (extra) => createLTM({ ...asUser(lastUser), ...extra }),
  },
  migrate,
)

describe('supabase: requests', () => {
  it('every operation is exactly one HTTP request (a batch of 500 too); opening is one', async () => {
    const operations = (): number => server.log.filter((entry) => entry.method === 'POST').length
    const before = operations()
    const ltm: LTM = await createLTM(asUser(randomUUID()))
    expect(operations() - before).toBe(1)
    const cost = async (run: () => Promise<unknown>): Promise<number> => {
      const start = operations()
      ok((await run()) as never)
      return operations() - start
    }
    expect(await cost(() => ltm.store('k', 'hello round trips', { n: 1 }))).toBe(1)
    expect(await cost(() => ltm.retrieve('k'))).toBe(1)
    expect(await cost(() => ltm.search('round trips', { n: 1 }))).toBe(1)
    expect(await cost(() => ltm.search(null, { n: 1 }))).toBe(1)
    expect(await cost(() => ltm.storeBatch(Array.from({ length: 500 }, (_, i) => ({ key: `b${i}`, value: `batch memory ${i}` }))))).toBe(1)
    expect(await cost(() => ltm.retrieveBatch(['k', 'b1', 'b499']))).toBe(1)
    expect(await cost(() => ltm.delete('k'))).toBe(1)
    expect(await cost(() => ltm.cleanupExpired())).toBe(1)
    // A transaction: a read per write (what it reports, and the version its commit checks), one commit.
    expect(await cost(() => ltm.transaction(async (tx) => {
      await tx.store('t1', 'one')
      await tx.store('t2', 'two')
    }))).toBe(3)
    await ltm.close()
  })

  it('what supabase-js sends: POST /rest/v1/rpc/<fn>, apikey and the user\'s bearer token, Content-Profile, a JSON object of named arguments', async () => {
    const user = randomUUID()
    const ltm = await createLTM(asUser(user))
    server.log.length = 0
    ok(await ltm.store('k', { a: 1 }, { tag: 'x' }))
    ok(await ltm.search('anything', { tag: 'x' }, 5))
    const [write, search] = server.log
    expect(write).toMatchObject({ method: 'POST', path: '/rest/v1/rpc/agent_ltm_write', status: 200, code: null })
    expect(write!.headers).toMatchObject({
      apikey: 'anon key',
      authorization: 'Bearer <jwt role=authenticated>',
      'content-type': 'application/json',
      'content-profile': 'public',
    })
    expect(write!.headers['x-client-info']).toMatch(/^supabase-js\/2\.\d+\.\d+/)
    expect(write!.headers['x-retry-count']).toBeUndefined()
    expect(JSON.parse(write!.body)).toEqual({
      p_entries: [{ namespace: '', key: 'k', value: '{"a":1}', metadata: '{"tag":"x"}', content_hash: expect.stringMatching(/^sha256:/), terms: '{"1":1}', length: 1, expires_at: null, explicit_expiry: false }],
      p_now: expect.any(Number),
    })
    expect(search).toMatchObject({ method: 'POST', path: '/rest/v1/rpc/agent_ltm_search', status: 200 })
    expect(JSON.parse(search!.body)).toEqual({
      p_namespace: '',
      p_terms: [{ term: 'anything', prefix: false, role: 0 }],
      p_filter: [{ path: ['tag'], op: '$eq', value: 'x' }],
      p_limit: 5,
      p_now: expect.any(Number),
    })
    await ltm.close()
  })
})

describe('supabase: transactions', () => {
  it('a commit after another writer changed a memory the transaction writes or deletes is a conflict, and writes nothing', async () => {
    const user = randomUUID()
    const [mine, theirs] = [await createLTM(asUser(user)), await createLTM(asUser(user))]
    ok(await mine.store('k', 'v0'))
    ok(await mine.store('gone', 'still here'))
    const cases: Array<[string, (tx: Parameters<Parameters<LTM['transaction']>[0]>[0]) => Promise<unknown>, () => Promise<unknown>]> = [
      ['an update', (tx) => tx.store('k', 'from the transaction'), () => theirs.store('k', 'from another writer')],
      ['a memory it saw absent', (tx) => tx.store('fresh', 'from the transaction'), () => theirs.store('fresh', 'from another writer')],
      ['a delete', (tx) => tx.delete('gone'), () => theirs.store('gone', 'rewritten')],
    ]
    for (const [label, inside, interfere] of cases) {
      const result = await mine.transaction(async (tx) => {
        ok((await tx.store('bystander', label)) as never)
        ok((await inside(tx)) as never)
        ok((await interfere()) as never)
      })
      expect(result, label).toMatchObject({ success: false, error_type: 'conflict', committed: false, rolled_back: true })
      expect(await theirs.retrieve('bystander'), label).toMatchObject({ success: true, found: false })
    }
    expect(await theirs.retrieve('k')).toMatchObject({ value: 'from another writer' })
    expect(await theirs.retrieve('fresh')).toMatchObject({ value: 'from another writer' })
    expect(await theirs.retrieve('gone')).toMatchObject({ value: 'rewritten' })
    // Unchanged memories, or writes that only deduplicate elsewhere, do not conflict.
    expect(await mine.transaction(async (tx) => {
      ok(await tx.store('k', 'from the transaction'))
      ok(await theirs.store('gone', 'rewritten'))
      return 'done'
    })).toMatchObject({ success: true, committed: true, value: 'done' })
    expect(await theirs.retrieve('k')).toMatchObject({ value: 'from the transaction' })
  })
})

describe('supabase: search parity with the embedded backend', () => {
  it('the same 200 memories and 40 queries (prefix, all-words, filters): the same keys in the same order, scores equal to 1e-9', async () => {
    const sqlite = await createLTM({ backend: 'sqlite', path: ':memory:' })
    const supabase = await createLTM(asUser(randomUUID()))
    const corpus = toBatch(memories(0, 200, 7))
    ok(await sqlite.storeBatch(corpus))
    ok(await supabase.storeBatch(corpus))
    const queries = queryList().slice(0, 40).map((q, i) => ({
      text: i % 5 === 1 ? `${q.text.split(' ')[0]!.slice(0, 3)}*` : q.text,
      filter: (i % 3 === 0 ? { priority: { $gte: 3 } } : null) as MetadataFilter | null,
      options: i % 4 === 2 ? { match: 'all' as const } : undefined,
    }))
    let compared = 0
    for (const { text, filter, options } of queries) {
      const expected = ok(await sqlite.search(text, filter, 20, options)).results
      const actual = ok(await supabase.search(text, filter, 20, options)).results
      expect(actual.map((h) => h.key), `${text} ${JSON.stringify(filter)}`).toEqual(expected.map((h) => h.key))
      actual.forEach((hit, i) => expect(Math.abs(hit.score - expected[i]!.score), `${text}: ${hit.key}`).toBeLessThan(1e-9))
      compared += actual.length
    }
    expect(compared).toBeGreaterThan(100)
    await Promise.all([sqlite.close(), supabase.close()])
  })

  it('metadata filters with hostile keys and values, array paths and mixed types select what sqlite selects', async () => {
    const sqlite = await createLTM({ backend: 'sqlite', path: ':memory:' })
    const supabase = await createLTM(asUser(randomUUID()))
    const rows: BatchEntry[] = [
      { key: 'quotes', value: 'v', metadata: { "it's": 1, 'say "x"': 'a', '%s $3': true, tags: ['x', 'y'], nested: { 'k.e': 1 } } },
      { key: 'numbers', value: 'v', metadata: { n: 10, big: 1e300, neg: -0.5, tags: { 0: 'x' } } },
      { key: 'strings', value: 'v', metadata: { n: '10', s: 'é', t: 'Z', u: null } },
      { key: 'empty', value: 'v', metadata: {} },
    ]
    ok(await sqlite.storeBatch(rows))
    ok(await supabase.storeBatch(rows))
    const filters: MetadataFilter[] = [
      { "it's": 1 }, { 'say "x"': 'a' }, { '%s $3': true }, { 'tags.0': 'x' }, { tags: ['x', 'y'] }, { tags: { $in: [['x', 'y']] } },
      { n: { $gt: 9 } }, { n: { $gt: '1' } }, { big: { $gte: 1e299 } }, { neg: { $lt: 0 } }, { s: { $gt: 'z' } }, { t: { $lt: 'a' } },
      { u: null }, { u: { $exists: true } }, { u: { $ne: null } }, { n: { $nin: [10, '10'] } }, { 'nested.k': { $exists: false } },
    ]
    for (const filter of filters) {
      const expected = ok(await sqlite.search(null, filter, 10)).results.map((h) => h.key).sort()
      expect(ok(await supabase.search(null, filter, 10)).results.map((h) => h.key).sort(), JSON.stringify(filter)).toEqual(expected)
    }
    await Promise.all([sqlite.close(), supabase.close()])
  })

  it('settings: ltm_backend supabase with ltm_url, ltm_key and ltm_access_token', async () => {
    const user = randomUUID()
    const ltm = await createLTMFromSettings({ ltm_backend: 'supabase', ltm_url: server.url, ltm_key: '${SUPABASE_KEY}', ltm_access_token: '{{ secrets.token }}' }, { env: { SUPABASE_KEY: server.anonKey }, secrets: { token: server.userToken(user) } })
    ok(await ltm.store('from-settings', 'configured by keywords'))
    expect(await (await createLTM(asUser(user))).retrieve('from-settings')).toMatchObject({ found: true, value: 'configured by keywords' })
  })
})

describe('supabase: per-user memories (row-level security)', () => {
  it('two users on the same table see only their own memories; the anon key alone sees nothing', async () => {
    const [alice, bob] = [randomUUID(), randomUUID()]
    const a = await createLTM(asUser(alice))
    const b = await createLTM(asUser(bob))
    ok(await a.store('diary', 'alice writes about pangolins', { who: 'alice' }))
    ok(await b.store('diary', 'bob writes about narwhals', { who: 'bob' }))
    ok(await b.store('bob-only', 'bob pangolin note'))
    expect(await a.retrieve('diary')).toMatchObject({ found: true, value: 'alice writes about pangolins' })
    expect(await b.retrieve('diary')).toMatchObject({ found: true, value: 'bob writes about narwhals' })
    expect(await a.retrieve('bob-only')).toMatchObject({ success: true, found: false })
    expect((ok(await a.search('pangolins pangolin')).results).map((h) => h.key)).toEqual(['diary'])
    expect((ok(await b.search(null, { who: 'alice' })).results)).toEqual([])
    expect(await a.delete('bob-only')).toMatchObject({ success: true, deleted: false })
    expect(await b.retrieve('bob-only')).toMatchObject({ found: true })
    // BM25 statistics are per user too: bob's documents do not change alice's scores.
    const before = ok(await a.search('pangolins')).results[0]!.score
    ok(await b.storeBatch(Array.from({ length: 20 }, (_, i) => ({ key: `p${i}`, value: `pangolins everywhere ${i}` }))))
    expect(ok(await a.search('pangolins')).results[0]!.score).toBe(before)

    const anon = await createLTM({ backend: 'supabase', url: server.url, key: server.anonKey })
    const stored = await anon.store('k', 'v')
    expect(stored).toMatchObject({ success: false, error_type: 'auth_failed' })
    expect((stored as { error: string }).error).toMatch(/accessToken/)
    expect(await anon.retrieve('diary')).toMatchObject({ success: false, error_type: 'auth_failed' })
    expect(await anon.search('pangolins')).toMatchObject({ success: false, error_type: 'auth_failed' })
    await Promise.all([a.close(), b.close(), anon.close()])
  })

  it('the table itself: a user reads, updates and deletes only their rows, cannot write as another, and anon cannot read it', async () => {
    const [alice, bob] = [randomUUID(), randomUUID()]
    ok(await (await createLTM(asUser(alice))).store('mine', 'alice row'))
    ok(await (await createLTM(asUser(bob))).store('mine', 'bob row'))
    const client = (token?: string) =>
      createClient(server.url, server.anonKey, { accessToken: async () => token ?? null, realtime: { transport: class {} as never } })
    const asBob = client(server.userToken(bob))
    const rows = await asBob.from('agent_ltm_memories').select('owner,key,value')
    expect(rows.error).toBeNull()
    expect(rows.data).toEqual([{ owner: bob, key: 'mine', value: '"bob row"' }])
    const hijack = await asBob.from('agent_ltm_memories').update({ value: '"stolen"' }).eq('owner', alice).select()
    expect(hijack).toMatchObject({ error: null, data: [] })
    const erase = await asBob.from('agent_ltm_memories').delete().eq('owner', alice).select()
    expect(erase).toMatchObject({ error: null, data: [] })
    const forge = await asBob.from('agent_ltm_memories').insert({ owner: alice, ns: '', key: 'forged', value: '1', metadata: {}, metadata_json: '{}', content_hash: 'x', terms: {}, doc_len: 0, created_at: 0, updated_at: 0 })
    expect(forge).toMatchObject({ status: 403, error: { code: '42501' } })
    const anon = await client().from('agent_ltm_memories').select()
    expect(anon).toMatchObject({ status: 401, error: { code: '42501' } })
    const stillThere = await createLTM(asUser(alice))
    expect(await stillThere.retrieve('mine')).toMatchObject({ found: true, value: 'alice row' })
    expect(await stillThere.retrieve('forged')).toMatchObject({ found: false })
  })

  it('the service_role key has memories of its own, apart from every user\'s', async () => {
    const user = randomUUID()
    ok(await (await createLTM(asUser(user))).store('shared-key', 'user value'))
    const service = await createLTM({ backend: 'supabase', url: server.url, key: server.serviceRoleKey })
    expect(await service.retrieve('shared-key')).toMatchObject({ success: true, found: false })
    ok(await service.store('shared-key', 'server value'))
    expect(await (await createLTM(asUser(user))).retrieve('shared-key')).toMatchObject({ found: true, value: 'user value' })
    expect(await service.retrieve('shared-key')).toMatchObject({ found: true, value: 'server value' })
  })
})

describe('supabase: bad input gets a clear, typed error and loses nothing', () => {
  it('text PostgreSQL cannot hold (\\u0000 in a key, in metadata, in a namespace, in a filter) is invalid_input, and a batch stores nothing', async () => {
    const ltm = await createLTM(asUser(randomUUID()))
    ok(await ltm.store('existing', 'original', { n: 1 }))
    const badKey = await ltm.store('nul\u0000key', 'v')
    expect(badKey).toMatchObject({ success: false, error_type: 'invalid_input' })
    expect((badKey as { error: string }).error).toMatch(/\\u0000/)
    expect(await ltm.store('k', 'v', { note: 'a\u0000b' })).toMatchObject({ success: false, error_type: 'invalid_input' })
    expect(await ltm.namespace('ns\u0000x').store('k', 'v')).toMatchObject({ success: false, error_type: 'invalid_input' })
    expect(await ltm.search(null, { note: 'a\u0000b' })).toMatchObject({ success: false, error_type: 'invalid_input' })
    const batch = await ltm.storeBatch([{ key: 'fresh', value: 1 }, { key: 'existing', value: 'changed' }, { key: 'x\u0000', value: 2 }])
    expect(batch).toMatchObject({ success: false, error_type: 'invalid_input', stored_count: 0 })
    expect(await ltm.retrieve('fresh')).toMatchObject({ success: true, found: false })
    expect(await ltm.retrieve('existing')).toMatchObject({ found: true, value: 'original' })
    // A value may hold \u0000: it is stored as its JSON text, where it is an escape.
    ok(await ltm.store('nul-value', 'a\u0000b'))
    expect(await ltm.retrieve('nul-value')).toMatchObject({ found: true, value: 'a\u0000b' })
  })

  it('a namespace too long for the index is invalid_input, not a server error', async () => {
    const ltm = await createLTM(asUser(randomUUID()))
    // Random text, so PostgreSQL cannot compress it under the btree limit (2704 bytes).
    const long = randomBytes(6000).toString('base64url')
    const result = await ltm.namespace(long).store('k', 'v')
    expect(result).toMatchObject({ success: false, error_type: 'invalid_input' })
    expect((result as { error: string }).error).toMatch(/54000/)
    expect(await ltm.namespace(long).retrieve('k')).toMatchObject({ success: true, found: false })
  })

  it('a huge limit, a huge page size and a value with a vast vocabulary work', async () => {
    const ltm = await createLTM(asUser(randomUUID()))
    const words = Array.from({ length: 120_000 }, (_, i) => `w${i.toString(36)}x${'y'.repeat(4)}`).join(' ')
    ok(await ltm.store('vast', words))
    ok(await ltm.store('small', 'w0xyyyy and more'))
    expect(ok(await ltm.search('w0xyyyy', null, Number.MAX_SAFE_INTEGER)).results.map((h) => h.key).sort()).toEqual(['small', 'vast'])
    expect(ok(await ltm.search('w1*', null, 1e9)).results.map((h) => h.key)).toEqual(['vast'])
    const all = []
    for await (const record of ltm.iterateAll({ pageSize: Number.MAX_SAFE_INTEGER })) all.push(record.key)
    expect(all).toEqual(['small', 'vast'])
  }, 60_000)
})

describe('supabase: configuration and server answers', () => {
  it('needs url and key; a bad url or key is an LtmError invalid_argument', async () => {
    await expect(createLTM({ backend: 'supabase', url: server.url } as never)).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
    await expect(createLTM({ backend: 'supabase', url: 'not a url', key: 'k' })).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
    await expect(createLTM({ backend: 'supabase', url: 'ftp://x.test', key: 'k' })).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
    await expect(createLTM({ backend: 'supabase', url: server.url, key: '' })).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
  })

  it('an expired or forged access token -> auth_failed (PGRST301), the token in no message', async () => {
    const expired = server.userToken(randomUUID(), { exp: Math.floor(Date.now() / 1000) - 10 })
    const ltm = await createLTM(asUser(randomUUID(), { accessToken: expired }))
    const result = await ltm.retrieve('k')
    expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
    expect((result as { error: string }).error).toMatch(/PGRST301.*JWT expired/)
    expect(JSON.stringify(result)).not.toContain(expired)
    const forged = `${server.userToken().split('.').slice(0, 2).join('.')}.c2lnbmF0dXJl`
    expect(await (await createLTM(asUser(randomUUID(), { accessToken: forged }))).store('k', 'v')).toMatchObject({ success: false, error_type: 'auth_failed' })
  })

  it("a key that is not the project's -> auth_failed from the gateway", async () => {
    const ltm = await createLTM({ backend: 'supabase', url: server.url, key: 'not-the-anon-key-123', accessToken: server.userToken() })
    const result = await ltm.store('k', 'v')
    expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
    expect(JSON.stringify(result)).not.toContain('not-the-anon-key-123')
  })

  it('an access token given as a function is asked for on every request', async () => {
    const user = randomUUID()
    let calls = 0
    const ltm = await createLTM(asUser(user, { accessToken: async () => (calls++, server.userToken(user)) }))
    ok(await ltm.store('k', 'v'))
    ok(await ltm.retrieve('k'))
    expect(calls).toBeGreaterThanOrEqual(3)
  })

  it('a project without agent-ltm\'s SQL -> backend_error saying how to install it', async () => {
    const bare = await startPostgrestServer({ adminUrl: await freshDatabase() })
    try {
      const ltm = await createLTM({ backend: 'supabase', url: bare.url, key: bare.anonKey, accessToken: bare.userToken() })
      const result = await ltm.retrieve('k')
      expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
      expect((result as { error: string }).error).toMatch(/PGRST202.*|npx agent-ltm supabase-sql/)
      expect((result as { error: string }).error).toContain('npx agent-ltm supabase-sql')
    } finally {
      await bare.close()
    }
  })

  it('running the SQL again (an upgrade path) keeps every memory and changes nothing else', async () => {
    const user = randomUUID()
    const ltm = await createLTM(asUser(user))
    ok(await ltm.storeBatch([{ key: 'a', value: 'kept across a rerun of the sql', metadata: { n: 1 } }, { key: 'b', value: 'second', ttl: 60 }]))
    const before = ok(await ltm.search('rerun sql')).results
    await server.adminQuery(SQL)
    await server.adminQuery(SQL)
    expect(ok(await ltm.search('rerun sql')).results).toEqual(before)
    expect(await (await createLTM(asUser(user))).retrieveBatch(['a', 'b'])).toMatchObject({ success: true, found_count: 2 })
    expect(await createLTM({ backend: 'supabase', url: server.url, key: server.anonKey }).then((anon) => anon.retrieve('a'))).toMatchObject({ success: false, error_type: 'auth_failed' })
  })

  it('an unreachable project -> connection_timeout', async () => {
    const gone = await startPostgrestServer({ adminUrl: await freshDatabase(), setupSql: SQL })
    await gone.close()
    const ltm = await createLTM({ backend: 'supabase', url: gone.url, key: gone.anonKey, retry: false })
    expect(await ltm.retrieve('k')).toMatchObject({ success: false, error_type: 'connection_timeout' })
  })
})

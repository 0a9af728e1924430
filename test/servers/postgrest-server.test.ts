// The PostgREST test server over a real PostgreSQL, driven by the real @supabase/supabase-js (and by
// plain fetch where a protocol detail is checked): every request form the file's header lists is
// served with PostgREST's semantics, statuses and error bodies.
import { randomUUID } from 'node:crypto'
import { createClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostgresServer, type PostgresServer } from './postgres-server.js'
import { signJwt, startPostgrestServer, statusFor, type PostgrestServer } from './postgrest-server.js'

const SETUP = `
  CREATE TABLE public.items (id integer PRIMARY KEY, name text NOT NULL, tags text);
  CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner uuid NOT NULL DEFAULT auth.uid(), body text NOT NULL);
  ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
  CREATE POLICY notes_own ON public.notes TO authenticated USING (owner = auth.uid()) WITH CHECK (owner = auth.uid());
  REVOKE ALL ON public.notes FROM anon;
  CREATE FUNCTION public.whoami() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('role', current_user, 'uid', auth.uid(), 'read_only', current_setting('transaction_read_only'), 'method', current_setting('request.method', true))
  $$;
  CREATE FUNCTION public.add_item(p_id integer, p_name text) RETURNS SETOF public.items LANGUAGE sql AS $$
    INSERT INTO public.items (id, name) VALUES (p_id, p_name) RETURNING *
  $$;
  CREATE FUNCTION public.sneaky_write(p_id integer) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT 1 FROM (SELECT public.add_item(p_id, 'from a stable function')) AS _
  $$;
  CREATE FUNCTION public.add_then_fail(p_id integer) RETURNS integer LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO public.items (id, name) VALUES (p_id, 'never kept');
    RAISE EXCEPTION 'refused on purpose' USING DETAIL = 'after an insert', HINT = 'nothing stays';
  END $$;
`

let database: PostgresServer
let server: PostgrestServer

beforeAll(async () => {
  database = await startPostgresServer()
  const admin = new URL(database.adminUrl)
  admin.pathname = new URL(await database.createDatabase()).pathname
  server = await startPostgrestServer({ adminUrl: admin.toString(), setupSql: SETUP })
}, 60_000)
afterAll(async () => {
  await server?.close()
  await database?.stop()
})

/** supabase-js as an app would make it; `token` is the signed-in user's access token. */
function client(token?: string, key = server.anonKey) {
  return createClient(server.url, key, { accessToken: async () => token ?? null, realtime: { transport: class {} as never } })
}

/** A raw request, for headers and bodies supabase-js hides. */
async function raw(path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method: init.method ?? 'POST',
    headers: { apikey: server.anonKey, 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : null }
}

describe('postgrest-server: tables (the requests supabase-js sends for from())', () => {
  it('insert (201, minimal or representation), select with eq/in/order/limit, upsert on conflict, update and delete with filters', async () => {
    const db = client(undefined, server.serviceRoleKey)
    expect(await db.from('items').insert({ id: 1, name: 'one' })).toMatchObject({ status: 201, error: null, data: null })
    const inserted = await db.from('items').insert([{ id: 2, name: 'a,b' }, { id: 3, name: 'c(d)', tags: 'x' }]).select()
    expect(inserted).toMatchObject({ status: 201, data: [{ id: 2, name: 'a,b', tags: null }, { id: 3, name: 'c(d)', tags: 'x' }] })
    expect((await db.from('items').select('id').in('name', ['a,b', 'c(d)', 'one']).order('id', { ascending: false }).limit(2)).data).toEqual([{ id: 3 }, { id: 2 }])
    expect((await db.from('items').select('name').eq('id', 1)).data).toEqual([{ name: 'one' }])
    expect((await db.from('items').select('id').gte('id', 2).lt('id', 3)).data).toEqual([{ id: 2 }])
    expect((await db.from('items').select('id').is('tags', null).order('id')).data).toEqual([{ id: 1 }, { id: 2 }])
    expect((await db.from('items').upsert({ id: 1, name: 'uno' }, { onConflict: 'id' }).select()).data).toEqual([{ id: 1, name: 'uno', tags: null }])
    expect((await db.from('items').upsert({ id: 1, name: 'ignored' }, { onConflict: 'id', ignoreDuplicates: true }).select()).data).toEqual([])
    expect(await db.from('items').update({ tags: 't' }).neq('id', 3)).toMatchObject({ status: 204, error: null })
    expect((await db.from('items').update({ tags: 'u' }).eq('id', 2).select('id,tags')).data).toEqual([{ id: 2, tags: 'u' }])
    expect((await db.from('items').delete().in('id', [1, 3]).select('id')).data).toEqual([{ id: 1 }, { id: 3 }])
    expect((await db.from('items').select('*')).data).toEqual([{ id: 2, name: 'a,b', tags: 'u' }])
  })

  it('a duplicate key is 409 23505, a missing table is 404 PGRST205, a bad filter 400 PGRST100', async () => {
    const db = client(undefined, server.serviceRoleKey)
    await db.from('items').insert({ id: 10, name: 'ten' })
    expect(await db.from('items').insert({ id: 10, name: 'again' })).toMatchObject({ status: 409, error: { code: '23505' } })
    expect(await db.from('nowhere').select()).toMatchObject({ status: 404, error: { code: 'PGRST205', message: "Could not find the table 'public.nowhere' in the schema cache" } })
    expect(await raw('/rest/v1/items?id=like.1', { method: 'GET' })).toMatchObject({ status: 400, body: { code: 'PGRST100' } })
    expect(await db.schema('private').from('items').select()).toMatchObject({ status: 406, error: { code: 'PGRST106' } })
  })

  it('row-level security applies: users see and change only their rows, anon has no access (401), a forged owner is 403', async () => {
    const [alice, bob] = [randomUUID(), randomUUID()]
    expect(await client(server.userToken(alice)).from('notes').insert({ body: 'alice' })).toMatchObject({ status: 201 })
    expect(await client(server.userToken(bob)).from('notes').insert({ body: 'bob' })).toMatchObject({ status: 201 })
    expect((await client(server.userToken(alice)).from('notes').select('owner,body')).data).toEqual([{ owner: alice, body: 'alice' }])
    expect((await client(server.userToken(bob)).from('notes').delete().eq('owner', alice).select()).data).toEqual([])
    expect(await client(server.userToken(bob)).from('notes').insert({ owner: alice, body: 'forged' })).toMatchObject({ status: 403, error: { code: '42501' } })
    expect(await client().from('notes').select()).toMatchObject({ status: 401, error: { code: '42501' } })
    expect((await client(undefined, server.serviceRoleKey).from('notes').select('body').order('body')).data).toEqual([{ body: 'alice' }, { body: 'bob' }])
  })
})

describe('postgrest-server: functions (rpc)', () => {
  it('runs as the JWT role with request.jwt.claims set (auth.uid()), STABLE functions in a READ ONLY transaction', async () => {
    const user = randomUUID()
    expect((await client(server.userToken(user)).rpc('whoami')).data).toEqual({ role: 'authenticated', uid: user, read_only: 'on', method: 'POST' })
    expect((await client().rpc('whoami')).data).toEqual({ role: 'anon', uid: null, read_only: 'on', method: 'POST' })
    expect((await client(undefined, server.serviceRoleKey).rpc('whoami')).data).toMatchObject({ role: 'service_role' })
    expect(await client(undefined, server.serviceRoleKey).rpc('sneaky_write', { p_id: 50 })).toMatchObject({ status: 405, error: { code: '25006' } })
  })

  it('a set-returning function answers an array (with Content-Range); named arguments come from the JSON body', async () => {
    const answer = await raw('/rest/v1/rpc/add_item', { headers: { authorization: `Bearer ${server.serviceRoleKey}` }, body: { p_name: 'named', p_id: 60 } })
    expect(answer).toMatchObject({ status: 200, body: [{ id: 60, name: 'named', tags: null }] })
    expect(answer.headers.get('content-range')).toBe('0-0/*')
  })

  it('each request is one transaction: an error after a write keeps nothing, and the RAISE is 400 P0001 with its detail and hint', async () => {
    const db = client(undefined, server.serviceRoleKey)
    expect(await db.rpc('add_then_fail', { p_id: 70 })).toMatchObject({ status: 400, error: { code: 'P0001', message: 'refused on purpose', details: 'after an insert', hint: 'nothing stays' } })
    expect((await db.from('items').select().eq('id', 70)).data).toEqual([])
  })

  it('an unknown function or argument set is 404 PGRST202 with PostgREST\'s wording; a body that is not JSON is 400 PGRST102', async () => {
    expect(await client().rpc('nope', { a: 1 })).toMatchObject({ status: 404, error: { code: 'PGRST202', message: 'Could not find the function public.nope(a) in the schema cache' } })
    expect(await client(undefined, server.serviceRoleKey).rpc('add_item', { p_id: 1 })).toMatchObject({ status: 404, error: { code: 'PGRST202', hint: 'Perhaps you meant to call the function public.add_item(p_id, p_name)' } })
    expect(await raw('/rest/v1/rpc/whoami', { body: undefined, headers: {} }).then((r) => r.status)).toBe(200)
    const broken = await fetch(`${server.url}/rest/v1/rpc/add_item`, { method: 'POST', headers: { apikey: server.anonKey }, body: '{"p_id": ' })
    expect([broken.status, ((await broken.json()) as { code: string }).code]).toEqual([400, 'PGRST102'])
  })
})

describe('postgrest-server: authentication', () => {
  it('the gateway wants a project key: none or a wrong one is 401 without a PostgREST code', async () => {
    expect(await raw('/rest/v1/rpc/whoami', { headers: { apikey: '' } })).toMatchObject({ status: 401, body: { message: 'No API key found in request' } })
    const wrong = await raw('/rest/v1/rpc/whoami', { headers: { apikey: 'sb_publishable_wrong' } })
    expect(wrong).toMatchObject({ status: 401, body: { message: 'Invalid API key' } })
    expect(wrong.body).not.toHaveProperty('code')
  })

  it('PostgREST verifies the JWT (HS256, signature, expiry): failures are 401 PGRST301 with WWW-Authenticate', async () => {
    const now = Math.floor(Date.now() / 1000)
    const cases: Array<[string, RegExp]> = [
      [server.userToken(randomUUID(), { exp: now - 1 }), /^JWT expired$/],
      [signJwt({ role: 'authenticated', sub: randomUUID() }, 'another-secret'), /JWSInvalidSignature/],
      [`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"role":"service_role"}').toString('base64url')}.`, /JWSInvalidSignature/],
      ['not-a-jwt', /Expected 3 parts/],
    ]
    for (const [token, message] of cases) {
      const answer = await raw('/rest/v1/rpc/whoami', { headers: { authorization: `Bearer ${token}` } })
      expect(answer.status, token).toBe(401)
      expect(answer.body).toMatchObject({ code: 'PGRST301', details: null, hint: null })
      expect(String(answer.body!.message)).toMatch(message)
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/)
    }
  })

  it('a role the authenticator cannot become is refused by PostgreSQL itself', async () => {
    const answer = await raw('/rest/v1/rpc/whoami', { headers: { authorization: `Bearer ${server.sign({ role: 'postgres_superuser_please' })}` } })
    expect(answer.status).toBe(400)
    expect(answer.body).toMatchObject({ code: '22023' })
  })

  it('maps SQLSTATEs to statuses as PostgREST documents', () => {
    expect([statusFor('42501', false), statusFor('42501', true), statusFor('23505', true), statusFor('08006', true), statusFor('53400', true), statusFor('53300', true)]).toEqual([401, 403, 409, 503, 500, 503])
    expect([statusFor('22P05', true), statusFor('PT402', true), statusFor('42883', true), statusFor('XX000', true)]).toEqual([400, 402, 404, 500])
  })
})

describe('postgrest-server: CORS, for browsers', () => {
  it('answers a preflight allowing the headers supabase-js sends, and exposes Content-Range on answers', async () => {
    const preflight = await fetch(`${server.url}/rest/v1/rpc/whoami`, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:1', 'access-control-request-method': 'POST', 'access-control-request-headers': 'apikey,authorization,content-profile,content-type,x-client-info' },
    })
    expect(preflight.status).toBe(200)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-headers')).toBe('apikey,authorization,content-profile,content-type,x-client-info')
    expect((await raw('/rest/v1/rpc/whoami')).headers.get('access-control-expose-headers')).toContain('Content-Range')
  })
})

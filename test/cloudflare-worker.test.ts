// The browser build inside a real Cloudflare Workers runtime (workerd, run by miniflare 4): a module
// worker bundled from dist/ the way wrangler would (the `worker` and `browser` conditions) opens
// memory on its D1 binding, on a Turso database and on Supabase (supabase-js to the PostgREST test
// server, as a signed-in user) over HTTP, and stores and searches from inside the worker.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLTM } from '../src/index.node.js'
import { startHranaServer, type HranaServer } from './servers/hrana-server.js'
import { startPostgresServer, type PostgresServer } from './servers/postgres-server.js'
import { startPostgrestServer, type PostgrestServer } from './servers/postgrest-server.js'

const ROOT = join(import.meta.dirname, '..')
const TOKEN = 'worker-turso-token-8c1f'

const WORKER_SOURCE = `
import { createLTM } from 'agent-ltm'
export default {
  async fetch(request, env) {
    const backend = new URL(request.url).searchParams.get('backend')
    const options = {
      turso: { backend: 'turso', url: env.TURSO_URL, authToken: env.TURSO_TOKEN },
      supabase: { backend: 'supabase', url: env.SUPABASE_URL, key: env.SUPABASE_KEY, accessToken: env.USER_TOKEN },
      d1: { backend: 'd1', binding: env.DB },
    }[backend]
    const ltm = await createLTM(options)
    const stored = await ltm.store('from-worker', 'remembered inside workerd', { runtime: 'workerd' })
    const batch = await ltm.storeBatch([{ key: 'b1', value: 'second workerd memory' }, { key: 'b2', value: 'unrelated' }])
    const search = await ltm.search('workerd', { runtime: 'workerd' })
    const all = await ltm.search('workerd')
    const tx = await ltm.transaction(async (t) => { await t.delete('b2') })
    const gone = await ltm.retrieve('b2')
    await ltm.close()
    return Response.json({ stored, batch: batch.success && batch.stored_count, search: search.results.map((r) => r.key), all: all.results.map((r) => r.key).sort(), tx: tx.success && tx.committed, gone: gone.found })
  },
}
`

let mf: Miniflare
let hrana: HranaServer
let database: PostgresServer
let postgrest: PostgrestServer
const user = randomUUID()

beforeAll(async () => {
  const bundled = await build({
    stdin: { contents: WORKER_SOURCE, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    conditions: ['worker', 'browser'],
    target: 'es2022',
    alias: { 'agent-ltm': join(ROOT, 'dist', 'index.browser.js') },
    logLevel: 'silent',
  })
  hrana = await startHranaServer({ authToken: TOKEN })
  database = await startPostgresServer()
  const admin = new URL(database.adminUrl)
  admin.pathname = new URL(await database.createDatabase()).pathname
  postgrest = await startPostgrestServer({ adminUrl: admin.toString(), setupSql: readFileSync(join(ROOT, 'supabase/agent-ltm.sql'), 'utf8') })
  mf = new Miniflare({
    // One explicit module, as wrangler uploads it: miniflare's own dependency discovery would reject
    // supabase-js's optional `import(OTEL_PKG)` (a variable specifier), which workerd only meets at run time.
    modules: [{ type: 'ESModule', path: 'worker.mjs', contents: bundled.outputFiles[0]!.text }],
    compatibilityDate: '2025-09-01',
    d1Databases: ['DB'],
    bindings: { TURSO_URL: hrana.url, TURSO_TOKEN: TOKEN, SUPABASE_URL: postgrest.url, SUPABASE_KEY: postgrest.anonKey, USER_TOKEN: postgrest.userToken(user) },
  })
  await mf.ready
}, 60_000)

afterAll(async () => {
  await mf?.dispose()
  await hrana?.close()
  await postgrest?.close()
  await database?.stop()
})

describe('inside a Cloudflare Worker (workerd)', () => {
  for (const backend of ['d1', 'turso', 'supabase'] as const) {
    it(`${backend}: stores, searches with a filter, runs a transaction`, async () => {
      const response = await mf.dispatchFetch(`http://worker.test/?backend=${backend}`)
      const body = (await response.json()) as Record<string, unknown>
      expect(response.status, JSON.stringify(body)).toBe(200)
      expect(body).toMatchObject({ stored: { success: true, stored: true, created: true }, batch: 2, search: ['from-worker'], all: ['b1', 'from-worker'], tx: true, gone: false })
    })
  }

  it('turso from the worker went over HTTP to the server', () => {
    expect(hrana.log.filter((entry) => entry.method === 'POST').length).toBeGreaterThan(3)
  })

  it("supabase from the worker went through supabase-js, and the memories are the signed-in user's", async () => {
    expect(postgrest.log.filter((entry) => entry.method === 'POST' && entry.headers['x-client-info']?.startsWith('supabase-js')).length).toBeGreaterThan(5)
    const same = await createLTM({ backend: 'supabase', url: postgrest.url, key: postgrest.anonKey, accessToken: postgrest.userToken(user) })
    expect(await same.retrieve('from-worker')).toMatchObject({ found: true, value: 'remembered inside workerd' })
    await same.close()
  })
})

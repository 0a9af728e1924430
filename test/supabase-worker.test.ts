// The supabase backend inside a real Cloudflare Workers runtime (workerd, run by miniflare 4): the
// browser build and supabase-js bundled the way wrangler would (`worker` and `browser` conditions),
// talking over HTTP to the PostgREST test server as a signed-in user. Nothing here runs the SDK in Node.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLTM } from '../src/index.node.js'
import { startPostgresServer, type PostgresServer } from './servers/postgres-server.js'
import { startPostgrestServer, type PostgrestServer } from './servers/postgrest-server.js'

const ROOT = join(import.meta.dirname, '..')

const WORKER_SOURCE = `
import { createLTM } from 'agent-ltm'
export default {
  async fetch(request, env) {
    const ltm = await createLTM({ backend: 'supabase', url: env.SUPABASE_URL, key: env.SUPABASE_KEY, accessToken: env.USER_TOKEN })
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

let database: PostgresServer
let server: PostgrestServer
let mf: Miniflare
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
  database = await startPostgresServer()
  const admin = new URL(database.adminUrl)
  admin.pathname = new URL(await database.createDatabase()).pathname
  server = await startPostgrestServer({ adminUrl: admin.toString(), setupSql: readFileSync(join(ROOT, 'supabase/agent-ltm.sql'), 'utf8') })
  mf = new Miniflare({
    // Listed, not discovered: supabase-js holds a dynamic import (OpenTelemetry, only with tracePropagation,
    // which agent-ltm leaves off) that miniflare's module discovery refuses; wrangler and workerd load it.
    modules: [{ type: 'ESModule', path: 'worker.mjs', contents: bundled.outputFiles[0]!.text }],
    compatibilityDate: '2025-09-01',
    bindings: { SUPABASE_URL: server.url, SUPABASE_KEY: server.anonKey, USER_TOKEN: server.userToken(user) },
  })
  await mf.ready
}, 60_000)

afterAll(async () => {
  await mf?.dispose()
  await server?.close()
  await database?.stop()
})

describe('supabase inside a Cloudflare Worker (workerd)', () => {
  it('stores, searches with a filter, runs a transaction, as the signed-in user', async () => {
    const response = await mf.dispatchFetch('http://worker.test/')
    const body = (await response.json()) as Record<string, unknown>
    expect(response.status, JSON.stringify(body)).toBe(200)
    expect(body).toMatchObject({ stored: { success: true, stored: true, created: true }, batch: 2, search: ['from-worker'], all: ['b1', 'from-worker'], tx: true, gone: false })
    expect(server.log.filter((entry) => entry.method === 'POST' && entry.headers['x-client-info']?.startsWith('supabase-js')).length).toBeGreaterThan(5)
    // The worker's memories are that user's: seen from Node with the same user's token.
    const same = await createLTM({ backend: 'supabase', url: server.url, key: server.anonKey, accessToken: server.userToken(user) })
    expect(await same.retrieve('from-worker')).toMatchObject({ found: true, value: 'remembered inside workerd' })
  })
})

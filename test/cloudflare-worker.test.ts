// The browser build inside a real Cloudflare Workers runtime (workerd, run by miniflare 4): a module
// worker bundled from dist/ the way wrangler would (the `worker` and `browser` conditions) opens
// memory on its D1 binding and on a Turso database over HTTP, and stores and searches from inside
// the worker. Nothing here runs the SDK in Node.
import { join } from 'node:path'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHranaServer, type HranaServer } from './servers/hrana-server.js'

const ROOT = join(import.meta.dirname, '..')
const TOKEN = 'worker-turso-token-8c1f'

const WORKER_SOURCE = `
import { createLTM } from 'agent-ltm'
export default {
  async fetch(request, env) {
    const backend = new URL(request.url).searchParams.get('backend')
    const ltm = await createLTM(backend === 'turso' ? { backend: 'turso', url: env.TURSO_URL, authToken: env.TURSO_TOKEN } : { backend: 'd1', binding: env.DB })
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
  mf = new Miniflare({
    // One explicit module, as wrangler uploads it: miniflare's own dependency discovery would reject
    // supabase-js's optional `import(OTEL_PKG)` (a variable specifier), which workerd only meets at run time.
    modules: [{ type: 'ESModule', path: 'worker.mjs', contents: bundled.outputFiles[0]!.text }],
    compatibilityDate: '2025-09-01',
    d1Databases: ['DB'],
    bindings: { TURSO_URL: hrana.url, TURSO_TOKEN: TOKEN },
  })
  await mf.ready
}, 60_000)

afterAll(async () => {
  await mf?.dispose()
  await hrana?.close()
})

describe('inside a Cloudflare Worker (workerd)', () => {
  for (const backend of ['d1', 'turso'] as const) {
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
})

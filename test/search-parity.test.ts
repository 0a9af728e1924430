// Search parity across backends: the 200-memory corpus and 20 queries of bench/remote/parity.ts on
// embedded sqlite, postgres, supabase and firestore (each against a real server started here). All
// four rank by the same BM25 (FTS5's formula, idf from the namespace's own counts), so the top 5 must
// be the same keys in the same order and the scores equal to 1e-9. `npm run bench:remote` reports
// the same measurement in BENCHMARKS.md; this file only asserts it.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parityOf, parityQueries, storeParityCorpus, topOf, type Top } from '../bench/remote/parity.js'
import { createLTM, type LTM } from '../src/index.node.js'
import { startFirestoreEmulator, type FirestoreEmulator } from './servers/firestore-emulator.js'
import { startPostgresServer, type PostgresServer } from './servers/postgres-server.js'
import { startPostgrestServer, type PostgrestServer } from './servers/postgrest-server.js'

let database: PostgresServer
let postgrest: PostgrestServer
let emulator: FirestoreEmulator
const handles: LTM[] = []
const views = new Map<string, LTM>()
const queries = parityQueries()
let base: Top[] = []

beforeAll(async () => {
  ;[database, emulator] = await Promise.all([startPostgresServer(), startFirestoreEmulator()])
  const admin = new URL(database.adminUrl)
  admin.pathname = new URL(await database.createDatabase()).pathname
  postgrest = await startPostgrestServer({ adminUrl: admin.toString(), setupSql: readFileSync(new URL('../supabase/agent-ltm.sql', import.meta.url), 'utf8') })
  const opened: Array<[string, LTM]> = [
    ['sqlite', await createLTM({ backend: 'sqlite', path: ':memory:' })],
    ['postgres', await createLTM({ backend: 'postgres', url: await database.createSchema() })],
    ['supabase', await createLTM({ backend: 'supabase', url: postgrest.url, key: postgrest.anonKey, accessToken: postgrest.userToken(randomUUID()) })],
    ['firestore', await createLTM({ backend: 'firestore', projectId: emulator.newProjectId('parity'), collection: 'memories', auth: 'owner', baseUrl: emulator.baseUrl })],
  ]
  for (const [name, ltm] of opened) {
    handles.push(ltm)
    views.set(name, await storeParityCorpus(ltm))
  }
  base = await Promise.all(queries.map((q) => topOf(views.get('sqlite')!, q)))
}, 120_000)

afterAll(async () => {
  await Promise.all(handles.map((ltm) => ltm.close().catch(() => undefined)))
  await postgrest?.close()
  await Promise.all([database?.stop(), emulator?.stop()])
})

describe('search parity: 200 memories, 20 queries, top 5 against embedded sqlite', () => {
  it('the queries cover every class, some with a filter, and find enough to compare', () => {
    expect(new Set(queries.map((q) => q.class))).toEqual(new Set(['rare', 'medium', 'common']))
    expect(queries.filter((q) => q.filter !== null).length).toBe(5)
    // Rare words are in few of 200 memories (51 hits over the 20 queries when written); the corpus is seeded.
    expect(base.reduce((n, top) => n + top.keys.length, 0)).toBeGreaterThanOrEqual(50)
  })

  for (const backend of ['postgres', 'supabase', 'firestore']) {
    it(`${backend}: the same top 5, in the same order, scores equal to 1e-9`, async () => {
      const parity = await parityOf(views.get(backend)!, queries, base)
      parity.per_query.forEach((q, i) => expect(q.keys, `${backend}: ${queries[i]!.text} ${JSON.stringify(queries[i]!.filter)}`).toEqual(base[i]!.keys))
      expect(parity.overlap_mean).toBe(1)
      expect(parity.same_order).toBe(queries.length)
      expect(parity.max_score_diff).toBeLessThan(1e-9)
    })
  }
})

// A database file moves freely between local engines: written by the native driver, opened,
// written and searched by sql.js (the browser engine), and back, with identical BM25 scores.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import initSqlJs from 'sql.js'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryHandle } from '../src/core/ltm.js'
import type { JsonValue, LTM, SearchHit } from '../src/core/types.js'
import { openSqlJsEngine, type InitSqlJs, type SqlJsExecutor } from '../src/engines/sqljs.js'
import { createLTM } from '../src/index.node.js'
import { SqlMemoryBackend, migrateSchema } from '../src/sql/sql-backend.js'

const dir = mkdtempSync(join(tmpdir(), 'ltm-portability-'))
const path = join(dir, 'memory.db')
const open: LTM[] = []
afterAll(async () => {
  for (const ltm of open) await ltm.close().catch(() => {})
})

async function openSqlJs(bytes: Uint8Array): Promise<{ ltm: LTM; executor: SqlJsExecutor }> {
  const executor = await openSqlJsEngine({ initSqlJs: initSqlJs as unknown as InitSqlJs, data: bytes })
  await migrateSchema(executor)
  const ltm = MemoryHandle.create(new SqlMemoryBackend('sqlite', executor))
  open.push(ltm)
  return { ltm, executor }
}

const QUERIES = ['coffee', 'green tea', 'caf*', 'project deadline friday', '咖啡', 'meeting notes', 'zzz-nothing']
const corpus = [
  ['pref:coffee', 'Prefers a flat white coffee in the morning, café style'],
  ['pref:tea', { text: 'Drinks green tea after lunch', tags: ['beverage', 'tea'] }],
  ['task:report', 'Finish the project report before the Friday deadline'],
  ['task:slides', 'Prepare slides for the project kickoff meeting'],
  ['fact:city', 'Lives in Lisbon and works remotely'],
  ['fact:zh', '我喜欢喝咖啡'],
  ['note:1', 'Meeting notes: coffee machine broken, tea is fine'],
  ['note:2', 'Cafeteria closes early on Friday'],
] satisfies [string, JsonValue][]

async function scores(ltm: LTM, namespace = ''): Promise<Record<string, [string, number][]>> {
  const view = namespace ? ltm.namespace(namespace) : ltm
  const out: Record<string, [string, number][]> = {}
  for (const q of QUERIES) {
    const result = await view.search(q, null, 20)
    if (!result.success) throw new Error(result.error)
    out[q] = result.results.map((hit: SearchHit) => [hit.key, hit.score])
  }
  return out
}

function expectSameScores(a: Record<string, [string, number][]>, b: Record<string, [string, number][]>): void {
  expect(Object.keys(b)).toEqual(Object.keys(a))
  for (const q of Object.keys(a)) {
    expect(b[q]!.map(([key]) => key), q).toEqual(a[q]!.map(([key]) => key))
    b[q]!.forEach(([, score], i) => expect(Math.abs(score - a[q]![i]![1]), `${q} #${i}`).toBeLessThan(1e-9))
  }
}

describe('database file portability between native SQLite and sql.js', () => {
  let nativeScores: Record<string, [string, number][]>

  it('native better-sqlite3 writes a file', async () => {
    const ltm = await createLTM({ backend: 'sqlite', path })
    const batch = await ltm.storeBatch(corpus.map(([key, value], i) => ({ key, value, metadata: { i, kind: key.split(':')[0]! } })))
    expect(batch.success).toBe(true)
    await ltm.namespace('user-42').store('pref:coffee', 'Only decaf coffee after noon')
    await ltm.store('temp', 'expires soon', {}, { ttl: 3600 })
    nativeScores = await scores(ltm)
    expect(nativeScores.coffee!.length).toBeGreaterThan(1)
    await ltm.close()
  })

  it('sql.js opens the file with the same data and the same scores, and writes to it', async () => {
    const { ltm, executor } = await openSqlJs(new Uint8Array(readFileSync(path)))
    const got = await ltm.retrieve('pref:tea')
    expect(got.success && got.found && got.value).toEqual({ text: 'Drinks green tea after lunch', tags: ['beverage', 'tea'] })
    const temp = await ltm.retrieve('temp')
    expect(temp.success && temp.found && temp.expires_at).toBeTruthy()
    expect((await ltm.namespace('user-42').retrieve('pref:coffee')).success).toBe(true)
    expectSameScores(nativeScores, await scores(ltm))

    expect((await ltm.store('browser:1', 'Written in the browser: espresso and coffee beans', { from: 'sqljs' })).success).toBe(true)
    expect((await ltm.delete('note:2')).success).toBe(true)
    const filtered = await ltm.search('coffee', { from: 'sqljs' })
    expect(filtered.success && filtered.results.map((r) => r.key)).toEqual(['browser:1'])
    writeFileSync(path, executor.export())
    await ltm.close()
  })

  it('native drivers (better-sqlite3 and libsql) read what sql.js wrote, with equal scores', async () => {
    const { ltm: sqljs } = await openSqlJs(new Uint8Array(readFileSync(path)))
    const fromSqlJs = await scores(sqljs)
    for (const driver of ['better-sqlite3', 'libsql'] as const) {
      const ltm = await createLTM({ backend: 'sqlite', path, driver })
      open.push(ltm)
      const written = await ltm.retrieve('browser:1')
      expect(written.success && written.found && written.metadata).toEqual({ from: 'sqljs' })
      expect((await ltm.retrieve('note:2')).success && (await ltm.retrieve('note:2') as { found: boolean }).found).toBe(false)
      expectSameScores(fromSqlJs, await scores(ltm))
      await ltm.close()
    }
    const ltm = await createLTM({ backend: 'sqlite', path })
    open.push(ltm)
    expect((await ltm.store('native:again', 'native write after sql.js: more coffee')).success).toBe(true)
    expect((await ltm.search('coffee', { from: 'sqljs' })).success).toBe(true)
    await ltm.close()
  })
})

// Schema on open: a version-1 database is migrated in place with its data intact, and two openers of a new database do not trip over each other.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, expect, it } from 'vitest'
import { createLTM } from '../src/index.node.js'
import { openNativeEngine } from '../src/engines/native.js'
import type { SqlExecutor } from '../src/engines/types.js'
import { READ_SCHEMA_VERSION, SCHEMA_V1, SCHEMA_VERSION } from '../src/sql/schema.js'
import { migrateSchema, openSqlBackend } from '../src/sql/sql-backend.js'
import { ok } from './conformance/harness.js'

const dir = mkdtempSync(join(tmpdir(), 'agent-ltm-migration-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('a version-1 database is migrated to the current version on open and keeps its memories', async () => {
  const path = join(dir, 'v1.db')
  const v1 = await createLTM({ backend: 'sqlite', path })
  ok(await v1.store('old', 'written before the upgrade', { v: 1 }))
  await v1.close()
  // Turn it back into exactly what version 1 created: no guard table, version 1.
  const raw = new Database(path)
  raw.exec('DROP TABLE ltm_tx_guard; UPDATE ltm_schema SET version = 1')
  expect(SCHEMA_V1.some((sql) => sql.includes('ltm_tx_guard'))).toBe(false)
  raw.close()

  const upgraded = await createLTM({ backend: 'sqlite', path })
  expect(await upgraded.retrieve('old')).toMatchObject({ found: true, value: 'written before the upgrade', metadata: { v: 1 } })
  expect(ok(await upgraded.search('upgrade')).results.map((r) => r.key)).toEqual(['old'])
  await upgraded.close()
  const check = new Database(path, { readonly: true })
  expect(check.prepare('SELECT version FROM ltm_schema').get()).toEqual({ version: SCHEMA_VERSION })
  expect(check.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'ltm_tx_guard'`).get()).toEqual({ n: 1 })
  check.close()
})

it('two openers of a new database at once: the one whose version read lost the race reads again and opens', async () => {
  const path = join(dir, 'race.db')
  const executor = await openNativeEngine({ path, driver: 'better-sqlite3', busyTimeoutMs: 5000 })
  let reads = 0
  // The first version read fails (no table yet); before that failure is handled, another opener creates the schema.
  const racing: SqlExecutor = {
    engine: executor.engine,
    capabilities: executor.capabilities,
    begin: () => executor.begin(),
    close: () => executor.close(),
    async batch(statements, mode) {
      if (statements[0]?.sql !== READ_SCHEMA_VERSION || reads++ > 0) return executor.batch(statements, mode)
      try {
        return await executor.batch(statements, mode)
      } finally {
        const other = await createLTM({ backend: 'sqlite', path })
        ok(await other.store('from-the-other', 'opener'))
        await other.close()
      }
    },
  }
  await migrateSchema(racing)
  expect(reads).toBe(2)
  const backend = await openSqlBackend('sqlite', executor)
  await backend.close()
  const reopened = await createLTM({ backend: 'sqlite', path })
  expect(await reopened.retrieve('from-the-other')).toMatchObject({ found: true, value: 'opener' })
  await reopened.close()
})

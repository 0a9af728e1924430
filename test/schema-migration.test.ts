// A database written by schema version 1 opens in this version: migrated in place, data intact.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, expect, it } from 'vitest'
import { createLTM } from '../src/index.node.js'
import { SCHEMA_V1, SCHEMA_VERSION } from '../src/sql/schema.js'
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

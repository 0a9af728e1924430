// Real failures of the embedded backend, produced by the real engine: a full database, a lock held
// by another connection, a file that is not a database, a missing driver, a newer schema.
import Database from 'better-sqlite3'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MemoryHandle } from '../src/core/ltm.js'
import { openNativeEngine } from '../src/engines/native.js'
import { createLTM, type SqliteOptions } from '../src/index.node.js'
import { SqlMemoryBackend, migrateSchema } from '../src/sql/sql-backend.js'

const dir = mkdtempSync(join(tmpdir(), 'ltm-faults-'))
const file = (name: string): string => join(dir, name)

describe('sqlite faults give typed results and lose nothing', () => {
  it('a full database returns quota_exceeded and keeps what was stored', async () => {
    const executor = await openNativeEngine({ path: file('full.db'), driver: 'better-sqlite3', busyTimeoutMs: 1000 })
    await migrateSchema(executor)
    const ltm = MemoryHandle.create(new SqlMemoryBackend('sqlite', executor))
    expect((await ltm.store('kept', 'stored before the disk filled up')).success).toBe(true)
    const [pages] = await executor.batch([{ sql: 'PRAGMA page_count', args: [] }])
    await executor.batch([{ sql: `PRAGMA max_page_count = ${Number(pages!.rows[0]!.page_count) + 2}`, args: [] }])

    const big = Array.from({ length: 200 }, (_, i) => ({ key: `big-${i}`, value: `filler ${i} `.repeat(200) }))
    const result = await ltm.storeBatch(big)
    expect(result).toMatchObject({ success: false, error_type: 'quota_exceeded', stored_count: 0 })
    expect(result.success === false && result.error).toMatch(/full/)
    expect((await ltm.retrieve('big-0')).success && (await ltm.retrieve('big-0') as { found: boolean }).found).toBe(false)
    const kept = await ltm.retrieve('kept')
    expect(kept.success && kept.found && kept.value).toBe('stored before the disk filled up')
    const search = await ltm.search('disk')
    expect(search.success && search.results.map((r) => r.key)).toEqual(['kept'])
    await ltm.close()
  })

  it('a write lock held by another connection returns lock_timeout, then succeeds once released', async () => {
    const path = file('locked.db')
    const ltm = await createLTM({ backend: 'sqlite', path, busyTimeoutMs: 100 })
    expect((await ltm.store('before', 1)).success).toBe(true)
    const other = new Database(path)
    other.exec('BEGIN IMMEDIATE')
    const blocked = await ltm.store('during', 2)
    expect(blocked).toMatchObject({ success: false, error_type: 'lock_timeout' })
    const tx = await ltm.transaction(async (t) => t.store('in-tx', 3))
    expect(tx).toMatchObject({ success: false, committed: false, rolled_back: true, error_type: 'lock_timeout' })
    other.exec('ROLLBACK')
    other.close()
    expect((await ltm.store('after', 4)).success).toBe(true)
    const batch = await ltm.retrieveBatch(['before', 'during', 'in-tx', 'after'])
    expect(batch.success && batch.found_count).toBe(2)
    await ltm.close()
  })

  it('a file that is not a database gives backend_error results, not a crash', async () => {
    const path = file('not-a-db.db')
    writeFileSync(path, 'this is a text file, not SQLite '.repeat(100))
    const ltm = await createLTM({ backend: 'sqlite', path })
    const result = await ltm.store('k', 'v')
    expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
    expect(result.success === false && result.error).toMatch(/not a SQLite database|not a database/)
    expect(await ltm.search('x')).toMatchObject({ success: false, error_type: 'backend_error' })
    expect(await ltm.stats()).toMatchObject({ success: false, error_type: 'backend_error' })
    await ltm.close()
  })

  it('a missing native driver gives dependency_missing with the install command', async () => {
    const ltm = await createLTM({ backend: 'sqlite', path: ':memory:', driver: 'no-such-sqlite-driver' } as unknown as SqliteOptions)
    const result = await ltm.retrieve('k')
    expect(result).toMatchObject({ success: false, error_type: 'dependency_missing' })
    expect(result.success === false && result.error).toContain('npm install no-such-sqlite-driver')
  })

  it('a database written by a newer schema version is refused with advice', async () => {
    const path = file('newer.db')
    const first = await createLTM({ backend: 'sqlite', path })
    await first.store('k', 'v')
    await first.close()
    const raw = new Database(path)
    raw.exec('UPDATE ltm_schema SET version = 99')
    raw.close()
    const ltm = await createLTM({ backend: 'sqlite', path })
    const result = await ltm.retrieve('k')
    expect(result).toMatchObject({ success: false, error_type: 'backend_error' })
    expect(result.success === false && result.error).toMatch(/version 99.*upgrade agent-ltm/)
  })

  it('an unknown backend name throws LtmError listing the available ones', async () => {
    await expect(createLTM({ backend: 'nope' } as unknown as SqliteOptions)).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
    await expect(createLTM({ backend: 'nope' } as unknown as SqliteOptions)).rejects.toThrow(/sqlite/)
  })
})

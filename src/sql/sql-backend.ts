import { storedFromRow, type MemoryBackend, type PageRequest, type PreparedWrite, type ScoredMemory, type SearchRequest, type StoredMemory, type WriteOutcome } from '../core/backend.js'
import { LtmFailure } from '../core/errors.js'
import type { BatchMode, SqlExecutor, SqlResult, SqlRow, SqlStatement, SqlTransaction } from '../engines/types.js'
import { MIGRATIONS, READ_SCHEMA_VERSION, SCHEMA_EXISTS, SCHEMA_V1, SCHEMA_VERSION } from './schema.js'
import { searchStatement } from './search.js'
import { countExpired, deleteExpired, guardUnchanged, type GuardedRead, deleteMemory, ensureNamespace, pageMemories, readBeforeWrite, selectMemories, upsertMemory } from './statements.js'

type RunBatch = (statements: SqlStatement[], mode: BatchMode) => Promise<SqlResult[]>

/**
 * A batched transaction's queue: the writes, sent at commit as one atomic batch after guards that
 * abort it if a memory the transaction read has changed since (see guardUnchanged).
 */
interface CommitQueue {
  guards: SqlStatement[]
  writes: SqlStatement[]
}

/** Creates or upgrades the schema; refuses a database written by a newer version. */
export async function migrateSchema(executor: SqlExecutor): Promise<void> {
  const readVersion = async (): Promise<number> => {
    const [versionResult] = await executor.batch([{ sql: READ_SCHEMA_VERSION, args: [] }])
    return Number(versionResult?.rows[0]?.version ?? 0)
  }
  let version: number
  try {
    // The usual open is one round trip (what a remote handle pays per cold start): the version read.
    version = await readVersion()
  } catch (error) {
    // A new database has no ltm_schema to read (each engine words that differently): make sure that
    // is why, then create the schema; any other failure is the caller's.
    if (!(error instanceof LtmFailure) || error.errorType !== 'backend_error') throw error
    const [exists] = await executor.batch([{ sql: SCHEMA_EXISTS, args: [] }])
    if (Number(exists?.rows[0]?.n ?? 0) === 0) {
      const create = [...SCHEMA_V1, ...MIGRATIONS.flat(), `UPDATE ltm_schema SET version = ${SCHEMA_VERSION} WHERE id = 1`]
      await executor.batch(create.map((sql) => ({ sql, args: [] })))
      return
    }
    // The table is there now: another opener of this new database (a tab, a process) created it
    // since the read. Read again; if that fails too, the failure was something else.
    version = await readVersion()
  }
  if (version > SCHEMA_VERSION) {
    throw new LtmFailure('backend_error', `database schema is version ${version}, newer than this agent-ltm understands (${SCHEMA_VERSION}); upgrade agent-ltm`)
  }
  const pending = MIGRATIONS.slice(version - 1).flat()
  if (pending.length > 0) {
    await executor.batch([...pending, `UPDATE ltm_schema SET version = ${SCHEMA_VERSION} WHERE id = 1`].map((sql) => ({ sql, args: [] })))
  }
}

/** A backend over an executor whose schema is brought up to date first; the executor is closed if that fails. */
export async function openSqlBackend(name: string, executor: SqlExecutor): Promise<SqlMemoryBackend> {
  try {
    await migrateSchema(executor)
  } catch (error) {
    await executor.close()
    throw error
  }
  return new SqlMemoryBackend(name, executor)
}

/**
 * The MemoryBackend of every SQLite-family engine: it builds statements from the SQL core and hands
 * them to an executor. One batch per operation, so a remote engine makes one round trip.
 */
export class SqlMemoryBackend implements MemoryBackend {
  #closed = false

  /**
   * `queue`: inside a transaction of an engine without interactive ones (D1), writes are queued and
   * sent as one atomic batch at commit. What a write reports (created, deleted, counts) is read at
   * once from the committed state, and the commit fails with `conflict` if any of those memories
   * changed meanwhile; reads in the transaction do not see its own writes.
   */
  constructor(
    readonly name: string,
    private readonly executor: SqlExecutor,
    private readonly run: RunBatch = (statements, mode) => executor.batch(statements, mode),
    private readonly queue: CommitQueue | null = null,
  ) {}

  async write(entries: PreparedWrite[], now: number): Promise<WriteOutcome[]> {
    const namespaces = [...new Set(entries.map((e) => e.namespace))].map(ensureNamespace)
    let before: Array<SqlRow | undefined>
    if (this.queue) {
      before = (await this.run(entries.map(readBeforeWrite), 'read')).map((result) => result.rows[0])
      this.queue.guards.push(...entries.map((entry, i) => guardUnchanged({ namespace: entry.namespace, key: entry.key, row: before[i] as GuardedRead['row'] })))
      this.queue.writes.push(...namespaces, ...entries.map((entry) => upsertMemory(entry, now)))
    } else {
      const statements = [...namespaces, ...entries.flatMap((entry) => [readBeforeWrite(entry), upsertMemory(entry, now)])]
      const results = await this.run(statements, 'write')
      before = entries.map((_, i) => results[namespaces.length + 2 * i]?.rows[0])
    }
    return entries.map((entry, i) => this.#outcome(entry, before[i], now))
  }

  #outcome(entry: PreparedWrite, before: SqlRow | undefined, now: number): WriteOutcome {
    const beforeExpiry = before?.expires_at === null || before?.expires_at === undefined ? null : Number(before.expires_at)
    const live = before !== undefined && (beforeExpiry === null || beforeExpiry > now)
    if (!live) return { status: 'created', expiresAt: entry.expiresAt }
    const sameExpiry = !entry.explicitExpiry || beforeExpiry === entry.expiresAt
    const same = sameExpiry && before.content_hash === entry.contentHash && before.metadata === entry.metadataJson
    return same ? { status: 'unchanged', expiresAt: beforeExpiry } : { status: 'updated', expiresAt: entry.expiresAt }
  }

  async read(namespace: string, keys: string[], now: number): Promise<Map<string, StoredMemory>> {
    const found = new Map<string, StoredMemory>()
    if (keys.length === 0) return found
    const [result] = await this.run([selectMemories(namespace, keys, now)], 'read')
    for (const row of result?.rows ?? []) found.set(String(row.key), storedFromRow(row, namespace))
    return found
  }

  async remove(namespace: string, key: string, now: number): Promise<boolean> {
    if (this.queue) {
      const [live] = await this.run([selectMemories(namespace, [key], now)], 'read')
      const row = live?.rows[0]
      this.queue.guards.push(guardUnchanged({ namespace, key, row: row as GuardedRead['row'], now }))
      this.queue.writes.push(deleteMemory(namespace, key))
      return row !== undefined
    }
    const [result] = await this.run([deleteMemory(namespace, key)], 'write')
    const row = result?.rows[0]
    if (!row) return false
    return row.expires_at === null || Number(row.expires_at) > now
  }

  async search(request: SearchRequest): Promise<ScoredMemory[]> {
    const [result] = await this.run([searchStatement(request)], 'read')
    return (result?.rows ?? []).map((row) => ({ ...storedFromRow(row, request.namespace), score: Number(row.score) }))
  }

  async cleanupExpired(namespace: string, now: number): Promise<number> {
    // Counted by a query, not by `changes`: engines differ on whether trigger writes count (D1's do).
    if (this.queue) {
      const [expired] = await this.run([countExpired(namespace, now)], 'read')
      this.queue.writes.push(deleteExpired(namespace, now))
      return Number(expired?.rows[0]?.n ?? 0)
    }
    const [expired] = await this.run([countExpired(namespace, now), deleteExpired(namespace, now)], 'write')
    return Number(expired?.rows[0]?.n ?? 0)
  }

  async page(request: PageRequest): Promise<StoredMemory[]> {
    const [result] = await this.run([pageMemories(request)], 'read')
    return (result?.rows ?? []).map((row) => storedFromRow(row, request.namespace))
  }

  async transaction<T>(fn: (backend: MemoryBackend) => Promise<T>): Promise<T> {
    const tx: SqlTransaction = await this.executor.begin()
    const queue: CommitQueue | null = this.executor.capabilities.interactiveTransactions ? null : { guards: [], writes: [] }
    const scoped = new SqlMemoryBackend(this.name, this.executor, (statements, mode) => tx.batch(statements, mode), queue)
    let value: T
    try {
      value = await fn(scoped)
      if (queue && queue.writes.length > 0) await tx.batch([...queue.guards, ...queue.writes], 'write')
    } catch (error) {
      await tx.rollback()
      throw error
    }
    await tx.commit()
    return value
  }

  async stats(): Promise<Record<string, unknown>> {
    const [namespaces] = await this.run([{ sql: `SELECT count(*) AS namespaces, COALESCE(sum(doc_count), 0) AS memories FROM ltm_namespaces`, args: [] }], 'read')
    const engineStats = (await this.executor.stats?.()) ?? {}
    return { engine: this.executor.engine, ...namespaces?.rows[0], ...engineStats }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.executor.close()
  }
}

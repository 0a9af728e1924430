import { storedFromRow, type MemoryBackend, type PageRequest, type PreparedWrite, type ScoredMemory, type SearchRequest, type StoredMemory, type WriteOutcome, type WriteStatus } from '../core/backend.js'
import { LtmError } from '../core/errors.js'
import type { PostgresExecutor, PgRow, Run } from './executor.js'
import { migrateSchema } from './schema.js'
import { searchStatement, type Ranking } from './search.js'
import { STATS, deleteExpired, deleteMemory, pageMemories, selectMemories, writeMemories } from './statements.js'

const toNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value))

/**
 * The MemoryBackend on PostgreSQL: every operation is one statement, so one round trip (a
 * transaction adds its BEGIN and COMMIT). Statements come from statements.ts and search.ts; the
 * executor runs them on the pool, or on the transaction's connection for a scoped backend.
 */
export class PostgresMemoryBackend implements MemoryBackend {
  #closed = false

  constructor(
    readonly name: string,
    private readonly executor: PostgresExecutor,
    private readonly ranking: Ranking,
    private readonly run: Run = (statement, mode) => executor.run(statement, mode),
    private readonly inTransaction = false,
  ) {}

  async write(entries: PreparedWrite[], now: number): Promise<WriteOutcome[]> {
    if (entries.length === 0) return []
    const rows = await this.run(writeMemories(entries, now), 'write')
    return rows.map((row) => ({ status: String(row.status) as WriteStatus, expiresAt: toNumber(row.expires_at) }))
  }

  async read(namespace: string, keys: string[], now: number): Promise<Map<string, StoredMemory>> {
    const found = new Map<string, StoredMemory>()
    if (keys.length === 0) return found
    for (const row of await this.run(selectMemories(namespace, keys, now), 'read')) found.set(String(row.key), storedFromRow(row, namespace))
    return found
  }

  async remove(namespace: string, key: string, now: number): Promise<boolean> {
    const [row] = await this.run(deleteMemory(namespace, key), 'write')
    if (!row) return false
    const expiresAt = toNumber(row.expires_at)
    return expiresAt === null || expiresAt > now
  }

  async search(request: SearchRequest): Promise<ScoredMemory[]> {
    const rows = await this.run(searchStatement(request, this.ranking), 'read')
    return rows.map((row) => ({ ...storedFromRow(row, request.namespace), score: Number(row.score) }))
  }

  async cleanupExpired(namespace: string, now: number): Promise<number> {
    const [row] = await this.run(deleteExpired(namespace, now), 'write')
    return Number(row?.n ?? 0)
  }

  async page(request: PageRequest): Promise<StoredMemory[]> {
    return (await this.run(pageMemories(request), 'read')).map((row) => storedFromRow(row, request.namespace))
  }

  async transaction<T>(fn: (backend: MemoryBackend) => Promise<T>): Promise<T> {
    if (this.inTransaction) throw new LtmError('transaction_misuse', 'postgres: transactions do not nest')
    return this.executor.transaction((run) => fn(new PostgresMemoryBackend(this.name, this.executor, this.ranking, run, true)))
  }

  async stats(): Promise<Record<string, unknown>> {
    const [row] = await this.run(STATS, 'read')
    return {
      engine: 'pg',
      ranking: this.ranking,
      namespaces: Number(row?.namespaces ?? 0),
      memories: Number(row?.memories ?? 0),
      database_bytes: Number(row?.database_bytes ?? 0),
      ...this.executor.stats(),
    }
  }

  async close(): Promise<void> {
    if (this.#closed || this.inTransaction) return
    this.#closed = true
    await this.executor.close()
  }
}

/** A backend over an executor whose schema is brought up to date first; the pool is closed if that fails. */
export async function openPostgresBackend(name: string, executor: PostgresExecutor, ranking: Ranking): Promise<PostgresMemoryBackend> {
  try {
    await migrateSchema(executor)
  } catch (error) {
    await executor.close().catch(() => undefined)
    throw executor.failure(error)
  }
  return new PostgresMemoryBackend(name, executor, ranking)
}

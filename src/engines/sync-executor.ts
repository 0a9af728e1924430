import { sqliteFailure } from './sqlite-errors.js'
import type { SqlExecutor, SqlResult, SqlStatement, SqlTransaction } from './types.js'

/** What a synchronous SQLite engine (native driver, sql.js) provides: run one statement, run plain SQL. */
export interface SyncConnection {
  execute(statement: SqlStatement): SqlResult
  exec(sql: string): void
  close(): void
}

/**
 * Executor over a synchronous connection. Batches are atomic (BEGIN/COMMIT, or a savepoint inside
 * an open transaction); an interactive transaction makes every other call wait until it ends,
 * because a single connection cannot interleave them.
 */
export class SyncExecutor implements SqlExecutor {
  readonly capabilities = { interactiveTransactions: true }
  #transactionDone: Promise<void> | null = null

  constructor(
    readonly engine: string,
    protected readonly connection: SyncConnection,
    private readonly describe: () => Record<string, unknown> = () => ({}),
  ) {}

  /** Runs statements atomically; `nested` uses a savepoint inside the open transaction. */
  protected atomic(statements: SqlStatement[], nested: boolean): SqlResult[] {
    const db = this.connection
    try {
      if (statements.length === 1) return [db.execute(statements[0]!)]
      db.exec(nested ? 'SAVEPOINT ltm_batch' : 'BEGIN')
      try {
        const results = statements.map((s) => db.execute(s))
        db.exec(nested ? 'RELEASE ltm_batch' : 'COMMIT')
        return results
      } catch (error) {
        db.exec(nested ? 'ROLLBACK TO ltm_batch; RELEASE ltm_batch' : 'ROLLBACK')
        throw error
      }
    } catch (error) {
      throw sqliteFailure(error, this.engine)
    }
  }

  async batch(statements: SqlStatement[]): Promise<SqlResult[]> {
    while (this.#transactionDone) await this.#transactionDone
    return this.atomic(statements, false)
  }

  async begin(): Promise<SqlTransaction> {
    while (this.#transactionDone) await this.#transactionDone
    let release!: () => void
    this.#transactionDone = new Promise((resolve) => (release = resolve))
    const finish = (): void => {
      this.#transactionDone = null
      release()
    }
    try {
      this.connection.exec('BEGIN IMMEDIATE')
    } catch (error) {
      finish()
      throw sqliteFailure(error, this.engine)
    }
    const end = (sql: 'COMMIT' | 'ROLLBACK'): void => {
      try {
        this.connection.exec(sql)
      } catch (error) {
        if (sql === 'COMMIT') this.#tryRollback()
        throw sqliteFailure(error, this.engine)
      } finally {
        finish()
      }
    }
    return {
      batch: async (statements) => this.atomic(statements, true),
      commit: async () => end('COMMIT'),
      rollback: async () => end('ROLLBACK'),
    }
  }

  #tryRollback(): void {
    try {
      this.connection.exec('ROLLBACK')
    } catch {
      // already rolled back by SQLite itself
    }
  }

  async stats(): Promise<Record<string, unknown>> {
    const [size] = this.atomic([{ sql: 'SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()', args: [] }], false)
    return { ...this.describe(), database_bytes: Number(size?.rows[0]?.bytes ?? 0) }
  }

  async close(): Promise<void> {
    while (this.#transactionDone) await this.#transactionDone
    this.connection.close()
  }
}

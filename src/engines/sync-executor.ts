import { sqliteFailure } from './sqlite-errors.js'
import type { BatchMode, SqlExecutor, SqlResult, SqlStatement, SqlTransaction } from './types.js'

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
/** Exclusive use of the connection until release(): what transactions and persistence layers build on. */
export interface ConnectionLock {
  /** Runs statements atomically; `nested` uses a savepoint inside a transaction the holder opened. */
  atomic(statements: SqlStatement[], nested: boolean): SqlResult[]
  exec(sql: string): void
  release(): void
}

export class SyncExecutor implements SqlExecutor {
  readonly capabilities = { interactiveTransactions: true }
  #held: Promise<void> | null = null

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

  /** Waits for the connection to be free, then holds it until release(); other calls wait meanwhile. */
  async lock(): Promise<ConnectionLock> {
    while (this.#held) await this.#held
    let free!: () => void
    this.#held = new Promise((resolve) => (free = resolve))
    let released = false
    return {
      atomic: (statements, nested) => this.atomic(statements, nested),
      exec: (sql) => {
        try {
          this.connection.exec(sql)
        } catch (error) {
          throw sqliteFailure(error, this.engine)
        }
      },
      release: () => {
        if (released) return
        released = true
        this.#held = null
        free()
      },
    }
  }

  /** One connection, no separate readers: `mode` does not change how a batch runs here. */
  async batch(statements: SqlStatement[], _mode?: BatchMode): Promise<SqlResult[]> {
    while (this.#held) await this.#held
    return this.atomic(statements, false)
  }

  async begin(): Promise<SqlTransaction> {
    const lock = await this.lock()
    try {
      lock.exec('BEGIN IMMEDIATE')
    } catch (error) {
      lock.release()
      throw error
    }
    return {
      batch: async (statements) => lock.atomic(statements, true),
      commit: async () => endTransaction(lock, 'COMMIT'),
      rollback: async () => endTransaction(lock, 'ROLLBACK'),
    }
  }

  async stats(): Promise<Record<string, unknown>> {
    const [size] = this.atomic([{ sql: 'SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()', args: [] }], false)
    return { ...this.describe(), database_bytes: Number(size?.rows[0]?.bytes ?? 0) }
  }

  async close(): Promise<void> {
    while (this.#held) await this.#held
    this.connection.close()
  }
}

/** Ends a transaction and frees the connection; a failed COMMIT is rolled back so nothing half-done remains. */
export function endTransaction(lock: ConnectionLock, sql: 'COMMIT' | 'ROLLBACK'): void {
  try {
    lock.exec(sql)
  } catch (error) {
    if (sql === 'COMMIT') {
      try {
        lock.exec('ROLLBACK')
      } catch {
        // SQLite already rolled back
      }
    }
    throw error
  } finally {
    lock.release()
  }
}

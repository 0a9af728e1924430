import { LtmFailure } from '../core/errors.js'
import { sqliteFailure } from './sqlite-errors.js'
import type { SqlExecutor, SqlResult, SqlRow, SqlStatement, SqlTransaction, SqlValue } from './types.js'

/** The subset of better-sqlite3 / libsql (same API) this executor calls. */
interface NativeStatement {
  readonly reader: boolean
  all(...args: SqlValue[]): SqlRow[]
  run(...args: SqlValue[]): { changes: number }
}
interface NativeDatabase {
  prepare(sql: string): NativeStatement
  exec(sql: string): void
  pragma?(source: string): unknown
  close(): void
}
type NativeDatabaseClass = new (path: string, options?: { timeout?: number }) => NativeDatabase

export type NativeDriver = 'better-sqlite3' | 'libsql'

export interface NativeExecutorOptions {
  path: string
  driver: NativeDriver
  /** How long a write waits for another connection's lock before `lock_timeout`. */
  busyTimeoutMs: number
}

async function loadDriver(driver: NativeDriver): Promise<NativeDatabaseClass> {
  try {
    const module = (await import(driver)) as { default?: NativeDatabaseClass }
    return (module.default ?? module) as NativeDatabaseClass
  } catch (error) {
    throw new LtmFailure('dependency_missing', `sqlite: the native driver "${driver}" is not installed. Install it with: npm install ${driver}`, undefined, { cause: error })
  }
}

const STATEMENT_CACHE_SIZE = 256

/** Executor over a native, synchronous SQLite driver. One connection; an open transaction makes others wait. */
export class NativeExecutor implements SqlExecutor {
  readonly capabilities = { interactiveTransactions: true }
  readonly engine: string
  #statements = new Map<string, NativeStatement>()
  #transactionDone: Promise<void> | null = null

  private constructor(private readonly db: NativeDatabase, driver: NativeDriver, private readonly path: string) {
    this.engine = driver
  }

  static async open(options: NativeExecutorOptions): Promise<NativeExecutor> {
    const Database = await loadDriver(options.driver)
    let db: NativeDatabase
    try {
      db = new Database(options.path, { timeout: options.busyTimeoutMs })
      db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`)
      if (options.path !== ':memory:' && options.path !== '') db.exec('PRAGMA journal_mode = WAL')
      db.exec('PRAGMA synchronous = NORMAL')
    } catch (error) {
      throw sqliteFailure(error, options.driver)
    }
    return new NativeExecutor(db, options.driver, options.path)
  }

  #prepare(sql: string): NativeStatement {
    let statement = this.#statements.get(sql)
    if (!statement) {
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.clear()
      statement = this.db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  #execute(statement: SqlStatement): SqlResult {
    const prepared = this.#prepare(statement.sql)
    if (prepared.reader) {
      const rows = prepared.all(...statement.args)
      return { rows, changes: rows.length }
    }
    return { rows: [], changes: prepared.run(...statement.args).changes }
  }

  /** Runs the statements inside BEGIN/COMMIT, or inside a savepoint when a transaction is open. */
  #atomic(statements: SqlStatement[], nested: boolean): SqlResult[] {
    try {
      if (statements.length === 1) return [this.#execute(statements[0]!)]
      this.db.exec(nested ? 'SAVEPOINT ltm_batch' : 'BEGIN')
      try {
        const results = statements.map((s) => this.#execute(s))
        this.db.exec(nested ? 'RELEASE ltm_batch' : 'COMMIT')
        return results
      } catch (error) {
        this.db.exec(nested ? 'ROLLBACK TO ltm_batch; RELEASE ltm_batch' : 'ROLLBACK')
        throw error
      }
    } catch (error) {
      throw sqliteFailure(error, this.engine)
    }
  }

  async batch(statements: SqlStatement[]): Promise<SqlResult[]> {
    while (this.#transactionDone) await this.#transactionDone
    return this.#atomic(statements, false)
  }

  async begin(): Promise<SqlTransaction> {
    while (this.#transactionDone) await this.#transactionDone
    let release!: () => void
    this.#transactionDone = new Promise((resolve) => (release = resolve))
    const end = (sql: string): void => {
      try {
        this.db.exec(sql)
      } catch (error) {
        throw sqliteFailure(error, this.engine)
      } finally {
        this.#transactionDone = null
        release()
      }
    }
    try {
      this.db.exec('BEGIN IMMEDIATE')
    } catch (error) {
      end('SELECT 1')
      throw sqliteFailure(error, this.engine)
    }
    return {
      batch: async (statements) => this.#atomic(statements, true),
      commit: async () => end('COMMIT'),
      rollback: async () => end('ROLLBACK'),
    }
  }

  async stats(): Promise<Record<string, unknown>> {
    const [pages] = this.#atomic([{ sql: 'SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()', args: [] }], false)
    return { path: this.path, database_bytes: Number(pages?.rows[0]?.bytes ?? 0) }
  }

  async close(): Promise<void> {
    this.#statements.clear()
    this.db.close()
  }
}

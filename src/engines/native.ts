import { LtmFailure } from '../core/errors.js'
import { sqliteFailure } from './sqlite-errors.js'
import { SyncExecutor, type SyncConnection } from './sync-executor.js'
import type { SqlResult, SqlRow, SqlStatement, SqlValue } from './types.js'

/** The subset of better-sqlite3 / libsql (same API) this engine calls. */
interface NativeStatement {
  readonly reader: boolean
  all(...args: SqlValue[]): SqlRow[]
  run(...args: SqlValue[]): { changes: number }
}
interface NativeDatabase {
  prepare(sql: string): NativeStatement
  exec(sql: string): void
  close(): void
}
type NativeDatabaseClass = new (path: string, options?: { timeout?: number }) => NativeDatabase

export type NativeDriver = 'better-sqlite3' | 'libsql'

export interface NativeEngineOptions {
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

class NativeConnection implements SyncConnection {
  #statements = new Map<string, NativeStatement>()

  constructor(private readonly db: NativeDatabase) {}

  execute({ sql, args }: SqlStatement): SqlResult {
    let prepared = this.#statements.get(sql)
    if (!prepared) {
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.clear()
      prepared = this.db.prepare(sql)
      this.#statements.set(sql, prepared)
    }
    if (prepared.reader) {
      const rows = prepared.all(...args)
      return { rows, changes: rows.length }
    }
    return { rows: [], changes: prepared.run(...args).changes }
  }

  exec(sql: string): void {
    this.db.exec(sql)
  }

  close(): void {
    this.#statements.clear()
    this.db.close()
  }
}

/** Opens a file (or ':memory:') with a native, synchronous driver: WAL, synchronous=NORMAL, a busy timeout. */
export async function openNativeEngine(options: NativeEngineOptions): Promise<SyncExecutor> {
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
  return new SyncExecutor(options.driver, new NativeConnection(db), () => ({ path: options.path }))
}

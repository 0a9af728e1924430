import { LtmFailure } from '../core/errors.js'
import { sqliteFailure } from './sqlite-errors.js'
import { SyncExecutor, type SyncConnection } from './sync-executor.js'
import type { SqlResult, SqlRow, SqlStatement, SqlValue } from './types.js'

/** The subset of sql.js this engine calls. */
interface SqlJsStatement {
  bind(values: SqlValue[]): boolean
  step(): boolean
  getAsObject(): SqlRow
  getColumnNames(): string[]
  reset(): void
  free(): boolean
}
export interface SqlJsDatabase {
  prepare(sql: string): SqlJsStatement
  exec(sql: string): unknown
  getRowsModified(): number
  export(): Uint8Array
  close(): void
}
export interface SqlJsStatic {
  Database: new (data?: ArrayLike<number> | Buffer | null) => SqlJsDatabase
}
export type InitSqlJs = (config?: { locateFile?: (file: string) => string; wasmBinary?: ArrayBuffer | Uint8Array }) => Promise<SqlJsStatic>

const STATEMENT_CACHE_SIZE = 256

class SqlJsConnection implements SyncConnection {
  #statements = new Map<string, { statement: SqlJsStatement; reader: boolean }>()

  constructor(readonly db: SqlJsDatabase) {}

  execute({ sql, args }: SqlStatement): SqlResult {
    let cached = this.#statements.get(sql)
    if (!cached) {
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#freeStatements()
      const statement = this.db.prepare(sql)
      cached = { statement, reader: statement.getColumnNames().length > 0 }
      this.#statements.set(sql, cached)
    }
    const { statement, reader } = cached
    try {
      statement.bind(args)
      const rows: SqlRow[] = []
      while (statement.step()) rows.push(statement.getAsObject())
      return { rows, changes: reader ? rows.length : this.db.getRowsModified() }
    } finally {
      statement.reset()
    }
  }

  exec(sql: string): void {
    this.db.exec(sql)
  }

  #freeStatements(): void {
    for (const { statement } of this.#statements.values()) statement.free()
    this.#statements.clear()
  }

  close(): void {
    this.#freeStatements()
    this.db.close()
  }
}

/** A sql.js (SQLite compiled to WebAssembly) database held in memory; `export()` gives the file image. */
export class SqlJsExecutor extends SyncExecutor {
  constructor(private readonly sqljs: SqlJsConnection) {
    super('sql.js', sqljs)
  }

  /** The database as a SQLite file image, readable by any SQLite engine. */
  export(): Uint8Array {
    return this.sqljs.db.export()
  }
}

export interface SqlJsEngineOptions {
  /** sql.js's init function (`import initSqlJs from 'sql.js'`), so the caller's bundler decides how it loads. */
  initSqlJs: InitSqlJs
  /** A SQLite file image to open; an empty database when absent. */
  data?: Uint8Array
  /** Where sql-wasm.wasm lives (URL or path), when the default lookup does not fit the bundler. */
  locateFile?: (file: string) => string
  /** The wasm bytes themselves. */
  wasmBinary?: ArrayBuffer | Uint8Array
}

export async function openSqlJsEngine(options: SqlJsEngineOptions): Promise<SqlJsExecutor> {
  let SQL: SqlJsStatic
  try {
    const config: Parameters<InitSqlJs>[0] = {}
    if (options.locateFile) config.locateFile = options.locateFile
    if (options.wasmBinary) config.wasmBinary = options.wasmBinary
    SQL = await options.initSqlJs(config)
  } catch (error) {
    throw new LtmFailure('dependency_missing', `sql.js could not be loaded (${error instanceof Error ? error.message : String(error)}); install sql.js and check where its .wasm file is served from`, undefined, { cause: error })
  }
  try {
    return new SqlJsExecutor(new SqlJsConnection(new SQL.Database(options.data ?? null)))
  } catch (error) {
    throw sqliteFailure(error, 'sql.js')
  }
}

/**
 * The executor contract: an engine runs SQL text it is given and never holds SQL of its own.
 * Every SQLite-family engine (native, sql.js, Hrana, D1) implements this, so the SQL core is written once.
 */
export type SqlValue = string | number | bigint | null | Uint8Array
export type SqlRow = Record<string, SqlValue>

export interface SqlStatement {
  sql: string
  args: SqlValue[]
}

export interface SqlResult {
  rows: SqlRow[]
  /** Rows changed by an INSERT/UPDATE/DELETE. */
  changes: number
}

export interface SqlExecutorCapabilities {
  /** begin() gives an interactive transaction (reads see earlier writes before commit). */
  readonly interactiveTransactions: boolean
}

/** `read` promises the statements change nothing, so an engine may skip write locks and logging. */
export type BatchMode = 'read' | 'write'

export interface SqlTransaction {
  batch(statements: SqlStatement[], mode?: BatchMode): Promise<SqlResult[]>
  commit(): Promise<void>
  rollback(): Promise<void>
}

export interface SqlExecutor {
  /** Engine name for messages and stats, e.g. `better-sqlite3`. */
  readonly engine: string
  readonly capabilities: SqlExecutorCapabilities
  /** Runs the statements in order, atomically: all or nothing. */
  batch(statements: SqlStatement[], mode?: BatchMode): Promise<SqlResult[]>
  /** Exclusive interactive transaction; other calls wait until it ends. */
  begin(): Promise<SqlTransaction>
  /** Engine-specific counters (database size, requests). */
  stats?(): Promise<Record<string, unknown>>
  close(): Promise<void>
}

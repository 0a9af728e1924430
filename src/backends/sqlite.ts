import { LtmError } from '../core/errors.js'
import type { BackendDefinition, BackendOptions } from '../core/registry.js'
import { openNativeEngine, type NativeDriver } from '../engines/native.js'
import { openSqlBackend } from '../sql/sql-backend.js'

export const DEFAULT_SQLITE_PATH = './agent-memory.db'

/** Embedded SQLite in Node through a native driver. */
export interface SqliteOptions extends BackendOptions {
  backend: 'sqlite'
  /** Database file; `':memory:'` for a private in-memory database. @default './agent-memory.db' */
  path?: string
  /** Native driver; better-sqlite3 measured fastest here (see BENCHMARKS.md). @default 'better-sqlite3' */
  driver?: NativeDriver
  /** How long a write waits for another process's lock before `lock_timeout`, in ms. @default 5000 */
  busyTimeoutMs?: number
}

export const sqliteBackend: BackendDefinition<SqliteOptions> = {
  requiredOptions: [],
  async open(options) {
    if (options.path !== undefined && typeof options.path !== 'string') throw new LtmError('invalid_argument', 'sqlite: path must be a string')
    const busy = options.busyTimeoutMs
    if (busy !== undefined && (!Number.isSafeInteger(busy) || busy < 0)) throw new LtmError('invalid_argument', `sqlite: busyTimeoutMs must be a whole number of milliseconds, got ${JSON.stringify(busy)}`)
    const executor = await openNativeEngine({
      path: options.path ?? DEFAULT_SQLITE_PATH,
      driver: options.driver ?? 'better-sqlite3',
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    })
    return openSqlBackend('sqlite', executor)
  },
}

import { LtmFailure } from '../core/errors.js'
import type { ErrorType } from '../core/types.js'

/** SQLite result codes, by their primary name, to error types; everything else is backend_error. */
const BY_CODE: Record<string, { type: ErrorType; advice: string }> = {
  SQLITE_BUSY: { type: 'lock_timeout', advice: 'another connection holds the write lock; retry, or raise busyTimeoutMs' },
  SQLITE_LOCKED: { type: 'lock_timeout', advice: 'the table is locked by another statement; retry' },
  SQLITE_FULL: { type: 'quota_exceeded', advice: 'the disk or storage quota is full; free space, then retry' },
  SQLITE_NOTADB: { type: 'backend_error', advice: 'the file is not a SQLite database' },
  SQLITE_CORRUPT: { type: 'backend_error', advice: 'the database file is corrupt; restore it from a backup' },
  SQLITE_CANTOPEN: { type: 'backend_error', advice: 'the database file cannot be opened; check the path and its permissions' },
  SQLITE_READONLY: { type: 'backend_error', advice: 'the database is read-only; check file permissions' },
  SQLITE_IOERR: { type: 'backend_error', advice: 'the disk reported an I/O error' },
}

/**
 * Name of the CHECK constraint a batched transaction's guard statements violate when a memory it
 * read changed before its commit (src/sql/statements.ts guardUnchanged): the engine reports it by name.
 */
export const TRANSACTION_CONFLICT_CONSTRAINT = 'ltm_transaction_conflict'

/** Maps a native SQLite error (with a `code` such as SQLITE_BUSY_SNAPSHOT) to an LtmFailure, once, at the engine boundary. */
export function sqliteFailure(error: unknown, engine: string): LtmFailure {
  if (error instanceof LtmFailure) return error
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : ''
  const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? ''
  const known = BY_CODE[primary]
  const detail = error instanceof Error ? error.message : String(error)
  if (primary === 'SQLITE_CONSTRAINT' && detail.includes(TRANSACTION_CONFLICT_CONSTRAINT)) {
    return new LtmFailure('conflict', `${engine}: a memory this transaction read was changed by another writer before it committed; nothing was written, retry the transaction`)
  }
  if (known) return new LtmFailure(known.type, `${engine}: ${known.advice} (${code}: ${detail})`, undefined, { cause: error })
  return new LtmFailure('backend_error', `${engine}: ${detail}${code ? ` (${code})` : ''}`, undefined, { cause: error })
}

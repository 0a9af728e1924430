import type { Client, InStatement, ResultSet, Transaction } from '@libsql/client/web'
import { LtmFailure } from '../core/errors.js'
import type { Transport } from '../transport/transport.js'
import { IssueOrder, TransactionGate } from './gate.js'
import { sqliteFailure } from './sqlite-errors.js'
import type { BatchMode, SqlExecutor, SqlResult, SqlRow, SqlStatement, SqlTransaction, SqlValue } from './types.js'

function toResult(set: ResultSet): SqlResult {
  const rows: SqlRow[] = set.rows.map((row) => {
    const out: SqlRow = {}
    set.columns.forEach((column, i) => (out[column] = row[i] as SqlValue))
    return out
  })
  return { rows, changes: set.rowsAffected }
}

const toStatements = (statements: SqlStatement[]): InStatement[] => statements.map(({ sql, args }) => ({ sql, args }))

/**
 * libSQL over HTTP (Turso, a self-hosted sqld) through `@libsql/client/web`, whose every request
 * goes through the transport. A batch is one HTTP request (BEGIN, the statements, COMMIT and the
 * stream's close in one pipeline); reads are retried on a retryable failure, writes never are,
 * since the server may have committed before the answer was lost.
 */
export class LibsqlRemoteExecutor implements SqlExecutor {
  readonly engine = 'libsql-remote'
  readonly capabilities = { interactiveTransactions: true }
  #gate = new TransactionGate()
  #order = new IssueOrder()

  constructor(
    private readonly client: Client,
    private readonly transport: Transport,
  ) {}

  /** Transport failures pass as they are; the client's errors are mapped by SQLite code, redacted, without the raw error attached. */
  #failure(error: unknown): LtmFailure {
    if (error instanceof LtmFailure) return error
    const mapped = sqliteFailure(error, this.engine)
    return new LtmFailure(mapped.errorType, this.transport.redact(mapped.message), mapped.retryAfter)
  }

  async batch(statements: SqlStatement[], mode: BatchMode = 'write'): Promise<SqlResult[]> {
    await this.#gate.idle()
    const send = async (): Promise<SqlResult[]> => (await this.client.batch(toStatements(statements), mode === 'read' ? 'read' : 'write')).map(toResult)
    try {
      return await (mode === 'read' ? this.#order.read(() => this.transport.retrying(send)) : this.#order.write(send))
    } catch (error) {
      throw this.#failure(error)
    }
  }

  async begin(): Promise<SqlTransaction> {
    const release = await this.#gate.enter()
    let tx: Transaction
    try {
      tx = await this.client.transaction('write')
    } catch (error) {
      release()
      throw this.#failure(error)
    }
    const finish = async (end: () => Promise<void>): Promise<void> => {
      try {
        await end()
      } catch (error) {
        throw this.#failure(error)
      } finally {
        tx.close()
        release()
      }
    }
    return {
      batch: async (statements) => {
        try {
          return (await tx.batch(toStatements(statements))).map(toResult)
        } catch (error) {
          throw this.#failure(error)
        }
      },
      commit: () => finish(() => tx.commit()),
      rollback: () => finish(() => tx.rollback()),
    }
  }

  async stats(): Promise<Record<string, unknown>> {
    return { transport: this.transport.stats() }
  }

  async close(): Promise<void> {
    await this.#gate.idle()
    this.client.close()
  }
}

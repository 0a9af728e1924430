import { LtmFailure } from '../core/errors.js'
import type { ErrorType } from '../core/types.js'
import { IssueOrder, TransactionGate } from '../engines/gate.js'

/**
 * The subset of `pg` this backend calls, typed structurally: the package's types never need
 * `@types/pg`, and any pool with this shape works.
 */
export interface PgQueryResult {
  rows: PgRow[]
  /** The command tag: `COMMIT`, or `ROLLBACK` when the server rolled an aborted transaction back. */
  command: string
}
export type PgRow = Record<string, unknown>
export interface PgClient {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>
  /** Returns the client to the pool; with an error (or true) the connection is closed instead. */
  release(destroy?: Error | boolean): void
  on(event: 'error', listener: (error: Error) => void): unknown
  removeListener(event: 'error', listener: (error: Error) => void): unknown
}
export interface PgPool {
  connect(): Promise<PgClient>
  end(): Promise<void>
  on(event: 'error', listener: (error: Error) => void): unknown
  readonly totalCount: number
  readonly idleCount: number
  readonly waitingCount: number
}

/** One parameterised statement; `values: []` sends the text with the simple protocol (several statements allowed, no parameters). */
export interface PgStatement {
  text: string
  values: unknown[]
}

export type Mode = 'read' | 'write'
/** Runs one statement: one round trip. */
export type Run = (statement: PgStatement, mode: Mode) => Promise<PgRow[]>

/** An LtmFailure that keeps the server's SQLSTATE, for the few places that branch on it (the schema check). */
export class PostgresFailure extends LtmFailure {
  constructor(
    errorType: ErrorType,
    message: string,
    readonly sqlState: string | undefined,
  ) {
    super(errorType, message)
  }
}

/**
 * SQLSTATE (a class, or one code) to error type, most specific first. Serialization failures
 * (40001, only under a stricter isolation level than the default READ COMMITTED) and deadlocks are
 * `lock_timeout`: like a lock wait that timed out, retrying the call is the remedy.
 */
const BY_SQLSTATE: ReadonlyArray<readonly [string, ErrorType, string]> = [
  ['28', 'auth_failed', 'the server refused the credentials; check the user and password of the URL'],
  ['42501', 'auth_failed', "the role lacks a privilege this needs; grant it, or connect as the database's owner"],
  ['55P03', 'lock_timeout', 'another connection held a lock longer than lockTimeoutMs; retry'],
  ['57014', 'lock_timeout', 'the statement was cancelled after statementTimeoutMs (or by an administrator); retry'],
  ['40P01', 'lock_timeout', 'a deadlock with another transaction was broken by cancelling this one; retry'],
  ['40001', 'lock_timeout', 'a concurrent transaction changed the same rows (serialization failure); retry'],
  ['53300', 'connection_timeout', 'the server has no free connection slot; retry later, or lower pool.max'],
  ['53', 'quota_exceeded', 'the server ran out of disk, memory or another resource; free some, then retry'],
  ['08', 'connection_timeout', 'the connection to the server failed or was lost; retry'],
  ['57P', 'connection_timeout', 'the server is shutting down or starting up; retry'],
  ['22', 'invalid_input', 'PostgreSQL refused a value'],
  ['54', 'invalid_input', 'a value is over a PostgreSQL limit'],
  ['3D000', 'backend_error', 'the database does not exist; create it or fix the URL'],
  ['25P02', 'backend_error', 'an earlier statement failed, so the server aborted the transaction'],
]

function isSqlState(error: unknown): error is Error & { code: string } {
  if (!(error instanceof Error)) return false
  const { code, severity } = error as { code?: unknown; severity?: unknown }
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string'
}

/**
 * Maps what `pg` throws to an LtmFailure, once, by structure: the server's SQLSTATE, a Node socket
 * error (it has `syscall`), or an error of the client itself, which pg raises only for its
 * connection (refused, timed out, lost, closed). Messages are redacted and the native error is not
 * attached (it may carry the configuration).
 */
export function postgresFailure(error: unknown, redact: (text: string) => string): LtmFailure {
  if (error instanceof LtmFailure) return error
  const detail = error instanceof Error ? error.message : String(error)
  if (isSqlState(error)) {
    const code = error.code
    const known = BY_SQLSTATE.find(([prefix]) => code.startsWith(prefix))
    const [type, advice] = known ? [known[1], known[2]] : (['backend_error', 'the server refused the statement'] as const)
    return new PostgresFailure(type, redact(`postgres: ${advice} (${code}: ${detail})`), code)
  }
  // The server asked for a password and the configuration has none: pg says so only in a plain
  // Error (SCRAM) or TypeError (md5, cleartext) with this wording, no code.
  if (error instanceof Error && /password must be a string/i.test(error.message)) {
    return new PostgresFailure('auth_failed', 'postgres: the server asks for a password and none was given; put it in the URL (postgres://user:password@host/db or ?password=), PGPASSWORD or ~/.pgpass', undefined)
  }
  if (error instanceof TypeError || error instanceof RangeError || !(error instanceof Error)) {
    return new PostgresFailure('backend_error', redact(`postgres: unexpected client error: ${detail}`), undefined)
  }
  const socket = (error as { syscall?: unknown; code?: unknown }).syscall !== undefined ? ` (${String((error as { code?: unknown }).code)})` : ''
  return new PostgresFailure('connection_timeout', redact(`postgres: could not reach the server or lost the connection: ${detail}${socket}; retry`), undefined)
}

const COMMIT: PgStatement = { text: 'COMMIT', values: [] }
const ROLLBACK: PgStatement = { text: 'ROLLBACK', values: [] }
const BEGIN: PgStatement = { text: 'BEGIN', values: [] }

/**
 * Runs statements on a `pg` pool. Each call is one statement on one pooled connection, so one
 * round trip. Calls keep the order they were made in (IssueOrder: a write waits for the calls
 * before it, reads run side by side on several connections), and while a transaction is open on its
 * own connection every other call waits (TransactionGate), as on the other backends.
 */
export class PostgresExecutor {
  readonly #pool: PgPool
  readonly #redact: (text: string) => string
  readonly #gate = new TransactionGate()
  readonly #order = new IssueOrder()
  #roundTrips = 0
  #connections = 0
  #lostIdle = 0

  constructor(pool: PgPool, redact: (text: string) => string) {
    this.#pool = pool
    this.#redact = redact
    // An idle pooled connection that dies (server restart, network) is dropped by the pool and reported
    // here; without a listener Node would crash the process. The next call opens a new connection.
    pool.on('error', () => {
      this.#lostIdle++
    })
  }

  failure(error: unknown): LtmFailure {
    return postgresFailure(error, this.#redact)
  }

  /** A pooled connection, guarded against 'error' events while we hold it (pg emits them between queries). */
  async #acquire(): Promise<{ client: PgClient; done: (broken: boolean) => void }> {
    let client: PgClient
    try {
      client = await this.#pool.connect()
    } catch (error) {
      throw this.failure(error)
    }
    this.#connections++
    let lost: Error | undefined
    const onError = (error: Error): void => {
      lost = error
    }
    client.on('error', onError)
    return {
      client,
      done: (broken) => {
        client.removeListener('error', onError)
        client.release(broken || lost ? (lost ?? true) : undefined)
      },
    }
  }

  async #query(client: PgClient, statement: PgStatement): Promise<PgQueryResult> {
    this.#roundTrips++
    try {
      return await client.query(statement.text, statement.values)
    } catch (error) {
      throw this.failure(error)
    }
  }

  /** One statement on a pooled connection, in issue order, after any open transaction. */
  async run(statement: PgStatement, mode: Mode): Promise<PgRow[]> {
    await this.#gate.idle()
    const send = async (): Promise<PgRow[]> => {
      const { client, done } = await this.#acquire()
      let broken = false
      try {
        return (await this.#query(client, statement)).rows
      } catch (error) {
        broken = error instanceof LtmFailure && error.errorType === 'connection_timeout'
        throw error
      } finally {
        done(broken)
      }
    }
    return mode === 'read' ? this.#order.read(send) : this.#order.write(send)
  }

  /**
   * BEGIN, `fn` with a runner bound to one connection, then COMMIT; ROLLBACK if `fn` throws. A
   * statement that fails aborts a PostgreSQL transaction, so after one failure every later statement
   * of `fn` gets the same failure and the transaction is rolled back even if `fn` returns normally.
   */
  async transaction<T>(fn: (run: Run) => Promise<T>): Promise<T> {
    const release = await this.#gate.enter()
    try {
      await this.#order.write(async () => undefined) // calls made before the transaction finish first
      const { client, done } = await this.#acquire()
      let broken = false
      let failed: LtmFailure | undefined
      const run: Run = async (statement) => {
        if (failed) throw failed
        try {
          return (await this.#query(client, statement)).rows
        } catch (error) {
          failed = error as LtmFailure
          throw error
        }
      }
      const rollback = async (): Promise<void> => {
        await this.#query(client, ROLLBACK).catch(() => {
          broken = true // the connection is unusable: close it rather than return it mid-transaction
        })
      }
      try {
        await this.#query(client, BEGIN)
        let value: T
        try {
          value = await fn(run)
        } catch (error) {
          await rollback()
          throw error
        }
        if (failed) {
          await rollback()
          throw failed
        }
        const committed = await this.#query(client, COMMIT)
        if (committed.command !== 'COMMIT') throw new LtmFailure('backend_error', 'postgres: the server rolled the transaction back instead of committing it')
        return value
      } catch (error) {
        if (error instanceof LtmFailure && error.errorType === 'connection_timeout') broken = true
        throw error
      } finally {
        done(broken)
      }
    } finally {
      release()
    }
  }

  stats(): Record<string, unknown> {
    return {
      round_trips: this.#roundTrips,
      connections_acquired: this.#connections,
      idle_connections_lost: this.#lostIdle,
      pool: { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount },
    }
  }

  async close(): Promise<void> {
    await this.#gate.idle()
    await this.#pool.end()
  }
}

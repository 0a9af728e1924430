import { LtmFailure } from '../core/errors.js'
import type { Transport } from '../transport/transport.js'
import { IssueOrder, TransactionGate } from './gate.js'
import { sqliteFailure } from './sqlite-errors.js'
import type { BatchMode, SqlExecutor, SqlResult, SqlRow, SqlStatement, SqlTransaction, SqlValue } from './types.js'

/** The subset of a Workers D1 binding (`env.DB`) this engine calls. */
export interface D1DatabaseBinding {
  prepare(sql: string): D1PreparedStatementLike
  batch(statements: D1PreparedStatementLike[]): Promise<Array<{ results?: unknown[]; meta?: { changes?: number } }>>
}
export interface D1PreparedStatementLike {
  bind(...values: unknown[]): D1PreparedStatementLike
}

/** One statement's result in D1's shape (REST `result[]` items and binding batch items alike). */
interface D1StatementResult {
  results?: unknown[]
  meta?: { changes?: number }
}

/** Cloudflare's API envelope. */
interface D1Envelope {
  success?: boolean
  result?: D1StatementResult[]
  errors?: Array<{ code?: number; message?: string }>
}

export interface D1RestTarget {
  baseUrl: string
  accountId: string
  databaseId: string
  apiToken: string
}

/** How statements reach D1: the REST API over the transport, or a Workers binding. */
type D1Runner = (statements: SqlStatement[], mode: BatchMode) => Promise<D1StatementResult[]>

function toResult(result: D1StatementResult): SqlResult {
  return { rows: (result.results ?? []) as SqlRow[], changes: Number(result.meta?.changes ?? 0) }
}

/**
 * D1 errors end with the SQLite result code, `...: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_CHECK)`,
 * and the REST envelope adds `(code 7500)`: those trailing tokens are the code.
 */
const D1_CODE_SUFFIX = /\b(SQLITE_[A-Z_]+)(?:\s*\(extended: (SQLITE_[A-Z_]+)\))?\s*(?:\(code \d+\))?\s*$/

function d1SqlFailure(message: string, engine: string, redact: (text: string) => string): LtmFailure {
  const suffix = D1_CODE_SUFFIX.exec(message)
  const code = suffix?.[2] ?? suffix?.[1]
  const mapped = sqliteFailure(Object.assign(new Error(message), code ? { code } : {}), engine)
  return new LtmFailure(mapped.errorType, redact(mapped.message), mapped.retryAfter)
}

function restParam(value: SqlValue, engine: string): string | number | null {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  throw new LtmFailure('invalid_input', `${engine}: the REST API takes JSON parameters; a blob cannot be bound`)
}

/** D1 through Cloudflare's REST API: one POST per batch, `{ batch: [...] }` runs atomically. */
export function d1RestRunner(target: D1RestTarget, transport: Transport): D1Runner {
  const url = `${target.baseUrl.replace(/\/+$/, '')}/accounts/${encodeURIComponent(target.accountId)}/d1/database/${encodeURIComponent(target.databaseId)}/query`
  const engine = 'd1-rest'
  return async (statements, mode) => {
    const batch = statements.map(({ sql, args }) => ({ sql, params: args.map((arg) => restParam(arg, engine)) }))
    const response = await transport.request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(batch.length === 1 ? batch[0] : { batch }),
      idempotent: mode === 'read',
    })
    let envelope: D1Envelope
    try {
      envelope = response.json() as D1Envelope
    } catch {
      throw new LtmFailure('backend_error', `${engine}: the API answered ${response.status} with a body that is not JSON: ${transport.redact(response.text().slice(0, 200))}`)
    }
    if (response.status >= 200 && response.status < 300 && envelope.success !== false && Array.isArray(envelope.result)) {
      if (envelope.result.length !== statements.length) throw new LtmFailure('backend_error', `${engine}: ${statements.length} statements sent, ${envelope.result.length} results received`)
      return envelope.result
    }
    const errors = envelope.errors ?? []
    const message = errors.map((e) => `${e.message ?? 'error'}${e.code !== undefined ? ` (code ${e.code})` : ''}`).join('; ') || `HTTP ${response.status}`
    if (response.status === 404) throw new LtmFailure('backend_error', transport.redact(`${engine}: database ${target.databaseId} of account ${target.accountId} not found: ${message}`))
    throw d1SqlFailure(message, engine, transport.redact)
  }
}

/** D1 through a Workers binding (`env.DB`): `batch()` runs atomically, in the Worker, with no HTTP of ours. */
export function d1BindingRunner(binding: D1DatabaseBinding): D1Runner {
  return async (statements) => {
    try {
      return await binding.batch(statements.map(({ sql, args }) => binding.prepare(sql).bind(...args.map((arg) => (typeof arg === 'bigint' ? Number(arg) : arg)))))
    } catch (error) {
      throw d1SqlFailure(error instanceof Error ? error.message : String(error), 'd1-binding', (text) => text)
    }
  }
}

/**
 * Cloudflare D1. D1 has no interactive transactions (BEGIN and SAVEPOINT are refused): a batch is
 * its unit of atomicity, so `begin()` gives a transaction whose writes are sent together, as one
 * atomic batch, at commit (see SqlMemoryBackend's batched transactions).
 */
export class D1Executor implements SqlExecutor {
  readonly capabilities = { interactiveTransactions: false }
  #gate = new TransactionGate()
  #order = new IssueOrder()
  #batches = 0

  constructor(
    readonly engine: string,
    private readonly run: D1Runner,
    private readonly transport: Transport | null,
  ) {}

  async batch(statements: SqlStatement[], mode: BatchMode = 'write'): Promise<SqlResult[]> {
    await this.#gate.idle()
    return mode === 'read' ? this.#order.read(() => this.#send(statements, mode)) : this.#order.write(() => this.#send(statements, mode))
  }

  async #send(statements: SqlStatement[], mode: BatchMode): Promise<SqlResult[]> {
    if (statements.length === 0) return []
    this.#batches++
    return (await this.run(statements, mode)).map(toResult)
  }

  async begin(): Promise<SqlTransaction> {
    const release = await this.#gate.enter()
    const pending: SqlStatement[] = []
    let ended = false
    const end = (): void => {
      ended = true
      release()
    }
    return {
      batch: async (statements, mode = 'write') => {
        if (ended) throw new LtmFailure('backend_error', `${this.engine}: the transaction has ended`)
        if (mode === 'write') {
          pending.push(...statements)
          return statements.map(() => ({ rows: [], changes: 0 }))
        }
        return this.#send(statements, 'read')
      },
      commit: async () => {
        try {
          await this.#send(pending, 'write')
        } finally {
          end()
        }
      },
      rollback: async () => end(),
    }
  }

  async stats(): Promise<Record<string, unknown>> {
    return { batches: this.#batches, ...(this.transport ? { transport: this.transport.stats() } : {}) }
  }

  async close(): Promise<void> {
    await this.#gate.idle()
  }
}

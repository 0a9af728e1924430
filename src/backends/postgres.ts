import { LtmError, LtmFailure } from '../core/errors.js'
import type { BackendDefinition, BackendOptions } from '../core/registry.js'
import { openPostgresBackend } from '../postgres/backend.js'
import { PostgresExecutor, type PgPool } from '../postgres/executor.js'
import type { Ranking } from '../postgres/search.js'
import { Redactor } from '../transport/redact.js'

export interface PostgresPoolOptions {
  /** Most connections open at once. @default 3 */
  max?: number
  /** An idle connection is closed after this many ms. @default 10000 */
  idleTimeoutMs?: number
  /** Opening a connection (or waiting for a free one) fails with `connection_timeout` after this many ms. @default 10000 */
  connectTimeoutMs?: number
}

/**
 * PostgreSQL (12 or newer; tested on 15) through `pg` and a connection pool. The schema is
 * created or upgraded on first use; search uses a generated tsvector with a GIN index and ranks
 * with the SDK's BM25 (see src/postgres/search.ts).
 * @example await createLTM({ backend: 'postgres', url: process.env.DATABASE_URL, pool: { max: 10 } })
 */
export interface PostgresOptions extends BackendOptions {
  backend: 'postgres'
  /** `postgres://user:password@host:5432/database`, with pg's parameters such as `?sslmode=require` (settings: `ltm_url`). */
  url: string
  /**
   * The connection pool: its size, or its size and timeouts. The default suits serverless functions
   * (few connections, closed when idle, and idle connections never keep the process alive); raise
   * `max` for a long-running server. @default { max: 3, idleTimeoutMs: 10000, connectTimeoutMs: 10000 }
   */
  pool?: number | PostgresPoolOptions
  /** How long a statement waits for a lock held by another connection before `lock_timeout`, in ms. @default 5000 */
  lockTimeoutMs?: number
  /**
   * Longest a statement may run before `lock_timeout`, in ms; 0 for no limit. A server that does not
   * answer at all within this plus 2 s gives `connection_timeout`. @default 30000
   */
  statementTimeoutMs?: number
  /** TLS options handed to pg (`true`, or `tls.connect` options), beside what the URL's `sslmode` asks. */
  ssl?: boolean | Record<string, unknown>
  /**
   * `bm25`: the SDK's BM25 from per-namespace statistics, equal to every other backend's scores.
   * `ts_rank_cd`: PostgreSQL's cover density rank (no idf; not comparable with other backends).
   * @default 'bm25'
   */
  ranking?: Ranking
}

const QUERY_TIMEOUT_MARGIN_MS = 2000

interface PgModule {
  Pool: new (config: Record<string, unknown>) => PgPool
}

function wholeMs(value: unknown, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new LtmError('invalid_argument', `postgres: ${name} must be a whole number >= ${min}, got ${JSON.stringify(value)}`)
  }
  return value
}

/**
 * A redactor for messages: it knows the URL's password (in its user part or as `?password=`, raw and
 * decoded) and also hides the password of any postgres URL a message might quote.
 */
function redactorFor(url: string): (text: string) => string {
  const redactor = new Redactor()
  const raw = /^[a-z]+:\/\/[^:@/]*:([^@/]*)@/i.exec(url)?.[1]
  redactor.add(raw)
  try {
    const parsed = new URL(url)
    redactor.add(decodeURIComponent(parsed.password))
    redactor.add(parsed.searchParams.get('password'))
  } catch {
    // pg parses what URL cannot; the raw password is known anyway
  }
  return (text) =>
    redactor
      .redact(text)
      .replace(/(postgres(?:ql)?:\/\/[^:@/\s]*:)[^@\s]*@/gi, '$1[REDACTED]@')
      .replace(/([?&]password=)[^&\s]+/gi, '$1[REDACTED]')
}

export const postgresBackend: BackendDefinition<PostgresOptions> = {
  requiredOptions: ['url'],
  async open(options) {
    const { url } = options
    if (typeof url !== 'string' || !/^postgres(?:ql)?:\/\//i.test(url)) {
      throw new LtmError('invalid_argument', 'postgres: url must be a postgres:// or postgresql:// URL, like postgres://user:password@host:5432/database')
    }
    const redact = redactorFor(url)
    const poolOptions: PostgresPoolOptions = typeof options.pool === 'number' ? { max: options.pool } : (options.pool ?? {})
    if (typeof poolOptions !== 'object' || poolOptions === null) throw new LtmError('invalid_argument', 'postgres: pool must be a number or { max, idleTimeoutMs, connectTimeoutMs }')
    const max = wholeMs(poolOptions.max, 'pool.max', 3, 1)
    const idleTimeoutMillis = wholeMs(poolOptions.idleTimeoutMs, 'pool.idleTimeoutMs', 10_000)
    const connectionTimeoutMillis = wholeMs(poolOptions.connectTimeoutMs, 'pool.connectTimeoutMs', 10_000)
    const lockTimeout = wholeMs(options.lockTimeoutMs, 'lockTimeoutMs', 5000)
    const statementTimeout = wholeMs(options.statementTimeoutMs, 'statementTimeoutMs', 30_000)
    const ranking = options.ranking ?? 'bm25'
    if (ranking !== 'bm25' && ranking !== 'ts_rank_cd') throw new LtmError('invalid_argument', `postgres: ranking must be 'bm25' or 'ts_rank_cd', got ${JSON.stringify(ranking)}`)

    let pg: PgModule
    try {
      const loaded = (await import('pg')) as unknown as PgModule & { default?: PgModule }
      pg = loaded.default ?? loaded
    } catch {
      throw new LtmFailure('dependency_missing', 'postgres: pg is not installed. Install it with: npm install pg')
    }
    let pool: PgPool
    try {
      pool = new pg.Pool({
        connectionString: url,
        ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
        max,
        idleTimeoutMillis,
        connectionTimeoutMillis,
        allowExitOnIdle: true,
        application_name: 'agent-ltm',
        // Sent at connection start: no extra round trip per statement.
        lock_timeout: lockTimeout,
        statement_timeout: statementTimeout,
        // The client's own limit, for a server that stopped answering at all (the server cancels at
        // statement_timeout, so its answer normally arrives well before this).
        ...(statementTimeout > 0 ? { query_timeout: statementTimeout + QUERY_TIMEOUT_MARGIN_MS } : {}),
      })
    } catch (error) {
      throw new LtmError('invalid_argument', redact(`postgres: ${error instanceof Error ? error.message : String(error)}`))
    }
    return openPostgresBackend('postgres', new PostgresExecutor(pool, redact), ranking)
  },
}

/**
 * The "raw" side of the benchmark: the SDK's own SQL (builders from src/sql, schema from
 * src/sql/schema.ts) run straight on a native driver, with a prepared-statement cache and
 * BEGIN/COMMIT around multi-statement writes. Inputs (hash, terms JSON, SQL text, arguments) are
 * computed before timing starts, so a raw measurement is the database work and nothing else.
 */
import type { PreparedWrite } from '../src/core/backend.js'
import { sha256Hex } from '../src/core/hash.js'
import { canonicalJson } from '../src/core/json.js'
import { documentTerms } from '../src/core/tokenize.js'
import type { SqlStatement, SqlValue } from '../src/engines/types.js'
import { SCHEMA_EXISTS, SCHEMA_V1 } from '../src/sql/schema.js'
import { ensureNamespace, readBeforeWrite, upsertMemory } from '../src/sql/statements.js'
import type { Memory } from './corpus.js'

export type Driver = 'better-sqlite3' | 'libsql'
export const DRIVERS: readonly Driver[] = ['better-sqlite3', 'libsql']

/** The part of the better-sqlite3 / libsql API used here (they share it). */
interface NativeStatement {
  readonly reader: boolean
  all(...args: SqlValue[]): unknown[]
  run(...args: SqlValue[]): { changes: number }
}
export interface NativeDatabase {
  prepare(sql: string): NativeStatement
  exec(sql: string): void
  close(): void
}
type NativeDatabaseClass = new (path: string) => NativeDatabase

export async function loadDriver(driver: Driver): Promise<NativeDatabaseClass> {
  const module = (await import(driver)) as { default?: NativeDatabaseClass }
  return (module.default ?? module) as NativeDatabaseClass
}

/** Opens a file database the way the SDK's native executor does (busy timeout, WAL, synchronous=NORMAL). */
export async function openDatabase(driver: Driver, path: string): Promise<NativeDatabase> {
  const Database = await loadDriver(driver)
  const db = new Database(path)
  db.exec('PRAGMA busy_timeout = 5000')
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = NORMAL')
  return db
}

export class RawStore {
  readonly #statements = new Map<string, NativeStatement>()

  private constructor(readonly driver: Driver, readonly db: NativeDatabase) {}

  /** Opens (and on a new file creates the schema of) a database for raw SQL. */
  static async open(driver: Driver, path: string): Promise<RawStore> {
    const store = new RawStore(driver, await openDatabase(driver, path))
    const [exists] = store.query({ sql: SCHEMA_EXISTS, args: [] }) as { n: number }[]
    if (Number(exists?.n ?? 0) === 0) store.write(SCHEMA_V1.map((sql) => ({ sql, args: [] })))
    return store
  }

  #prepare(sql: string): NativeStatement {
    let statement = this.#statements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  /** Rows of a reading statement. */
  query(statement: SqlStatement): unknown[] {
    return this.#prepare(statement.sql).all(...statement.args)
  }

  #execute(statement: SqlStatement): unknown {
    const prepared = this.#prepare(statement.sql)
    return prepared.reader ? prepared.all(...statement.args) : prepared.run(...statement.args)
  }

  /** Runs the statements atomically: one statement alone, several inside BEGIN/COMMIT. */
  write(statements: readonly SqlStatement[]): void {
    if (statements.length === 1) {
      this.#execute(statements[0]!)
      return
    }
    this.db.exec('BEGIN')
    try {
      for (const statement of statements) this.#execute(statement)
      this.db.exec('COMMIT')
    } catch (error) {
      this.db.exec('ROLLBACK')
      throw error
    }
  }

  close(): void {
    this.#statements.clear()
    this.db.close()
  }
}

/** What the SDK computes before it writes a memory (same functions, same order as MemoryHandle). */
export async function prepareWrite(memory: Memory, namespace = ''): Promise<PreparedWrite> {
  const terms = documentTerms(memory.value)
  return {
    namespace,
    key: memory.key,
    valueJson: JSON.stringify(memory.value),
    metadataJson: canonicalJson(memory.metadata),
    contentHash: await sha256Hex(canonicalJson(memory.value)),
    termsJson: JSON.stringify(Object.fromEntries(terms.frequencies)),
    length: terms.length,
    expiresAt: null,
    explicitExpiry: false,
  }
}

/** The statements the SDK's SQL backend sends for a write of these entries. */
export function writeStatements(writes: readonly PreparedWrite[], now: number): SqlStatement[] {
  const statements: SqlStatement[] = []
  for (const namespace of new Set(writes.map((w) => w.namespace))) statements.push(ensureNamespace(namespace))
  for (const write of writes) statements.push(readBeforeWrite(write), upsertMemory(write, now))
  return statements
}

export async function prepareWriteStatements(items: readonly Memory[], now: number): Promise<SqlStatement[]> {
  return writeStatements(await Promise.all(items.map((m) => prepareWrite(m))), now)
}

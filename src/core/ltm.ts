import type { MemoryBackend, PreparedWrite, StoredMemory, WriteOutcome } from './backend.js'
import { LtmError, LtmFailure, invalidInput, toFailure } from './errors.js'
import { parseFilter } from './filter.js'
import { sha256Hex } from './hash.js'
import { assertJson, canonicalJson, utf8Length } from './json.js'
import { documentTerms, parseQuery } from './tokenize.js'
import { isoOrNull, resolveExpiry } from './ttl.js'
import type {
  BatchEntry,
  CleanupResult,
  CommonOptions,
  DeleteResult,
  Failure,
  IterateOptions,
  JsonValue,
  LTM,
  LtmStats,
  LtmTransaction,
  MemoryRecord,
  Metadata,
  MetadataFilter,
  RetrieveBatchResult,
  RetrieveResult,
  SearchHit,
  SearchOptions,
  SearchResult,
  StatsResult,
  StoreBatchResult,
  StoreOptions,
  StoreResult,
  TransactionResult,
} from './types.js'

export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024
export const DEFAULT_MAX_KEY_BYTES = 1024
export const DEFAULT_SEARCH_LIMIT = 10
export const DEFAULT_PAGE_SIZE = 500

/** State shared by a handle and every namespace view and transaction made from it. */
interface SharedState {
  readonly backend: MemoryBackend
  readonly maxValueBytes: number
  readonly maxKeyBytes: number
  readonly now: () => number
  readonly operations: Record<string, number>
  closed: boolean
}

const ROLLBACK = Symbol('agent-ltm rollback')

export function validateNamespace(name: string): string {
  if (typeof name !== 'string') throw new LtmError('invalid_argument', `namespace must be a string, got ${typeof name}`)
  if (name === '') return ''
  if (name.split('/').some((segment) => segment === '')) {
    throw new LtmError('invalid_argument', `namespace "${name}" is invalid: use non-empty segments joined by "/", like "user-42/thread-7"`)
  }
  return name
}

function joinNamespace(parent: string, child: string): string {
  const checked = validateNamespace(child)
  if (checked === '') throw new LtmError('invalid_argument', 'namespace(name) needs a non-empty name')
  return parent === '' ? checked : `${parent}/${checked}`
}

function toRecord(row: StoredMemory): MemoryRecord {
  return {
    namespace: row.namespace,
    key: row.key,
    value: JSON.parse(row.valueJson) as JsonValue,
    metadata: JSON.parse(row.metadataJson) as Metadata,
    content_hash: row.contentHash,
    created_at: new Date(row.createdAt).toISOString(),
    updated_at: new Date(row.updatedAt).toISOString(),
    expires_at: isoOrNull(row.expiresAt),
  }
}

/**
 * The handle every backend returns. Validates input, computes hashes and search terms once, and
 * shapes results; the backend only stores and finds.
 */
export class MemoryHandle implements LTM {
  readonly #shared: SharedState
  readonly #backend: MemoryBackend
  readonly #inTransaction: boolean
  /** Made by namespace(): closing it closes only this view, not the shared store. */
  readonly #isView: boolean
  #viewClosed = false

  private constructor(shared: SharedState, readonly namespaceName: string, options: { transactionBackend?: MemoryBackend; isView: boolean }) {
    this.#shared = shared
    this.#backend = options.transactionBackend ?? shared.backend
    this.#inTransaction = options.transactionBackend !== undefined
    this.#isView = options.isView
  }

  static create(backend: MemoryBackend, options: CommonOptions = {}): MemoryHandle {
    const shared: SharedState = {
      backend,
      maxValueBytes: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
      maxKeyBytes: options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES,
      now: options.now ?? Date.now,
      operations: {},
      closed: false,
    }
    return new MemoryHandle(shared, validateNamespace(options.namespace ?? ''), { isView: false })
  }

  get backend(): string {
    return this.#backend.name
  }

  namespace(name: string): LTM {
    this.#assertOpen()
    const transactionBackend = this.#inTransaction ? this.#backend : undefined
    return new MemoryHandle(this.#shared, joinNamespace(this.namespaceName, name), { transactionBackend, isView: true })
  }

  #assertOpen(): void {
    if (this.#shared.closed || this.#viewClosed) {
      throw new LtmError('closed', `${this.#backend.name}: this memory handle is closed; open a new one with createLTM()`)
    }
  }

  /** Runs one public operation: counts it, and turns expected failures into results. */
  async #operation<R>(name: string, body: () => Promise<R>): Promise<R | Failure> {
    this.#assertOpen()
    this.#shared.operations[name] = (this.#shared.operations[name] ?? 0) + 1
    try {
      return await body()
    } catch (error) {
      return toFailure(error, this.#backend.name)
    }
  }

  #checkKey(key: unknown): string {
    if (typeof key !== 'string') throw invalidInput(`key must be a string, got ${key === null ? 'null' : typeof key}`)
    if (key === '') throw invalidInput('key must not be empty')
    const bytes = utf8Length(key)
    if (bytes > this.#shared.maxKeyBytes) throw invalidInput(`key is ${bytes} bytes; the maximum is ${this.#shared.maxKeyBytes} (maxKeyBytes)`)
    return key
  }

  async #prepareWrite(key: unknown, value: unknown, metadata: unknown, options: StoreOptions | undefined, now: number): Promise<PreparedWrite> {
    const checkedKey = this.#checkKey(key)
    if (value === undefined) throw invalidInput('value is undefined; store null or a JSON value')
    const checkedValue = assertJson(value, 'value')
    let checkedMetadata: Metadata = {}
    if (metadata !== undefined && metadata !== null) {
      if (typeof metadata !== 'object' || Array.isArray(metadata)) throw invalidInput('metadata must be a plain object like { topic: "coffee" }')
      checkedMetadata = assertJson(metadata, 'metadata') as Metadata
    }
    const valueJson = JSON.stringify(checkedValue)
    const bytes = utf8Length(valueJson)
    if (bytes > this.#shared.maxValueBytes) {
      throw invalidInput(`value is ${bytes} bytes of JSON; the maximum is ${this.#shared.maxValueBytes} (maxValueBytes)`)
    }
    const { expiresAt, explicit } = resolveExpiry(options, checkedMetadata, now)
    const terms = documentTerms(checkedValue)
    return {
      namespace: this.namespaceName,
      key: checkedKey,
      valueJson,
      metadataJson: canonicalJson(checkedMetadata),
      contentHash: await sha256Hex(canonicalJson(checkedValue)),
      termsJson: JSON.stringify(Object.fromEntries(terms.frequencies)),
      length: terms.length,
      expiresAt,
      explicitExpiry: explicit,
    }
  }

  #storeResult(write: PreparedWrite, outcome: WriteOutcome): StoreResult {
    const expires_at = isoOrNull(outcome.expiresAt)
    if (outcome.status === 'unchanged') {
      return { success: true, stored: false, key: write.key, content_hash: write.contentHash, deduplicated: true, expires_at }
    }
    return { success: true, stored: true, key: write.key, created: outcome.status === 'created', content_hash: write.contentHash, expires_at }
  }

  store(key: string, value: JsonValue, metadata?: Metadata | null, options?: StoreOptions): Promise<StoreResult> {
    return this.#operation('store', async () => {
      const now = this.#shared.now()
      const write = await this.#prepareWrite(key, value, metadata, options, now)
      const [outcome] = await this.#backend.write([write], now)
      return this.#storeResult(write, outcome!)
    })
  }

  retrieve<T = JsonValue>(key: string, defaultValue?: T): Promise<RetrieveResult<T>> {
    return this.#operation('retrieve', async () => {
      const checkedKey = this.#checkKey(key)
      const rows = await this.#backend.read(this.namespaceName, [checkedKey], this.#shared.now())
      return this.#retrieveResult<T>(checkedKey, rows.get(checkedKey), defaultValue)
    })
  }

  #retrieveResult<T>(key: string, row: StoredMemory | undefined, defaultValue?: T): RetrieveResult<T> {
    if (!row) return { success: true, found: false, key, value: defaultValue, metadata: null }
    const record = toRecord(row)
    return {
      success: true,
      found: true,
      key,
      value: record.value as T,
      metadata: record.metadata,
      content_hash: record.content_hash,
      created_at: record.created_at,
      updated_at: record.updated_at,
      expires_at: record.expires_at,
    }
  }

  delete(key: string): Promise<DeleteResult> {
    return this.#operation('delete', async () => {
      const checkedKey = this.#checkKey(key)
      const deleted = await this.#backend.remove(this.namespaceName, checkedKey, this.#shared.now())
      return { success: true, deleted, key: checkedKey }
    })
  }

  search(query?: string | null, metadataFilter?: MetadataFilter | null, limit: number = DEFAULT_SEARCH_LIMIT, options: SearchOptions = {}): Promise<SearchResult> {
    return this.#operation('search', async () => {
      if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
        throw invalidInput(`limit must be a whole number >= 0, got ${typeof limit === 'number' ? limit : JSON.stringify(limit)}`)
      }
      if (query !== undefined && query !== null && typeof query !== 'string') throw invalidInput(`query must be a string, got ${typeof query}`)
      if (options.match !== undefined && options.match !== 'any' && options.match !== 'all') throw invalidInput(`match must be 'any' or 'all'`)
      if (options.syntax !== undefined && options.syntax !== 'safe' && options.syntax !== 'raw') throw invalidInput(`syntax must be 'safe' or 'raw'`)
      const filter = parseFilter(metadataFilter)
      let parsed = null
      if (query !== undefined && query !== null && query.trim() !== '') {
        parsed = parseQuery(query, { syntax: options.syntax ?? 'safe', matchAll: options.match === 'all' })
        if (parsed.terms.length === 0) return { success: true, results: [], count: 0 }
        if (parsed.terms.every((t) => t.excluded)) throw invalidInput('a raw query needs at least one word that is not excluded with "-"')
      }
      if (limit === 0) return { success: true, results: [], count: 0 }
      const rows = await this.#backend.search({ namespace: this.namespaceName, query: parsed, filter, limit, now: this.#shared.now() })
      const results: SearchHit[] = rows.map((row) => {
        const { namespace: _namespace, ...record } = toRecord(row)
        return { ...record, score: row.score }
      })
      return { success: true, results, count: results.length }
    })
  }

  storeBatch(entries: BatchEntry[]): Promise<StoreBatchResult> {
    return this.#operation('storeBatch', async () => {
      if (!Array.isArray(entries)) throw invalidInput('storeBatch needs an array of { key, value, metadata?, ttl?, expiresAt? }')
      const now = this.#shared.now()
      const prepared: (PreparedWrite | Failure)[] = await Promise.all(
        entries.map(async (entry, i) => {
          try {
            if (!entry || typeof entry !== 'object') throw invalidInput(`entry ${i} must be an object with key and value`)
            const options: StoreOptions = {}
            if (entry.ttl !== undefined) options.ttl = entry.ttl
            if (entry.expiresAt !== undefined) options.expiresAt = entry.expiresAt
            return await this.#prepareWrite(entry.key, entry.value, entry.metadata, options, now)
          } catch (error) {
            return toFailure(error, this.#backend.name)
          }
        }),
      )
      const firstInvalid = prepared.findIndex((p) => 'success' in p)
      if (firstInvalid >= 0) {
        const failure = prepared[firstInvalid] as Failure
        const results: StoreResult[] = prepared.map((p, i) =>
          'success' in p ? p : { success: false, error: `not stored: entry ${firstInvalid} of the batch is invalid, so nothing was written`, error_type: 'invalid_input' },
        )
        return { ...failure, error: `entry ${firstInvalid} (key ${JSON.stringify(entries[firstInvalid]?.key)}): ${failure.error}; nothing was written`, stored_count: 0, results }
      }
      const writes = prepared as PreparedWrite[]
      let outcomes: WriteOutcome[]
      try {
        outcomes = writes.length === 0 ? [] : await this.#backend.write(writes, now)
      } catch (error) {
        const failure = toFailure(error, this.#backend.name)
        return { ...failure, stored_count: 0, results: writes.map(() => failure) }
      }
      const results = writes.map((write, i) => this.#storeResult(write, outcomes[i]!))
      return { success: true, stored_count: results.filter((r) => r.success && r.stored).length, results }
    }) as Promise<StoreBatchResult>
  }

  retrieveBatch(keys: string[]): Promise<RetrieveBatchResult> {
    return this.#operation('retrieveBatch', async () => {
      if (!Array.isArray(keys)) throw invalidInput('retrieveBatch needs an array of keys')
      const checked = keys.map((key) => this.#checkKey(key))
      const rows = await this.#backend.read(this.namespaceName, [...new Set(checked)], this.#shared.now())
      const entries: Record<string, RetrieveResult> = {}
      let found_count = 0
      for (const key of checked) {
        if (Object.hasOwn(entries, key)) continue
        const result = this.#retrieveResult<JsonValue>(key, rows.get(key))
        if (result.success && result.found) found_count++
        // defineProperty: keys such as "__proto__" are data here, not the prototype.
        Object.defineProperty(entries, key, { value: result, enumerable: true, writable: true, configurable: true })
      }
      return { success: true, entries, found_count }
    })
  }

  async transaction<T>(fn: (tx: LtmTransaction) => Promise<T>): Promise<TransactionResult<T>> {
    this.#assertOpen()
    if (this.#inTransaction) throw new LtmError('transaction_misuse', 'transactions do not nest: use the tx handle you already have')
    if (typeof fn !== 'function') throw new LtmError('invalid_argument', 'transaction(fn) needs an async function')
    this.#shared.operations.transaction = (this.#shared.operations.transaction ?? 0) + 1
    let rolledBack = false
    // The first operation inside that failed: the transaction then commits nothing (all or nothing).
    let failed: Failure | undefined
    const watch = async <R extends Failure | { success: true }>(result: Promise<R>): Promise<R> => {
      const settled = await result
      if (!settled.success) failed ??= settled
      return settled
    }
    try {
      const value = await this.#backend.transaction(async (scoped) => {
        const handle = new MemoryHandle(this.#shared, this.namespaceName, { transactionBackend: scoped, isView: true })
        const rollback = (): never => {
          rolledBack = true
          throw ROLLBACK
        }
        const txView = (view: LTM): LtmTransaction => ({
          namespaceName: view.namespaceName,
          store: (key, value, metadata, options) => watch(view.store(key, value, metadata, options)),
          retrieve: (key, defaultValue) => watch(view.retrieve(key, defaultValue)),
          delete: (key) => watch(view.delete(key)),
          search: (query, filter, limit, options) => watch(view.search(query, filter, limit, options)),
          storeBatch: (entries) => watch(view.storeBatch(entries)),
          retrieveBatch: (keys) => watch(view.retrieveBatch(keys)),
          namespace: (name) => txView(view.namespace(name)),
          rollback,
        })
        const tx = txView(handle)
        const result = await fn(tx)
        if (rolledBack) throw ROLLBACK // the caller caught the rollback signal: still roll back
        if (failed) throw new LtmFailure(failed.error_type, `transaction rolled back: an operation inside it failed: ${failed.error}`, failed.retry_after)
        return result
      })
      return { success: true, committed: true, rolled_back: false, value }
    } catch (error) {
      if (error === ROLLBACK) return { success: true, committed: false, rolled_back: true, value: undefined }
      if (error instanceof LtmFailure) return { ...error.toResult(), committed: false, rolled_back: true }
      throw error
    }
  }

  cleanupExpired(): Promise<CleanupResult> {
    return this.#operation('cleanupExpired', async () => {
      const deleted_count = await this.#backend.cleanupExpired(this.namespaceName, this.#shared.now())
      return { success: true, deleted_count }
    })
  }

  /** Yields every live memory in (namespace, key) order. A backend failure is thrown as an `LtmFailure` (it has `errorType`). */
  async *iterateAll(options: IterateOptions = {}): AsyncIterableIterator<MemoryRecord> {
    this.#assertOpen()
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new LtmError('invalid_argument', `pageSize must be a whole number >= 1, got ${pageSize}`)
    this.#shared.operations.iterateAll = (this.#shared.operations.iterateAll ?? 0) + 1
    let after: { namespace: string; key: string } | null = null
    for (;;) {
      this.#assertOpen()
      const rows: StoredMemory[] = await this.#backend
        .page({ namespace: this.namespaceName, includeDescendants: options.includeDescendants === true, after, pageSize, now: this.#shared.now() })
      for (const row of rows) yield toRecord(row)
      if (rows.length < pageSize) return
      const last = rows[rows.length - 1]!
      after = { namespace: last.namespace, key: last.key }
    }
  }

  stats(): Promise<StatsResult> {
    return this.#operation('stats', async () => {
      const extra = (await this.#backend.stats?.()) ?? {}
      const stats: LtmStats = { ...extra, backend: this.#backend.name, namespace: this.namespaceName, operations: { ...this.#shared.operations } }
      return { success: true as const, ...stats }
    })
  }

  async close(): Promise<void> {
    if (this.#inTransaction) throw new LtmError('transaction_misuse', 'close the handle, not the transaction')
    if (this.#isView) {
      this.#viewClosed = true
      return
    }
    if (this.#shared.closed) return
    this.#shared.closed = true
    await this.#shared.backend.close()
  }
}

/**
 * The public contract of agent-ltm: every backend gives these exact shapes.
 * Expected failures come back as `{ success: false, error, error_type }`; only programmer
 * errors (wrong argument types, use after close) throw an `LtmError`.
 */

/** A JSON value as stored: what `JSON.parse(JSON.stringify(x))` gives back unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }
export type Metadata = JsonObject

/** Every error_type a result can carry, shared by all backends. */
export type ErrorType =
  | 'invalid_input'
  | 'dependency_missing'
  | 'connection_timeout'
  | 'rate_limited'
  | 'auth_failed'
  | 'lock_timeout'
  | 'conflict'
  | 'quota_exceeded'
  | 'backend_error'

export interface Failure {
  success: false
  /** What went wrong and what to do about it; never contains credentials. */
  error: string
  error_type: ErrorType
  /** Seconds to wait before retrying; only with `rate_limited`. */
  retry_after?: number
}

export interface StoreOptions {
  /** Time to live in seconds from now. */
  ttl?: number
  /** Absolute expiry; wins over `ttl`. */
  expiresAt?: Date | string
}

export type StoreResult =
  | { success: true; stored: true; key: string; created: boolean; content_hash: string; expires_at: string | null }
  | { success: true; stored: false; key: string; content_hash: string; deduplicated: true; expires_at: string | null }
  | Failure

export type RetrieveResult<T = JsonValue> =
  | {
      success: true
      found: true
      key: string
      value: T
      metadata: Metadata
      content_hash: string
      created_at: string
      updated_at: string
      expires_at: string | null
    }
  | { success: true; found: false; key: string; value: T | undefined; metadata: null }
  | Failure

export type DeleteResult = { success: true; deleted: boolean; key: string } | Failure

export interface SearchHit {
  key: string
  value: JsonValue
  metadata: Metadata
  /** BM25 relevance, higher is better; 0 when listing without a query. */
  score: number
  content_hash: string
  created_at: string
  updated_at: string
  expires_at: string | null
}

export type SearchResult = { success: true; results: SearchHit[]; count: number } | Failure

/** Comparison operators of a metadata filter; a bare value means equality. */
export interface FilterOperators {
  $eq?: JsonValue
  $ne?: JsonValue
  $in?: JsonValue[]
  $nin?: JsonValue[]
  $gt?: number | string
  $gte?: number | string
  $lt?: number | string
  $lte?: number | string
  $exists?: boolean
}

/**
 * Keys are top-level metadata keys or dotted paths (`"user.id"`); values are a JSON value
 * (equality) or an operator object. All conditions must hold.
 * @example { topic: 'coffee', 'user.id': { $in: [1, 2] }, priority: { $gte: 3 } }
 */
export type MetadataFilter = Record<string, JsonValue | FilterOperators>

export interface SearchOptions {
  /** `any` (default): a memory with more of the words ranks higher. `all`: every term must match. */
  match?: 'any' | 'all'
  /**
   * `safe` (default): any text is a query; `word*` is a prefix, everything else is words.
   * `raw`: also `+word` (required) and `-word` (excluded).
   */
  syntax?: 'safe' | 'raw'
}

export interface BatchEntry {
  key: string
  value: JsonValue
  metadata?: Metadata
  ttl?: number
  expiresAt?: Date | string
}

export type StoreBatchResult =
  | { success: true; stored_count: number; results: StoreResult[] }
  | (Failure & { stored_count: 0; results: StoreResult[] })

export type RetrieveBatchResult =
  | { success: true; entries: Record<string, RetrieveResult>; found_count: number }
  | Failure

export type CleanupResult = { success: true; deleted_count: number } | Failure

export interface MemoryRecord {
  namespace: string
  key: string
  value: JsonValue
  metadata: Metadata
  content_hash: string
  created_at: string
  updated_at: string
  expires_at: string | null
}

export interface IterateOptions {
  /** Rows fetched per round trip. @default 500 */
  pageSize?: number
  /** Include the namespaces below this one (`a` also yields `a/b`). @default false */
  includeDescendants?: boolean
}

export interface LtmStats {
  backend: string
  namespace: string
  /** Operations run through this handle, by kind. */
  operations: Record<string, number>
  /** Backend-specific counters (requests, bytes, database size). */
  [extra: string]: unknown
}

/** The memory handle: the same for every backend. */
export interface LTM {
  readonly backend: string
  /** The namespace this view sees; '' is the default namespace. */
  readonly namespaceName: string
  store(key: string, value: JsonValue, metadata?: Metadata | null, options?: StoreOptions): Promise<StoreResult>
  retrieve<T = JsonValue>(key: string, defaultValue?: T): Promise<RetrieveResult<T>>
  delete(key: string): Promise<DeleteResult>
  search(query?: string | null, metadataFilter?: MetadataFilter | null, limit?: number, options?: SearchOptions): Promise<SearchResult>
  storeBatch(entries: BatchEntry[]): Promise<StoreBatchResult>
  retrieveBatch(keys: string[]): Promise<RetrieveBatchResult>
  /** Runs `fn` atomically: if it throws or calls `tx.rollback()`, nothing it wrote remains. */
  transaction<T>(fn: (tx: LtmTransaction) => Promise<T>): Promise<TransactionResult<T>>
  cleanupExpired(): Promise<CleanupResult>
  iterateAll(options?: IterateOptions): AsyncIterableIterator<MemoryRecord>
  /** A view of a child namespace: `ltm.namespace('a').namespace('b')` is `a/b`. */
  namespace(name: string): LTM
  /** Operation counts and backend counters (requests, bytes, database size); a failure result if the backend is unusable. */
  stats(): Promise<StatsResult>
  close(): Promise<void>
}

export type StatsResult = ({ success: true } & LtmStats) | Failure

/** What a transaction function receives: reads see the transaction's own writes. */
export interface LtmTransaction {
  readonly namespaceName: string
  store(key: string, value: JsonValue, metadata?: Metadata | null, options?: StoreOptions): Promise<StoreResult>
  retrieve<T = JsonValue>(key: string, defaultValue?: T): Promise<RetrieveResult<T>>
  delete(key: string): Promise<DeleteResult>
  search(query?: string | null, metadataFilter?: MetadataFilter | null, limit?: number, options?: SearchOptions): Promise<SearchResult>
  storeBatch(entries: BatchEntry[]): Promise<StoreBatchResult>
  retrieveBatch(keys: string[]): Promise<RetrieveBatchResult>
  /** The same transaction seen from a child namespace, so one transaction can span namespaces. */
  namespace(name: string): LtmTransaction
  /** Discards every write of this transaction; the transaction result is `rolled_back: true`. */
  rollback(): never
}

/**
 * `committed` after `fn` returned; `rolled_back` after `tx.rollback()` (a success: it was asked for)
 * or after the backend failed to commit (a failure). If `fn` throws, the writes are discarded and
 * the error is rethrown: it is the caller's, not an expected failure.
 */
export type TransactionResult<T> =
  | { success: true; committed: true; rolled_back: false; value: T }
  | { success: true; committed: false; rolled_back: true; value: undefined }
  | (Failure & { committed: false; rolled_back: true })

/** Options every backend accepts. */
export interface CommonOptions {
  /** Namespace of the returned handle. @default '' */
  namespace?: string
  /** Largest accepted value, in bytes of its JSON text. @default 16 MiB */
  maxValueBytes?: number
  /** Largest accepted key, in UTF-8 bytes. @default 1024 */
  maxKeyBytes?: number
  /** Clock, for tests. @default Date.now */
  now?: () => number
}

import type { FilterCondition } from './filter.js'
import type { ParsedQuery } from './tokenize.js'

/**
 * The contract between the core (validation, hashing, tokenising, result shapes) and a storage
 * backend. A backend receives checked, prepared data and only stores and finds it. Every method may
 * throw an `LtmFailure` for expected failures; the core turns it into a result.
 */
export interface MemoryBackend {
  /** Name used in results and messages, e.g. `sqlite`. */
  readonly name: string
  /** Writes all entries atomically, in order (a later entry for the same key wins). */
  write(entries: PreparedWrite[], now: number): Promise<WriteOutcome[]>
  /** Live (unexpired) rows for the keys that exist. */
  read(namespace: string, keys: string[], now: number): Promise<Map<string, StoredMemory>>
  /** Removes the key; true if a live memory was removed. */
  remove(namespace: string, key: string, now: number): Promise<boolean>
  search(request: SearchRequest): Promise<ScoredMemory[]>
  /** Deletes expired memories of the namespace; returns how many. */
  cleanupExpired(namespace: string, now: number): Promise<number>
  /** One page of live memories ordered by (namespace, key), after the cursor. */
  page(request: PageRequest): Promise<StoredMemory[]>
  /** Runs `fn` with a backend bound to one atomic transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (backend: MemoryBackend) => Promise<T>): Promise<T>
  stats?(): Promise<Record<string, unknown>>
  close(): Promise<void>
}

export interface PreparedWrite {
  namespace: string
  key: string
  /** JSON text of the value as given (key order kept). */
  valueJson: string
  /** Canonical JSON text of the metadata, so equal metadata compares equal as text. */
  metadataJson: string
  contentHash: string
  /** JSON object text `{term: frequency}` of the value's tokens. */
  termsJson: string
  /** Number of tokens, the BM25 document length. */
  length: number
  expiresAt: number | null
  /** The caller asked for a new expiry, so an identical value is written anyway. */
  explicitExpiry: boolean
}

export type WriteStatus = 'created' | 'updated' | 'unchanged'

export interface WriteOutcome {
  status: WriteStatus
  /** The memory's expiry after the write (the old one when unchanged). */
  expiresAt: number | null
}

export interface StoredMemory {
  namespace: string
  key: string
  valueJson: string
  metadataJson: string
  contentHash: string
  createdAt: number
  updatedAt: number
  expiresAt: number | null
}

/**
 * A memory from a SQL result row with the columns key, value, metadata, content_hash, created_at,
 * updated_at, expires_at (and namespace when the query spans several); shared by the SQL backends.
 */
export function storedFromRow(row: Readonly<Record<string, unknown>>, namespace: string): StoredMemory {
  return {
    namespace: typeof row.namespace === 'string' ? row.namespace : namespace,
    key: String(row.key),
    valueJson: String(row.value),
    metadataJson: String(row.metadata),
    contentHash: String(row.content_hash),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    expiresAt: row.expires_at === null || row.expires_at === undefined ? null : Number(row.expires_at),
  }
}

export interface ScoredMemory extends StoredMemory {
  score: number
}

export interface SearchRequest {
  namespace: string
  /** null lists by filter, newest first. */
  query: ParsedQuery | null
  filter: FilterCondition[]
  limit: number
  now: number
}

export interface PageRequest {
  namespace: string
  includeDescendants: boolean
  /** Exclusive lower bound (namespace, key); null starts at the beginning. */
  after: { namespace: string; key: string } | null
  pageSize: number
  now: number
}

/** Result shapes of `npm run bench:remote` (bench/results/remote-<date>.json). */
import type { TransportStats } from '../../src/transport/transport.js'
import type { LatencySummary } from '../stats.js'
import type { BackendParity, ParityQuery } from './parity.js'
import type { HostInfo } from '../host.js'

/** The SDK on each backend: embedded SQLite (better-sqlite3 file) and the remote ones over loopback. */
export const BACKENDS = ['sqlite', 'turso', 'd1-rest', 'd1-binding', 'postgres', 'supabase', 'firestore'] as const
export type Backend = (typeof BACKENDS)[number]
export const REMOTE_BACKENDS = ['turso', 'd1-rest', 'd1-binding', 'postgres', 'supabase', 'firestore'] as const
export type RemoteBackend = (typeof REMOTE_BACKENDS)[number]
/** Left out of --quick: starting PostgreSQL, PostgREST and the Java emulator alone takes most of its budget. */
export const FULL_ONLY_BACKENDS: readonly RemoteBackend[] = ['postgres', 'supabase', 'firestore']
/** The backends measured against their driver without the SDK. */
export const RAW_BACKENDS = ['turso', 'd1-rest'] as const
export type RawBackend = (typeof RAW_BACKENDS)[number]

export const COUNTED_OPS = ['store', 'retrieve', 'delete', 'search', 'search_filter', 'store_batch', 'retrieve_batch', 'transaction'] as const
export type CountedOp = (typeof COUNTED_OPS)[number]
/** The operations whose target is exactly one request. */
export const ONE_REQUEST_OPS: readonly CountedOp[] = ['store', 'retrieve', 'delete', 'search', 'search_filter', 'store_batch', 'retrieve_batch']

export const TIMED_OPS = ['store', 'retrieve', 'search', 'store_batch'] as const
export type TimedOp = (typeof TIMED_OPS)[number]
export const RAW_OPS = ['store', 'search'] as const
export type RawOp = (typeof RAW_OPS)[number]

/**
 * What one call cost on the wire. `requests`: HTTP requests the server logged (turso, d1 REST,
 * supabase), `batch()` calls on the D1 binding (from `stats().batches`), `Client.query` calls of
 * pg (postgres: one round trip each), or fetch calls to the emulator's URL (firestore).
 */
export interface CallCost {
  requests: number
  /** Requests the SDK's transport reported through `onRequest` (turso, d1 REST, firestore), else null. */
  transport_requests: number | null
  bytes_sent: number | null
  bytes_received: number | null
  /** What each request carried: Hrana stream requests of a pipeline, or D1 statements of a request. */
  detail: string[]
  /** Wall time of the call, ms (request counting around it not included). */
  ms: number
}

export interface OpenCost {
  /** createLTM on an empty database (the schema is created). */
  new_database: CallCost
  /** createLTM on a database that has the schema. */
  existing_database: CallCost
  /** GET requests to the server's version paths (/v2, /v3, /v3-protobuf) during the whole run; HTTP backends only. */
  version_probes: number | null
}

export interface BackendCounts {
  backend: RemoteBackend
  unit: 'http-request' | 'binding-batch' | 'pg-query'
  open: OpenCost
  /** One entry per call counted. */
  ops: Record<CountedOp, CallCost[]>
}

export interface TimedResult extends LatencySummary {
  /** Every sample, µs. */
  samples_us: number[]
}

export interface RawComparison {
  backend: RawBackend
  op: RawOp
  sdk: LatencySummary
  raw: LatencySummary
  /** Median over calls of SDK time / raw time of the call made in the same position (interleaved). */
  paired_ratio: number
}

export interface RemoteBenchResults {
  date: string
  started_at: string
  quick: boolean
  elapsed_s: number
  machine: HostInfo
  versions: Record<string, string>
  /** sha256 of src/**\/*.ts, and of each test server's source file. */
  source_fingerprint: string
  server_fingerprints: Record<string, string>
  config: {
    prefill: number
    batch_size: number
    retrieve_batch_size: number
    count_repeats: number
    store_ops: number
    retrieve_ops: number
    search_ops: number
    batch_ops: number
    rounds: number
    warmup: number
  }
  /** Every remote backend in a full run; --quick leaves out FULL_ONLY_BACKENDS. */
  counts: Record<RemoteBackend, BackendCounts>
  /** `${backend}` for the SDK, `${backend}:raw` for the raw driver. */
  latency: Record<string, Partial<Record<TimedOp, TimedResult>>>
  raw: RawComparison[]
  /** Memories in each store's default namespace when the timed phase began, and when it ended. */
  store_sizes: Partial<Record<Backend, { before: number; after: number }>>
  /** The 200-memory corpus and 20 queries (bench/remote/parity.ts) on every backend, top 5 vs embedded sqlite. */
  parity: {
    corpus: { from: number; count: number; seed: number }
    limit: number
    queries: ParityQuery[]
    /** Embedded sqlite's hits per query (up to `limit`). */
    sqlite_hits: number[]
    backends: Partial<Record<RemoteBackend, Omit<BackendParity, 'per_query'> & { per_query: Array<{ keys: string[]; overlap: number; same_order: boolean; max_score_diff: number | null }> }>>
  }
  /** The SDK handles' transport counters at the end of the run (the handle used for the timed phase). */
  transport: Record<'turso' | 'd1-rest', TransportStats>
  /** The D1 binding as Node sees it (miniflare's proxy into workerd): ms per call, averaged over `calls`. */
  binding_proxy: { calls: number; prepare_ms: number; bind_ms: number; batch_of_one_ms: number; batch_of_prepared_ms: number }
  /**
   * Raw queries on the Firestore emulator's bench collection after the timed phase (median ms of
   * `runs`): how the emulator's query time depends on the filter. Absent in --quick runs.
   */
  firestore_emulator?: { documents: number; runs: number; key_equality_ms: number; array_contains_ms: number; array_contains_any_ms: number; words: string[] }
}

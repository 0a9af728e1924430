/**
 * Result shapes of the browser benchmark (`npm run bench:browser`), shared by the Node driver
 * (run.ts), the in-page half (bench.page.ts) and the BENCHMARKS.md renderer (report.ts).
 * Latencies in the page are taken with performance.now() (5 µs resolution: the page is
 * cross-origin isolated) and sent to Node in milliseconds; summaries are in µs like bench/stats.ts.
 */
import type { QueryClass } from '../corpus.js'
import type { LatencySummary } from '../stats.js'
import type { HostInfo } from '../host.js'

export type SearchLib = 'agent-ltm' | 'minisearch' | 'orama'
export const SEARCH_LIBS: readonly SearchLib[] = ['agent-ltm', 'minisearch', 'orama']

/** What the page reports about itself. */
export interface PageInfo {
  user_agent: string
  cross_origin_isolated: boolean
  /** Smallest non-zero step of performance.now(), µs. */
  timer_resolution_us: number
  /** performance.memory exists (Chromium; precise with --enable-precise-memory-info). */
  performance_memory: boolean
  /** window.gc exists (--js-flags=--expose-gc). */
  gc: boolean
  hardware_concurrency: number
}

/** Memory read in the page after two forced GCs. */
export interface HeapReading {
  /** performance.memory.usedJSHeapSize, bytes; null where the browser has no performance.memory. */
  js_heap_bytes: number | null
  /** Sum of the WebAssembly memories instantiated in this page (sql.js's heap), bytes. */
  wasm_bytes: number
}

// ---------------------------------------------------------------- in-page step results

export interface BuildReport {
  lib: SearchLib
  /** Wall time to have a searchable index of all N texts, ms (agent-ltm: createLTM + storeBatch). */
  build_ms: number
  /** agent-ltm only: createLTM on an empty in-memory database (first in the page: loads the chunk and the wasm). */
  open_ms: number | null
  /** Growth of the JS heap over the build, bytes (after GC; the texts themselves were allocated before). */
  js_heap_delta_bytes: number | null
  /** Growth of WebAssembly memory over the build, bytes (agent-ltm: sql.js's heap; wasm memory never shrinks). */
  wasm_delta_bytes: number
  /** agent-ltm only: stats().database_bytes. */
  database_bytes: number | null
}

/** One timed search. */
export interface SearchSample {
  lib: SearchLib
  /** Index into queryList(). */
  query: number
  ms: number
}

export interface QueryCheck {
  /** Index into queryList(). */
  query: number
  /** Top-10 keys per library, best first. */
  top: Record<SearchLib, string[]>
  /** Documents matching at least one query word: MiniSearch's result count, Orama's count, agent-ltm's (only where checked). */
  matches: Record<SearchLib, number | null>
}

export interface StoreStep {
  /** store() alone, ms. */
  store_ms: number
  /**
   * The stats() calls right after the store, ms: one, or, when the store made a compaction due,
   * as many as it takes to see the new image stored (the compaction runs after the write resolved).
   */
  after_ms: number
  /** image_bytes changed or log_bytes_since_image fell: a compaction ran in between. */
  compacted: boolean
}

export interface PersistStats {
  database_bytes: number
  image_bytes: number | null
  log_bytes_since_image: number | null
  /** Time the writes logged since the image took to execute (at write time, or while replaying them at open), ms. */
  log_replay_ms: number | null
  /** Compaction is due when log_replay_ms reaches this: the last measured compaction (at least 50 ms), or 10 ms per MiB of image before one was measured. */
  compaction_threshold_ms: number | null
  log_seq: number | null
}

export interface FillReport {
  memories: number
  /** Wall time of the whole fill, waits for compactions included, s. */
  seconds: number
  compactions: number
  /**
   * Per compaction, measured from outside: from the write that made it due resolving until stats()
   * showed the new image stored (the fill waits for each before its next write), ms.
   */
  compaction_pauses_ms: number[]
  /** Per compaction: stats().compaction_threshold_ms right after it, i.e. max(50, the duration the executor measured for it), ms. */
  compaction_threshold_after_ms: number[]
  /** Per compaction: the image it stored, bytes. */
  compaction_image_bytes: number[]
  stats: PersistStats
}

export interface OpenReport {
  /** createLTM({ persist: 'memory' }) on an empty database first in the page: the bundle's lazy chunk and sql.js's wasm, ms. */
  wasm_init_ms: number
  /** createLTM({ persist: 'indexeddb' }) on the filled store: load image + replay the log, ms (wasm already initialised). */
  open_ms: number
  /** The first search after opening (a medium-class query), ms. */
  first_search_ms: number
  stats: PersistStats
}

export interface RawIdbRead {
  /**
   * Reading the 'current' snapshot record alone, ms (median of 5): what the catch-up read before
   * every write fetches. Small when it is a pointer; the whole image when the image is stored in it.
   */
  pointer_ms: number
  /** The 'current' record holds the image itself (the layout of builds before the image got a record of its own). */
  image_in_pointer: boolean
  /** Reading the image (from 'current' or from its own 'image' record), ms: median of 5 reads. */
  image_ms: number
  image_bytes: number
  /** Walking the log entries after the image, ms. */
  log_ms: number
  log_entries: number
}

// ---------------------------------------------------------------- run results

export interface LibSearchResult {
  lib: SearchLib
  build: BuildReport
  overall: LatencySummary
  by_class: Record<QueryClass, LatencySummary>
  /** Every timed search, ms, per class in the order measured. */
  samples_ms: Record<QueryClass, number[]>
}

export interface SearchSizeResult {
  size: number
  rounds: number
  queries: number
  libs: Record<SearchLib, LibSearchResult>
  /** Average number of memories matching at least one query word, per class (MiniSearch's result counts). */
  avg_matching_docs: Record<QueryClass, number>
  /** Whether the three libraries found the same number of matching memories for every checked query (same terms). */
  match_counts: { checked: number; libs: SearchLib[]; agree: number; mismatches: string[] }
  /** Mean share of agent-ltm's top 10 that the other library also has in its top 10, per class. */
  top10_overlap: Record<'minisearch' | 'orama' | 'minisearch_vs_orama', Record<QueryClass, number>>
  seconds: number
}

export type StoreVariant = 'memory' | 'indexeddb-strict' | 'indexeddb-relaxed'
export const STORE_VARIANTS: readonly StoreVariant[] = ['memory', 'indexeddb-strict', 'indexeddb-relaxed']

export interface StoreLatencyResult {
  variant: StoreVariant
  /** store() alone. */
  store: LatencySummary
  /** store() plus the compaction it triggered (0 for most stores). */
  store_with_compaction: LatencySummary
  compactions: number
  /** Length of each compaction pause, ms. */
  compaction_pauses_ms: number[]
  stats_after: PersistStats
  /** store() alone, ms, in the order measured. */
  samples_ms: number[]
}

export interface StoreLatencyRun {
  prefill: number
  ops: number
  warmup: number
  block: number
  variants: StoreLatencyResult[]
  /** Plain IndexedDB operations shaped like the ones a persisted write makes (bench.page.ts idbProbe), per operation. */
  idb_probe: Record<string, LatencySummary>
  /** Size of the probe's appended record, bytes (about one single store's log entry). */
  idb_probe_record_bytes: number
  /** The strict store's records read with plain IndexedDB calls at the end (what each write's catch-up read fetches). */
  strict_raw_read: RawIdbRead | null
}

export interface PersistenceCostResult {
  target_bytes: number
  /** Padding per filler memory, bytes. */
  pad_bytes: number
  fill: FillReport
  ops: number
  store: LatencySummary
  store_with_compaction: LatencySummary
  compactions: number
  compaction_pauses_ms: number[]
  /** One compaction of the whole image forced at the end (scratch writes until the log passes its threshold), ms; null if none happened. */
  forced_compaction_ms: number | null
  /** The records read with plain IndexedDB calls right after the fill (what each write's catch-up read fetches). */
  raw_read: RawIdbRead | null
  /** Scratch writes it took to reach the compaction threshold. */
  forced_compaction_writes: number
  stats_after: PersistStats
  /** store() alone, ms, in the order measured. */
  samples_ms: number[]
}

export interface ColdOpenRuns {
  /** compacted: the image and (almost) no log; long-log: the same plus a log just under the compaction threshold. */
  state: 'compacted' | 'long-log'
  /** Memories in the store in this state. */
  memories: number
  /** Runs in a freshly started browser on the same profile (nothing cached in the browser process). */
  restart: OpenReport[]
  /** Runs in a new page of the running browser. */
  reload: OpenReport[]
  /** The stored image and log read with plain IndexedDB calls (no sql.js), for comparison; null if the layout was not readable. */
  raw_read: RawIdbRead | null
}

export interface LongLog {
  /** Memories added in all (the image may hold some of them, if a compaction ran while adding). */
  added: number
  /** Memories in the log since the image, as stored for the long-log opens. */
  memories_in_log: number
  /** Log entries since the image (one per storeBatch). */
  entries: number
  /** stats().compaction_threshold_ms when the writing page opened the store (no compaction measured there: the estimate from the image size). */
  first_threshold_ms: number
  /** stats().compaction_threshold_ms at the end: the same, or the compaction this page measured if one ran. */
  threshold_ms: number
  /** The byte bound at the end, max(8 MiB, image bytes). */
  threshold_bytes: number
  /** Which bound the log was grown towards: replay time, or bytes when that one is nearer. */
  bound: 'replay' | 'bytes'
  /** log_replay_ms and log bytes per memory over the warm writes since the image (not the page's first write). */
  replay_ms_per_memory: number
  log_bytes_per_memory: number
  /** stats().log_replay_ms and log_bytes_since_image when the writing page closed the store. */
  log_replay_ms: number
  log_bytes: number
  /** Each storeBatch: memories, its storeBatch call (ms), and the first stats() right after it (before a compaction it made due). */
  steps: Array<{ memories: number; store_ms: number; log_replay_ms: number | null; log_bytes: number | null; compaction_threshold_ms: number | null; compacted: boolean }>
  /** Compactions the writes made due (the log then started over after the new image). */
  compactions: number
  /** More compactions than extendLog allows ran: the stored state is not a long log. */
  compacted: boolean
}

export interface ColdOpenResult {
  size: number
  fill: FillReport
  /** The compaction forced after the fill; null when the fill itself ended with one. */
  forced_compaction: { pause_ms: number | null; writes: number } | null
  /** How the long log was written: memories added after N with storeBatch, in a fresh page, up to this share of the threshold. */
  long_log: LongLog
  states: ColdOpenRuns[]
}

export interface BrowserBenchResults {
  kind: 'agent-ltm-browser-bench'
  date: string
  started_at: string
  elapsed_s: number
  quick: boolean
  machine: HostInfo
  browser: { version: string; page: PageInfo; args: string[] }
  versions: Record<string, string>
  /** sha256 over src/**\/*.ts at run time, and when dist/index.browser.js (what the page runs) was built. */
  source_fingerprint: string
  dist_built_at: string
  dist_older_than_src: boolean
  config: {
    search_sizes: number[]
    search_rounds: Record<string, number>
    store_prefill: number
    store_ops: number
    store_warmup: number
    persistence_targets_bytes: number[]
    /** Single stores measured per target size. */
    persistence_ops: number[]
    cold_sizes: number[]
    /** storeBatch size of the cold-open fills and log extensions. */
    cold_fill_batch: number
    cold_restart_runs: number
    cold_reload_runs: number
    /** The long-log state fills the log to this share of the compaction threshold (replay time, or bytes if nearer). */
    cold_long_log_fraction: number
  }
  search: SearchSizeResult[]
  store: StoreLatencyRun | null
  persistence: PersistenceCostResult[]
  cold_open: ColdOpenResult[]
}

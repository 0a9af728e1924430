/**
 * The in-page half of `npm run bench:browser`: runs in Chromium, bundled by bench/browser/run.ts
 * with esbuild against the BUILT browser bundle (dist/index.browser.js), MiniSearch and Orama.
 * run.ts drives it step by step through window.__bench; every step returns plain JSON.
 */
import { create as createOrama, insertMultiple, search as searchOrama } from '@orama/orama'
import { index as oramaIndex } from '@orama/orama/components'
import MiniSearch from 'minisearch'
import { createLTM, type JsonValue, type LTM } from '../../dist/index.browser.js'
import { BATCH_SIZE, memory, prng, queryList } from '../corpus.js'
import type {
  BuildReport,
  FillReport,
  HeapReading,
  LongLog,
  OpenReport,
  PageInfo,
  PersistStats,
  QueryCheck,
  RawIdbRead,
  SearchLib,
  SearchSample,
  StoreStep,
  StoreVariant,
} from './types.js'

const WASM_URL = '/wasm/sql-wasm.wasm'
const LIBS: SearchLib[] = ['agent-ltm', 'minisearch', 'orama']
const QUERIES = queryList()

// ---------------------------------------------------------------- measuring

const now = (): number => performance.now()

/** Every WebAssembly.Memory instantiated in this page (sql.js's heap), found by wrapping WebAssembly.instantiate*. */
const wasmMemories: WebAssembly.Memory[] = []
function trackWasm(value: unknown): void {
  if (value instanceof WebAssembly.Memory) {
    if (!wasmMemories.includes(value)) wasmMemories.push(value)
    return
  }
  if (typeof value !== 'object' || value === null) return
  const instance = value instanceof WebAssembly.Instance ? value : (value as { instance?: unknown }).instance
  if (instance instanceof WebAssembly.Instance) for (const exported of Object.values(instance.exports)) trackWasm(exported)
}
for (const name of ['instantiate', 'instantiateStreaming'] as const) {
  const original = WebAssembly[name] as (...args: unknown[]) => Promise<unknown>
  ;(WebAssembly as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
    // Memory may also be imported (env.memory) rather than exported.
    const imports = args[1] as Record<string, Record<string, unknown>> | undefined
    for (const module of Object.values(imports ?? {})) for (const value of Object.values(module ?? {})) trackWasm(value)
    return original.apply(WebAssembly, args).then((result) => {
      trackWasm(result)
      return result
    })
  }
}

function performanceMemory(): { usedJSHeapSize: number } | undefined {
  return (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    gc()
    gc()
  }
}

function heap(): HeapReading {
  collectGarbage()
  return {
    js_heap_bytes: performanceMemory()?.usedJSHeapSize ?? null,
    wasm_bytes: wasmMemories.reduce((sum, m) => sum + m.buffer.byteLength, 0),
  }
}

function heapDelta(before: HeapReading, after: HeapReading): { js: number | null; wasm: number } {
  return {
    js: before.js_heap_bytes === null || after.js_heap_bytes === null ? null : after.js_heap_bytes - before.js_heap_bytes,
    wasm: after.wasm_bytes - before.wasm_bytes,
  }
}

function check<R extends { success: boolean }>(result: R, what: string): Extract<R, { success: true }> {
  if (!result.success) throw new Error(`${what} failed: ${JSON.stringify(result).slice(0, 500)}`)
  return result as Extract<R, { success: true }>
}

function pageInfo(): PageInfo {
  let resolution = Number.POSITIVE_INFINITY
  let last = now()
  for (let steps = 0; steps < 50; ) {
    const t = now()
    if (t !== last) {
      resolution = Math.min(resolution, t - last)
      last = t
      steps++
    }
  }
  return {
    user_agent: navigator.userAgent,
    cross_origin_isolated: globalThis.crossOriginIsolated === true,
    timer_resolution_us: Math.round(resolution * 1e4) / 10,
    performance_memory: performanceMemory() !== undefined,
    gc: typeof (globalThis as { gc?: unknown }).gc === 'function',
    hardware_concurrency: navigator.hardwareConcurrency,
  }
}

// ---------------------------------------------------------------- corpus

/** The corpus memories' value text (objects contribute their `text`). */
function textOf(value: JsonValue): string {
  return typeof value === 'string' ? value : String((value as { text?: unknown }).text)
}

interface Doc {
  id: string
  text: string
}

function corpus(from: number, count: number, seed = 1, prefix = 'mem'): Doc[] {
  return Array.from({ length: count }, (_, j) => {
    const m = memory(from + j, seed, prefix)
    return { id: m.key, text: textOf(m.value) }
  })
}

async function storeDocs(ltm: LTM, docs: Doc[], metadata?: Record<string, JsonValue>): Promise<void> {
  for (let i = 0; i < docs.length; i += BATCH_SIZE) {
    const batch = docs.slice(i, i + BATCH_SIZE).map((d) => (metadata ? { key: d.id, value: d.text, metadata } : { key: d.id, value: d.text }))
    check(await ltm.storeBatch(batch), 'storeBatch')
  }
}

// ---------------------------------------------------------------- search: agent-ltm vs MiniSearch vs Orama

/** Plain BM25 (k1 1.2, b 0.75, no BM25+ delta), as agent-ltm and SQLite FTS5 define it. */
const BM25 = { k: 1.2, b: 0.75, d: 0 }

function createMiniSearch(): MiniSearch<Doc> {
  return new MiniSearch<Doc>({
    fields: ['text'],
    idField: 'id',
    // Exact terms OR-ed: MiniSearch's defaults already are OR without prefix or fuzzy; said explicitly.
    searchOptions: { combineWith: 'OR', prefix: false, fuzzy: false, bm25: BM25 },
  })
}

/**
 * Orama's default index with every word looked up exactly: its full-text search expands each word
 * as a prefix unless `exact: true`, and `exact: true` on the search call also adds a case-sensitive,
 * all-words post-filter on the raw text. Forcing the index's own `exact` flag gives plain exact terms.
 */
function createOramaDb() {
  const base = oramaIndex.createIndex()
  const search = (...args: Parameters<typeof base.search>): ReturnType<typeof base.search> => {
    args[5] = true // exact
    return base.search(...args)
  }
  return createOrama({
    schema: { text: 'string' } as const,
    components: { index: { ...base, search }, tokenizer: { stemming: false, stopWords: false } },
  })
}
type OramaDb = ReturnType<typeof createOramaDb>

interface SearchState {
  size: number
  docs: Doc[]
  ltm: LTM | null
  mini: MiniSearch<Doc> | null
  orama: OramaDb | null
}
let state: SearchState | null = null

function searchState(): SearchState {
  if (!state) throw new Error('searchSetup first')
  return state
}

async function runSearch(lib: SearchLib, query: string, limit = 10): Promise<{ keys: string[]; count: number }> {
  const s = searchState()
  if (lib === 'agent-ltm') {
    const result = check(await s.ltm!.search(query, null, limit), `search "${query}"`)
    return { keys: result.results.map((r) => r.key), count: result.count }
  }
  if (lib === 'minisearch') {
    const results = s.mini!.search(query)
    return { keys: results.slice(0, limit).map((r) => String(r.id)), count: results.length }
  }
  const results = await searchOrama(s.orama!, { term: query, properties: ['text'], limit, tolerance: 0, threshold: 1, relevance: BM25 })
  return { keys: results.hits.map((h) => String(h.id)), count: results.count }
}

const api = {
  info: pageInfo,

  searchSetup(size: number): { docs: number; chars: number } {
    state = { size, docs: corpus(0, size), ltm: null, mini: null, orama: null }
    return { docs: size, chars: state.docs.reduce((n, d) => n + d.text.length, 0) }
  },

  async build(lib: SearchLib): Promise<BuildReport> {
    const s = searchState()
    const before = heap()
    const t0 = now()
    let openMs: number | null = null
    let databaseBytes: number | null = null
    if (lib === 'agent-ltm') {
      s.ltm = await createLTM({ backend: 'sqlite', persist: 'memory', wasmUrl: WASM_URL })
      openMs = now() - t0
      await storeDocs(s.ltm, s.docs)
    } else if (lib === 'minisearch') {
      s.mini = createMiniSearch()
      s.mini.addAll(s.docs)
    } else {
      s.orama = createOramaDb()
      await insertMultiple(s.orama, s.docs, 1000)
    }
    const buildMs = now() - t0
    const delta = heapDelta(before, heap())
    if (s.ltm && lib === 'agent-ltm') databaseBytes = Number((check(await s.ltm.stats(), 'stats') as { database_bytes?: number }).database_bytes ?? 0)
    return { lib, build_ms: buildMs, open_ms: openMs, js_heap_delta_bytes: delta.js, wasm_delta_bytes: delta.wasm, database_bytes: databaseBytes }
  },

  /** One untimed pass over every query with every library; returns top 10 and match counts. */
  async searchCheck(countAgentLtm: boolean): Promise<QueryCheck[]> {
    const s = searchState()
    const checks: QueryCheck[] = []
    for (let q = 0; q < QUERIES.length; q++) {
      const text = QUERIES[q]!.text
      const top = {} as Record<SearchLib, string[]>
      const matches = {} as Record<SearchLib, number | null>
      for (const lib of LIBS) {
        const { keys, count } = await runSearch(lib, text)
        top[lib] = keys
        matches[lib] = lib === 'agent-ltm' ? null : count
      }
      if (countAgentLtm) matches['agent-ltm'] = (await runSearch('agent-ltm', text, s.size)).count
      checks.push({ query: q, top, matches })
    }
    return checks
  },

  /** One timed round: every query once per library, in a seeded order, libraries rotating per query. */
  async searchRound(round: number): Promise<SearchSample[]> {
    const random = prng(1000 + round)
    const order = QUERIES.map((_, i) => i)
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    const samples: SearchSample[] = []
    for (let k = 0; k < order.length; k++) {
      const q = order[k]!
      for (let l = 0; l < LIBS.length; l++) {
        const lib = LIBS[(k + round + l) % LIBS.length]!
        const t0 = now()
        await runSearch(lib, QUERIES[q]!.text)
        samples.push({ lib, query: q, ms: now() - t0 })
      }
    }
    return samples
  },

  async searchTeardown(): Promise<void> {
    await state?.ltm?.close()
    state = null
  },

  // ---------------------------------------------------------------- store latency

  async storeLatency(options: { prefill: number; ops: number; block: number; warmup: number }): Promise<{ variants: Record<StoreVariant, { steps: StoreStep[]; stats: PersistStats }>; strict_raw_read: RawIdbRead | null }> {
    const variants: StoreVariant[] = ['memory', 'indexeddb-strict', 'indexeddb-relaxed']
    const stores = {} as Record<StoreVariant, LTM>
    const last = {} as Record<StoreVariant, PersistStats>
    const steps = {} as Record<StoreVariant, StoreStep[]>
    for (const v of variants) {
      await deleteStore(`bench-store-${v}`)
      stores[v] =
        v === 'memory'
          ? await createLTM({ backend: 'sqlite', persist: 'memory', wasmUrl: WASM_URL })
          : await createLTM({ backend: 'sqlite', name: `bench-store-${v}`, persist: 'indexeddb', durability: v === 'indexeddb-strict' ? 'strict' : 'relaxed', wasmUrl: WASM_URL })
      await storeDocs(stores[v], corpus(0, options.prefill))
      last[v] = await persistStats(stores[v])
      steps[v] = []
    }
    const docs = corpus(0, options.warmup + options.ops, 2, 'store')
    for (const v of variants) for (let i = 0; i < options.warmup; i++) await timedStore(stores[v], docs[i]!, last, v)
    const blocks = Math.ceil(options.ops / options.block)
    for (let b = 0; b < blocks; b++) {
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(b + k) % variants.length]!
        for (let i = b * options.block; i < Math.min(options.ops, (b + 1) * options.block); i++) {
          steps[v].push(await timedStore(stores[v], docs[options.warmup + i]!, last, v))
        }
      }
    }
    const out = {} as Record<StoreVariant, { steps: StoreStep[]; stats: PersistStats }>
    const rawRead = await api.rawRead('bench-store-indexeddb-strict')
    for (const v of variants) {
      out[v] = { steps: steps[v], stats: await persistStats(stores[v]) }
      await stores[v].close()
      if (v !== 'memory') await deleteStore(`bench-store-${v}`)
    }
    return { variants: out, strict_raw_read: rawRead }
  },

  // ---------------------------------------------------------------- persistence cost by database size

  /** Fills an IndexedDB-persisted store with memories padded (in metadata, which is not indexed) until the database reaches `targetBytes`. */
  async persistFill(name: string, targetBytes: number, padBytes: number): Promise<FillReport> {
    await deleteStore(name)
    const ltm = await createLTM({ backend: 'sqlite', name, persist: 'indexeddb', wasmUrl: WASM_URL })
    const pad = 'p'.repeat(padBytes)
    const perBatch = Math.max(1, Math.min(100, Math.round(targetBytes / padBytes / 10)))
    const t0 = now()
    const tally = newTally()
    let stats = await persistStats(ltm)
    let n = 0
    while (stats.database_bytes < targetBytes) {
      const batch = corpus(n, perBatch, 3, 'fill').map((d) => ({ key: d.id, value: d.text, metadata: { pad } }))
      check(await ltm.storeBatch(batch), 'storeBatch (fill)')
      n += batch.length
      stats = await settleAfterWrite(ltm, stats, tally)
    }
    const seconds = (now() - t0) / 1000
    persistent.set(name, ltm)
    return { memories: n, seconds, ...tally, stats }
  },

  /** Single stores on the store `persistFill` left open; every store followed by timed stats() calls that wait for a compaction it made due. */
  async persistStores(name: string, ops: number, warmup: number): Promise<{ steps: StoreStep[]; stats: PersistStats }> {
    const ltm = persistent.get(name)
    if (!ltm) throw new Error(`persistFill ${name} first`)
    const docs = corpus(0, warmup + ops, 4, 'single')
    const last = { x: await persistStats(ltm) } as Record<string, PersistStats>
    for (let i = 0; i < warmup; i++) await timedStore(ltm, docs[i]!, last, 'x')
    const steps: StoreStep[] = []
    for (let i = 0; i < ops; i++) steps.push(await timedStore(ltm, docs[warmup + i]!, last, 'x'))
    return { steps, stats: await persistStats(ltm) }
  },

  /** Writes a scratch memory (1 MB of unindexed metadata, a new value each time) until a compaction runs; returns that pause, ms. */
  async forceCompaction(name: string): Promise<{ pause_ms: number | null; writes: number; stats: PersistStats }> {
    const ltm = persistent.get(name) ?? (await createLTM({ backend: 'sqlite', name, persist: 'indexeddb', wasmUrl: WASM_URL }))
    persistent.set(name, ltm)
    const pause = await forceCompaction(ltm)
    return { ...pause, stats: await persistStats(ltm) }
  },

  async closeStore(name: string, remove: boolean): Promise<void> {
    await persistent.get(name)?.close()
    persistent.delete(name)
    if (remove) await deleteStore(name)
  },

  // ---------------------------------------------------------------- cold open

  async coldFill(name: string, size: number, batchSize: number): Promise<FillReport> {
    await deleteStore(name)
    const ltm = await createLTM({ backend: 'sqlite', name, persist: 'indexeddb', wasmUrl: WASM_URL })
    const docs = corpus(0, size)
    const t0 = now()
    const tally = newTally()
    let stats = await persistStats(ltm)
    for (let i = 0; i < docs.length; i += batchSize) {
      check(await ltm.storeBatch(docs.slice(i, i + batchSize).map((d) => ({ key: d.id, value: d.text }))), 'storeBatch (cold fill)')
      stats = await settleAfterWrite(ltm, stats, tally)
    }
    const seconds = (now() - t0) / 1000
    await ltm.close()
    return { memories: size, seconds, ...tally, stats }
  },

  /**
   * Adds memories N, N+1, … with storeBatch until the log since the last image reaches `fraction` of
   * the compaction threshold (src/persistence/persistent-executor.ts): its replay time
   * (stats().log_replay_ms) a `fraction` of stats().compaction_threshold_ms, or its bytes a
   * `fraction` of max(8 MiB, the image) if that bound is nearer: the longest log an open can find.
   * The first write is one memory (the first write of a page runs cold and counts as such); each
   * later batch fills 80% of the room left, estimated from the warm writes since the image, so a
   * noisy batch does not overshoot. When a write still makes a compaction due, the log starts over
   * after that image (the threshold is then the compaction this page measured), up to
   * MAX_EXTEND_COMPACTIONS times.
   */
  async extendLog(name: string, from: number, fraction: number, maxBatch: number): Promise<LongLog & { stats: PersistStats }> {
    const ltm = persistent.get(name) ?? (await createLTM({ backend: 'sqlite', name, persist: 'indexeddb', wasmUrl: WASM_URL }))
    persistent.set(name, ltm)
    const opened = await persistStats(ltm)
    const firstThresholdMs = opened.compaction_threshold_ms ?? Number.NaN
    let stats = opened
    /** Where the rate estimate starts: after the page's first (cold) write, or after a compaction. */
    let rateBase: { stats: PersistStats; added: number } | null = null
    let added = 0
    let inLog = 0
    let entries = 0
    let compactions = 0
    let batch = 1
    let bound: LongLog['bound'] = 'replay'
    const steps: LongLog['steps'] = []
    const rate = () => {
      const n = rateBase ? added - rateBase.added : 0
      return {
        ms: rateBase && n > 0 ? ((stats.log_replay_ms ?? 0) - (rateBase.stats.log_replay_ms ?? 0)) / n : 0,
        bytes: rateBase && n > 0 ? ((stats.log_bytes_since_image ?? 0) - (rateBase.stats.log_bytes_since_image ?? 0)) / n : 0,
      }
    }
    for (;;) {
      if (rateBase && added - rateBase.added > 0) {
        const per = rate()
        const thresholdBytes = Math.max(MIN_LOG_BYTES, stats.image_bytes ?? 0)
        const roomByMs = per.ms > 0 ? (fraction * (stats.compaction_threshold_ms ?? Number.NaN) - (stats.log_replay_ms ?? 0)) / per.ms : Number.POSITIVE_INFINITY
        const roomByBytes = per.bytes > 0 ? (fraction * thresholdBytes - (stats.log_bytes_since_image ?? 0)) / per.bytes : Number.POSITIVE_INFINITY
        bound = roomByMs <= roomByBytes ? 'replay' : 'bytes'
        const room = Math.min(roomByMs, roomByBytes)
        if (!(room >= 10) || room < 0.03 * (inLog + room)) break
        batch = Math.min(maxBatch, Math.floor(room * 0.8))
      } else if (rateBase) {
        batch = 20
      }
      const docs = corpus(from + added, batch)
      const t0 = now()
      check(await ltm.storeBatch(docs.map((d) => ({ key: d.id, value: d.text }))), 'storeBatch (extend log)')
      const storeMs = now() - t0
      const after = await statsAfterWrite(ltm, stats)
      // The first stats() after the write: the log as it stood when the write resolved (before a compaction it made due).
      steps.push({ memories: batch, store_ms: storeMs, log_replay_ms: after.first.log_replay_ms, log_bytes: after.first.log_bytes_since_image, compaction_threshold_ms: after.first.compaction_threshold_ms, compacted: after.compacted })
      stats = after.stats
      added += batch
      entries++
      inLog += batch
      if (after.compacted) {
        compactions++
        inLog = 0
        entries = 0
        if (compactions > MAX_EXTEND_COMPACTIONS) break
      }
      if (!rateBase || after.compacted) rateBase = { stats, added }
    }
    const per = rate()
    return {
      added,
      memories_in_log: inLog,
      entries,
      first_threshold_ms: firstThresholdMs,
      threshold_ms: stats.compaction_threshold_ms ?? Number.NaN,
      threshold_bytes: Math.max(MIN_LOG_BYTES, stats.image_bytes ?? 0),
      bound,
      replay_ms_per_memory: per.ms,
      log_bytes_per_memory: per.bytes,
      log_replay_ms: stats.log_replay_ms ?? Number.NaN,
      log_bytes: stats.log_bytes_since_image ?? Number.NaN,
      steps,
      compactions,
      compacted: compactions > MAX_EXTEND_COMPACTIONS,
      stats,
    }
  },

  /**
   * What IndexedDB itself costs here, on a scratch database shaped like the change log: the
   * catch-up read every write starts with, an append of one store's size with each durability, and
   * an uncontended Web Lock. Interleaved, `n` of each.
   */
  async idbProbe(n: number, recordBytes: number): Promise<Record<string, number[]>> {
    const name = 'agent-ltm-bench-idb-probe'
    await new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase(name)
      request.onsuccess = request.onerror = request.onblocked = () => resolve()
    })
    const open = indexedDB.open(name, 1)
    open.onupgradeneeded = () => {
      open.result.createObjectStore('log', { autoIncrement: true })
      open.result.createObjectStore('snapshot')
    }
    const db = await idbRequest(open)
    const record = { statements: [{ sql: 'x'.repeat(recordBytes), args: [] as unknown[] }] }
    const done = (tx: IDBTransaction): Promise<void> =>
      new Promise((resolve, reject) => {
        tx.oncomplete = () => resolve()
        tx.onerror = tx.onabort = () => reject(tx.error)
      })
    const ops: Record<string, () => Promise<unknown>> = {
      'read (catch-up: snapshot + log cursor)': async () => {
        const tx = db.transaction(['snapshot', 'log'], 'readonly')
        await idbRequest(tx.objectStore('snapshot').get('current'))
        await idbRequest(tx.objectStore('log').openCursor(IDBKeyRange.lowerBound(Number.MAX_SAFE_INTEGER - 1, true)))
        await done(tx)
      },
      'append, relaxed': async () => {
        const tx = db.transaction('log', 'readwrite', { durability: 'relaxed' })
        tx.objectStore('log').add(record)
        await done(tx)
      },
      'append, strict': async () => {
        const tx = db.transaction('log', 'readwrite', { durability: 'strict' })
        tx.objectStore('log').add(record)
        await done(tx)
      },
      'Web Lock, uncontended': () => navigator.locks.request('agent-ltm-bench-probe', async () => undefined),
    }
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(ops).map((k) => [k, []]))
    for (let i = 0; i < n + 5; i++) {
      for (const [label, op] of Object.entries(ops)) {
        const t0 = now()
        await op()
        if (i >= 5) samples[label]!.push(now() - t0)
      }
    }
    db.close()
    await new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase(name)
      request.onsuccess = request.onerror = request.onblocked = () => resolve()
    })
    return samples
  },

  /** Run first in a fresh page: wasm init (empty in-memory store), then open the persisted store, search once. */
  async coldOpen(name: string): Promise<OpenReport> {
    let t0 = now()
    const empty = await createLTM({ backend: 'sqlite', persist: 'memory', wasmUrl: WASM_URL })
    const wasmInit = now() - t0
    await empty.close()
    t0 = now()
    const ltm = await createLTM({ backend: 'sqlite', name, persist: 'indexeddb', wasmUrl: WASM_URL })
    const openMs = now() - t0
    const query = QUERIES.find((q) => q.class === 'medium')!.text
    t0 = now()
    check(await ltm.search(query, null, 10), 'first search')
    const firstSearch = now() - t0
    const stats = await persistStats(ltm)
    await ltm.close()
    return { wasm_init_ms: wasmInit, open_ms: openMs, first_search_ms: firstSearch, stats }
  },

  /**
   * Reads the stored records with plain IndexedDB calls (the layout of src/persistence/indexeddb-log.ts:
   * a 'current' record in the 'snapshot' store that is either the image and its seq, or a pointer
   * with `inline: true` to an 'image' record, or a pointer to an OPFS file), each read `runs` times
   * in its own transaction; medians. Null when the layout is not one of these.
   */
  async rawRead(name: string, runs = 5): Promise<RawIdbRead | null> {
    type Current = { seq?: number; image?: Uint8Array | null; inline?: boolean; file?: string }
    try {
      const db = await idbRequest(indexedDB.open(`agent-ltm:${name}`))
      try {
        const get = async (key: string): Promise<{ value: unknown; ms: number }> => {
          const times: number[] = []
          let value: unknown
          for (let i = 0; i < runs; i++) {
            const t0 = now()
            value = await idbRequest(db.transaction('snapshot', 'readonly').objectStore('snapshot').get(key))
            times.push(now() - t0)
          }
          times.sort((a, b) => a - b)
          return { value, ms: times[Math.floor(times.length / 2)]! }
        }
        const pointer = await get('current')
        const current = (pointer.value ?? {}) as Current
        const imageInPointer = current.image instanceof Uint8Array
        let image: Uint8Array | null = imageInPointer ? current.image! : null
        let imageMs = imageInPointer ? pointer.ms : 0
        if (!imageInPointer && current.inline) {
          const read = await get('image')
          image = read.value instanceof Uint8Array ? read.value : null
          imageMs = read.ms
        }
        const t0 = now()
        const entries = (await idbRequest(db.transaction('log', 'readonly').objectStore('log').getAll(IDBKeyRange.lowerBound(current.seq ?? 0, true)))) as unknown[]
        const logMs = now() - t0
        return { pointer_ms: pointer.ms, image_in_pointer: imageInPointer, image_ms: imageMs, image_bytes: image?.byteLength ?? 0, log_ms: logMs, log_entries: entries.length }
      } finally {
        db.close()
      }
    } catch {
      return null
    }
  },

  deleteStore,
}

// ---------------------------------------------------------------- helpers for the persisted stores

const persistent = new Map<string, LTM>()

async function persistStats(ltm: LTM): Promise<PersistStats> {
  const s = check(await ltm.stats(), 'stats') as unknown as Record<string, unknown>
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null)
  return {
    database_bytes: Number(s.database_bytes ?? 0),
    image_bytes: num(s.image_bytes),
    log_bytes_since_image: num(s.log_bytes_since_image),
    log_replay_ms: num(s.log_replay_ms),
    compaction_threshold_ms: num(s.compaction_threshold_ms),
    log_seq: num(s.log_seq),
  }
}

function compactedBetween(before: PersistStats, after: PersistStats): boolean {
  if (before.image_bytes !== after.image_bytes) return true
  return before.log_bytes_since_image !== null && after.log_bytes_since_image !== null && after.log_bytes_since_image < before.log_bytes_since_image
}

/** The byte bound of the compaction policy: the log is compacted once it reaches max(this, the image). */
const MIN_LOG_BYTES = 8 * 1024 * 1024
/** Longest wait for a compaction to show up in stats() (it only fails to when the compaction failed). */
const SETTLE_LIMIT_MS = 60_000

/**
 * Whether stats read right after a write show a compaction due under the policy of
 * src/persistence/persistent-executor.ts (then the write has scheduled one). stats() rounds
 * log_replay_ms and the threshold to 0.01 ms, so when they are that close it cannot tell: 'maybe'.
 */
function compactionDue(s: PersistStats): boolean | 'maybe' {
  if (s.log_replay_ms === null || s.compaction_threshold_ms === null || s.log_bytes_since_image === null) return false
  if (s.log_bytes_since_image >= Math.max(MIN_LOG_BYTES, s.image_bytes ?? 0)) return true
  const over = s.log_replay_ms - s.compaction_threshold_ms
  return over >= 0.015 ? true : over < -0.015 ? false : 'maybe'
}

/**
 * stats() right after a write. The compaction a write makes due runs after the write resolved (its
 * export after a macrotask, then the image store), so when the first stats() still shows it due,
 * stats() is called again until the new image is stored. Returns the last stats, whether a
 * compaction completed since `before`, and the time all these calls took, ms.
 */
async function statsAfterWrite(ltm: LTM, before: PersistStats): Promise<{ stats: PersistStats; first: PersistStats; compacted: boolean; ms: number }> {
  const t0 = now()
  const first = await persistStats(ltm)
  let stats = first
  let compacted = compactedBetween(before, first)
  const due = compactionDue(first)
  // Undecidable from the rounded figures: wait a few compactions' worth of time for one to show up.
  const limit = due === 'maybe' ? Math.max(250, 4 * (first.compaction_threshold_ms ?? 0)) : SETTLE_LIMIT_MS
  while (!compacted && due !== false && now() - t0 < limit) {
    stats = await persistStats(ltm)
    compacted = compactedBetween(first, stats)
  }
  return { stats, first, compacted, ms: now() - t0 }
}

type CompactionTally = Pick<FillReport, 'compactions' | 'compaction_pauses_ms' | 'compaction_threshold_after_ms' | 'compaction_image_bytes'>
const newTally = (): CompactionTally => ({ compactions: 0, compaction_pauses_ms: [], compaction_threshold_after_ms: [], compaction_image_bytes: [] })

/** statsAfterWrite, recording a compaction in `tally`; returns the stats. */
async function settleAfterWrite(ltm: LTM, before: PersistStats, tally: CompactionTally): Promise<PersistStats> {
  const { stats, compacted, ms } = await statsAfterWrite(ltm, before)
  if (compacted) {
    tally.compactions++
    tally.compaction_pauses_ms.push(ms)
    tally.compaction_threshold_after_ms.push(stats.compaction_threshold_ms ?? Number.NaN)
    tally.compaction_image_bytes.push(stats.image_bytes ?? 0)
  }
  return stats
}

async function timedStore(ltm: LTM, doc: Doc, last: Record<string, PersistStats>, id: string): Promise<StoreStep> {
  const t0 = now()
  const result = await ltm.store(doc.id, doc.text)
  const t1 = now()
  check(result, `store ${doc.id}`)
  const { stats, compacted, ms } = await statsAfterWrite(ltm, last[id]!)
  last[id] = stats
  return { store_ms: t1 - t0, after_ms: ms, compacted }
}

/**
 * Writes and deletes a scratch memory with 1 MB of unindexed metadata in one transaction (one log
 * append of ~1 MB that leaves the database as it was) until the log passes the compaction
 * threshold (its replay time or its bytes); returns the pause of that compaction, ms (the stats()
 * calls after the write wait until the new image is stored).
 */
async function forceCompaction(ltm: LTM): Promise<{ pause_ms: number | null; writes: number }> {
  const pad = 'q'.repeat(1 << 20)
  let last = await persistStats(ltm)
  for (let i = 0; i < MAX_SCRATCH_WRITES; i++) {
    const result = await ltm.transaction(async (tx) => {
      check(await tx.store('bench-scratch', `scratch ${i}`, { pad, i }), 'store (scratch)')
      check(await tx.delete('bench-scratch'), 'delete (scratch)')
    })
    check(result, 'scratch transaction')
    const { stats, compacted, ms } = await statsAfterWrite(ltm, last)
    if (compacted) return { pause_ms: ms, writes: i + 1 }
    last = stats
  }
  return { pause_ms: null, writes: MAX_SCRATCH_WRITES }
}
const MAX_SCRATCH_WRITES = 400
/** extendLog gives up after this many compactions (the stored state is then whatever the last one left). */
const MAX_EXTEND_COMPACTIONS = 2

function idbRequest<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

async function deleteStore(name: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const request = indexedDB.deleteDatabase(`agent-ltm:${name}`)
    request.onsuccess = () => resolve()
    request.onerror = () => resolve()
    request.onblocked = () => resolve()
  })
}

export type BenchApi = typeof api

declare global {
  interface Window {
    __bench?: BenchApi
  }
}

window.__bench = api
document.title = 'agent-ltm browser bench: ready'

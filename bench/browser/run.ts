/**
 * agent-ltm in real Chromium: search against MiniSearch and Orama, store latency by IndexedDB
 * durability, persistence cost by database size, and cold open.
 *   npm run bench:browser              10k and 100k memories, 1 MB and 50 MB databases (about 3 minutes on 2 cores)
 *   npm run bench:browser -- --quick   1k and 10k, 1 MB only (CI smoke: writes browser-<date>-quick.json, leaves BENCHMARKS.md alone)
 * Needs `npm run build` first: the page runs the BUILT dist/index.browser.js, bundled with esbuild as
 * e2e/page-bundle.ts does. Writes bench/results/browser-<YYYY-MM-DD>.json and rewrites only the
 * "Browser (Chromium)" section of BENCHMARKS.md (between its marker comments); `npm run bench`
 * keeps that section, read back from the newest browser-*.json.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { CHROMIUM_ARGS, CHROMIUM_PATH, assertChromiumInstalled } from '../../e2e/browser.js'
import { BUILT_BROWSER_BUNDLE, PAGE_BUILD_OPTIONS, servedFiles } from '../../e2e/page-bundle.js'
import type { StaticFile } from '../../e2e/server.js'
import { queryList, type QueryClass } from '../corpus.js'
import { round, summarize } from '../stats.js'
import type { BenchApi } from './bench.page.js'
import { BROWSER_RESULTS_DIR, browserResultsFile, renderBrowserSection, replaceBrowserSection } from './report.js'
import {
  SEARCH_LIBS,
  STORE_VARIANTS,
  type BrowserBenchResults,
  type ColdOpenResult,
  type ColdOpenRuns,
  type LibSearchResult,
  type OpenReport,
  type PersistenceCostResult,
  type QueryCheck,
  type SearchLib,
  type SearchSample,
  type SearchSizeResult,
  type StoreLatencyRun,
  type StoreStep,
} from './types.js'
import { sourceFingerprint } from '../source-fingerprint.js'
import { REPO_ROOT as ROOT, hostInfo, loadAverage, packageVersion, updateBenchmarks, writeResultsJson } from '../host.js'

const CLASSES: QueryClass[] = ['rare', 'medium', 'common']
const QUERIES = queryList()

/** Timed rounds over the 72 queries (each query once per library per round), by size. */
const SEARCH_ROUNDS: Record<number, number> = { 1_000: 10, 10_000: 8, 100_000: 4 }
/** agent-ltm's match counts are checked against MiniSearch and Orama (search with limit N) up to this size. */
const COUNT_CHECK_MAX = 10_000
const STORE_PREFILL = 1_000
const STORE_OPS = 300
const STORE_BLOCK = 25
const STORE_WARMUP = 20
const PERSIST_PAD_BYTES = 10_000
/** Single stores per database size. */
const PERSIST_OPS: Record<number, number> = { [1 << 20]: 200, [50 << 20]: 200 }
const PERSIST_WARMUP = 20
/**
 * The cold-open stores are filled (and their log extended) with batches this large: fewer log
 * entries, compactions and catch-up reads keep the 100k fill short (only the stored state is measured).
 */
const COLD_FILL_BATCH = 5_000
const COLD_RESTART_RUNS = 1
const COLD_RELOAD_RUNS = 3
/** Above this, one open in a new page instead of COLD_RELOAD_RUNS. */
const SLOW_OPEN_MS = 3000
/** The long-log state fills the log to this share of the compaction threshold (replay time, or bytes if nearer). */
const LONG_LOG_FRACTION = 0.9
const IDB_PROBE_OPS = 60
/** About one single store's log entry (its statements as JSON). */
const IDB_PROBE_RECORD_BYTES = 1500

/** Precise performance.memory values and window.gc() for the heap readings. */
const EXTRA_ARGS = ['--enable-precise-memory-info', '--js-flags=--expose-gc']

const T0 = performance.now()
const log = (message: string): void => {
  process.stderr.write(`[bench:browser ${((performance.now() - T0) / 1000).toFixed(0).padStart(4)}s] ${message}\n`)
}

// ---------------------------------------------------------------- page bundle and server

interface Bundle {
  files: Map<string, StaticFile>
}

async function bundlePage(): Promise<Bundle> {
  if (!existsSync(BUILT_BROWSER_BUNDLE)) {
    throw new Error(`${path.relative(ROOT, BUILT_BROWSER_BUNDLE)} does not exist: run \`npm run build\` first (the browser benchmark runs the built bundle)`)
  }
  const outdir = path.join(ROOT, 'bench', 'browser', '.out') // nothing is written (write: false)
  const result = await build({
    ...PAGE_BUILD_OPTIONS,
    entryPoints: [{ in: path.join(ROOT, 'bench', 'browser', 'bench.page.ts'), out: 'bench.page' }],
    outdir,
    minify: true,
  })
  if (result.warnings.length > 0) log(`esbuild: ${result.warnings.length} warning(s): ${result.warnings.map((w) => w.text).join('; ')}`)
  const files = servedFiles(result.outputFiles, outdir)
  files.set('/', {
    body: '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>agent-ltm browser bench</title>\n<script type="module" src="/bench.page.js"></script></head><body></body></html>\n',
    type: 'text/html; charset=utf-8',
  })
  return { files }
}

/**
 * Like e2e/server.ts, plus the two headers that make the page cross-origin isolated: only then does
 * Chromium give performance.now() 5 µs resolution instead of 100 µs.
 */
async function serve(files: ReadonlyMap<string, StaticFile>): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const file = files.get(new URL(request.url ?? '/', 'http://127.0.0.1').pathname)
    if (!file) {
      response.writeHead(404).end()
      return
    }
    const body = typeof file.body === 'string' ? Buffer.from(file.body, 'utf8') : file.body
    response.writeHead(200, {
      'Content-Type': file.type,
      'Content-Length': body.byteLength,
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    })
    response.end(body)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

// ---------------------------------------------------------------- browser

/** Chromium on one temporary profile that survives restarts (launchChromium's flags, plus EXTRA_ARGS). */
class Browser {
  #context: BrowserContext | null = null
  private constructor(
    readonly profile: string,
    private readonly url: string,
  ) {}

  static async start(url: string): Promise<Browser> {
    assertChromiumInstalled()
    const browser = new Browser(await mkdtemp(path.join(os.tmpdir(), 'agent-ltm-bench-chromium-')), url)
    await browser.#launch()
    return browser
  }

  async #launch(): Promise<void> {
    this.#context = await chromium.launchPersistentContext(this.profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS, ...EXTRA_ARGS],
      timeout: 60_000,
    })
  }

  get version(): string {
    return this.#context?.browser()?.version() ?? 'unknown'
  }

  /** Closes Chromium and starts it again on the same profile: nothing of the store is cached in the browser process. */
  async restart(): Promise<void> {
    await this.#context?.close()
    await this.#launch()
  }

  async page(): Promise<Page> {
    const page = await this.#context!.newPage()
    page.on('pageerror', (error) => log(`[page error] ${error.stack ?? error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') log(`[page console.${message.type()}] ${message.text()}`)
    })
    await page.goto(this.url, { waitUntil: 'load' })
    await page.waitForFunction(() => window.__bench !== undefined, undefined, { timeout: 30_000 })
    return page
  }

  /** Runs `fn` on a fresh page and closes it. */
  async withPage<T>(fn: (page: Page) => Promise<T>): Promise<T> {
    const page = await this.page()
    try {
      return await fn(page)
    } finally {
      await page.close()
    }
  }

  async close(): Promise<void> {
    await this.#context?.close().catch(() => undefined)
    await rm(this.profile, { recursive: true, force: true })
  }
}

type Api = BenchApi
/** Calls window.__bench[method](...args) in the page. */
function call<K extends keyof Api>(page: Page, method: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<Api[K]>>> {
  return page.evaluate(
    ({ method, args }) => (window.__bench![method] as (...a: unknown[]) => unknown)(...args),
    { method, args: args as unknown[] },
  ) as Promise<Awaited<ReturnType<Api[K]>>>
}

// ---------------------------------------------------------------- phases

const summarizeMs = (ms: readonly number[]) => summarize(ms.map((x) => x * 1e6))
const r3 = (ms: number): number => Math.round(ms * 1000) / 1000

async function searchPhase(browser: Browser, size: number): Promise<SearchSizeResult> {
  const t0 = performance.now()
  const rounds = SEARCH_ROUNDS[size] ?? 3
  return browser.withPage(async (page) => {
    await call(page, 'searchSetup', size)
    const builds = {} as Record<SearchLib, Awaited<ReturnType<Api['build']>>>
    for (const lib of SEARCH_LIBS) {
      builds[lib] = await call(page, 'build', lib)
      log(`search N=${size}: built ${lib} in ${(builds[lib].build_ms / 1000).toFixed(1)} s`)
    }
    // Warm-up: one untimed pass over every query (also yields the top 10s and match counts).
    const checks = await call(page, 'searchCheck', size <= COUNT_CHECK_MAX)
    const samples: SearchSample[] = []
    for (let r = 0; r < rounds; r++) {
      samples.push(...(await call(page, 'searchRound', r)))
      log(`search N=${size}: round ${r + 1}/${rounds}`)
    }
    await call(page, 'searchTeardown')
    const libs = {} as Record<SearchLib, LibSearchResult>
    for (const lib of SEARCH_LIBS) {
      const mine = samples.filter((s) => s.lib === lib)
      const byClass = {} as LibSearchResult['by_class']
      const samplesMs = {} as LibSearchResult['samples_ms']
      for (const cls of CLASSES) {
        const ms = mine.filter((s) => QUERIES[s.query]!.class === cls).map((s) => s.ms)
        byClass[cls] = summarizeMs(ms)
        samplesMs[cls] = ms.map(r3)
      }
      libs[lib] = { lib, build: builds[lib], overall: summarizeMs(mine.map((s) => s.ms)), by_class: byClass, samples_ms: samplesMs }
    }
    return { size, rounds, queries: QUERIES.length, libs, ...compareResults(checks), seconds: round((performance.now() - t0) / 1000) }
  })
}

function compareResults(checks: QueryCheck[]): Pick<SearchSizeResult, 'avg_matching_docs' | 'match_counts' | 'top10_overlap'> {
  const avg = {} as SearchSizeResult['avg_matching_docs']
  const overlap = { minisearch: {}, orama: {}, minisearch_vs_orama: {} } as SearchSizeResult['top10_overlap']
  const share = (a: string[], b: string[]): number | null => {
    const denominator = Math.max(a.length, b.length)
    if (denominator === 0) return null
    const set = new Set(b)
    return a.filter((k) => set.has(k)).length / denominator
  }
  const mean = (xs: (number | null)[]): number => {
    const v = xs.filter((x): x is number => x !== null)
    return v.length === 0 ? Number.NaN : round(v.reduce((s, x) => s + x, 0) / v.length, 3)
  }
  for (const cls of CLASSES) {
    const mine = checks.filter((c) => QUERIES[c.query]!.class === cls)
    avg[cls] = round(mine.reduce((s, c) => s + (c.matches.minisearch ?? 0), 0) / Math.max(1, mine.length))
    overlap.minisearch[cls] = mean(mine.map((c) => share(c.top['agent-ltm'], c.top.minisearch)))
    overlap.orama[cls] = mean(mine.map((c) => share(c.top['agent-ltm'], c.top.orama)))
    overlap.minisearch_vs_orama[cls] = mean(mine.map((c) => share(c.top.minisearch, c.top.orama)))
  }
  const libs = SEARCH_LIBS.filter((lib) => checks.every((c) => c.matches[lib] !== null))
  const mismatches: string[] = []
  for (const c of checks) {
    const counts = libs.map((lib) => c.matches[lib])
    if (new Set(counts).size > 1) mismatches.push(`"${QUERIES[c.query]!.text}": ${libs.map((lib, i) => `${lib} ${counts[i]}`).join(', ')}`)
  }
  return { avg_matching_docs: avg, match_counts: { checked: checks.length, libs, agree: checks.length - mismatches.length, mismatches }, top10_overlap: overlap }
}

function storeSummary(steps: StoreStep[]) {
  const pauses = steps.filter((s) => s.compacted).map((s) => r3(s.after_ms))
  return {
    store: summarizeMs(steps.map((s) => s.store_ms)),
    store_with_compaction: summarizeMs(steps.map((s) => s.store_ms + (s.compacted ? s.after_ms : 0))),
    compactions: pauses.length,
    compaction_pauses_ms: pauses,
    samples_ms: steps.map((s) => r3(s.store_ms)),
  }
}

async function storePhase(browser: Browser): Promise<StoreLatencyRun> {
  const out = await browser.withPage((page) => call(page, 'storeLatency', { prefill: STORE_PREFILL, ops: STORE_OPS, block: STORE_BLOCK, warmup: STORE_WARMUP }))
  const probe = await browser.withPage((page) => call(page, 'idbProbe', IDB_PROBE_OPS, IDB_PROBE_RECORD_BYTES))
  return {
    prefill: STORE_PREFILL,
    ops: STORE_OPS,
    warmup: STORE_WARMUP,
    block: STORE_BLOCK,
    variants: STORE_VARIANTS.map((variant) => ({ variant, ...storeSummary(out.variants[variant].steps), stats_after: out.variants[variant].stats })),
    idb_probe: Object.fromEntries(Object.entries(probe).map(([label, ms]) => [label, summarizeMs(ms)])),
    idb_probe_record_bytes: IDB_PROBE_RECORD_BYTES,
    strict_raw_read: out.strict_raw_read,
  }
}

async function persistencePhase(browser: Browser, targetBytes: number): Promise<PersistenceCostResult> {
  const name = `bench-persist-${targetBytes}`
  return browser.withPage(async (page) => {
    const fill = await call(page, 'persistFill', name, targetBytes, PERSIST_PAD_BYTES)
    log(`persistence ${fmtBytes(targetBytes)}: filled ${fill.memories} memories (${fmtBytes(fill.stats.database_bytes)}) in ${fill.seconds.toFixed(1)} s, ${fill.compactions} compactions`)
    const rawRead = await call(page, 'rawRead', name)
    const ops = PERSIST_OPS[targetBytes] ?? 100
    const { steps, stats } = await call(page, 'persistStores', name, ops, PERSIST_WARMUP)
    const forced = await call(page, 'forceCompaction', name)
    await call(page, 'closeStore', name, true)
    return {
      target_bytes: targetBytes,
      pad_bytes: PERSIST_PAD_BYTES,
      fill,
      ops,
      ...storeSummary(steps),
      forced_compaction_ms: forced.pause_ms === null ? null : r3(forced.pause_ms),
      raw_read: rawRead,
      forced_compaction_writes: forced.writes,
      stats_after: stats,
    }
  })
}

async function coldOpenRuns(browser: Browser, name: string, state: ColdOpenRuns['state'], memories: number): Promise<ColdOpenRuns> {
  const restart: OpenReport[] = []
  for (let i = 0; i < COLD_RESTART_RUNS; i++) {
    await browser.restart()
    restart.push(await browser.withPage((page) => call(page, 'coldOpen', name)))
  }
  // Opens that take seconds (a long log to replay) are repeated less, to keep the run short.
  const runs = (restart[0]?.open_ms ?? 0) > SLOW_OPEN_MS ? 1 : COLD_RELOAD_RUNS
  const reload: OpenReport[] = []
  for (let i = 0; i < runs; i++) reload.push(await browser.withPage((page) => call(page, 'coldOpen', name)))
  const rawRead = await browser.withPage((page) => call(page, 'rawRead', name))
  log(
    `cold open N=${size(memories)} (${state}): open ${[...restart, ...reload].map((r) => r.open_ms.toFixed(0)).join(' / ')} ms (first after a browser restart); ` +
      `replay measured by the open ${[...restart, ...reload].map((r) => r.stats.log_replay_ms ?? '-').join(' / ')} ms`,
  )
  return { state, memories, restart, reload, raw_read: rawRead }
}

async function coldPhase(browser: Browser, n: number): Promise<ColdOpenResult> {
  const name = `bench-cold-${n}`
  const fill = await browser.withPage((page) => call(page, 'coldFill', name, n, COLD_FILL_BATCH))
  const pauses = fill.compaction_pauses_ms
  log(
    `cold open N=${size(n)}: filled in ${fill.seconds.toFixed(1)} s (${fill.compactions} compactions, waited for: ${(pauses.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s in total, longest ${Math.max(0, ...pauses).toFixed(0)} ms; ` +
      `image ${fmtBytes(fill.stats.image_bytes ?? 0)}, log since image ${fmtBytes(fill.stats.log_bytes_since_image ?? 0)} / ${fill.stats.log_replay_ms ?? '-'} ms of replay, threshold ${fill.stats.compaction_threshold_ms ?? '-'} ms)`,
  )
  // Compacted state: the fill usually ends with a compaction (a 5,000-memory batch takes longer to write than a compaction); force one otherwise.
  let forced: ColdOpenResult['forced_compaction'] = null
  if ((fill.stats.log_bytes_since_image ?? 0) > 0.01 * (fill.stats.image_bytes ?? 0)) {
    forced = await browser.withPage(async (page) => {
      const result = await call(page, 'forceCompaction', name)
      await call(page, 'closeStore', name, false)
      return { pause_ms: result.pause_ms === null ? null : r3(result.pause_ms), writes: result.writes }
    })
    log(`cold open N=${size(n)}: compaction forced after ${forced.writes} scratch writes`)
  }
  const compacted = await coldOpenRuns(browser, name, 'compacted', n)
  const extended = await browser.withPage(async (page) => {
    const result = await call(page, 'extendLog', name, n, LONG_LOG_FRACTION, COLD_FILL_BATCH)
    await call(page, 'closeStore', name, false)
    return result
  })
  log(
    `cold open N=${size(n)}: added ${extended.added} memories (${extended.compactions} compactions); log since image ${extended.memories_in_log} memories in ${extended.entries} entries, ${extended.log_replay_ms} ms of replay ` +
      `(threshold ${extended.threshold_ms} ms; ${extended.first_threshold_ms} ms when the page opened), ${fmtBytes(extended.log_bytes)} (bound ${fmtBytes(extended.threshold_bytes)}, nearer: ${extended.bound}); ` +
      `${extended.replay_ms_per_memory.toFixed(3)} ms per memory; steps ${extended.steps.map((st) => `${st.memories}:${st.log_replay_ms}${st.compacted ? 'C' : ''}`).join(' ')}${extended.compacted ? '; GAVE UP: too many compactions' : ''}`,
  )
  const longLog = await coldOpenRuns(browser, name, 'long-log', n + extended.added)
  await browser.withPage((page) => call(page, 'deleteStore', name))
  const { stats: _stats, ...longLogInfo } = extended
  return { size: n, fill, forced_compaction: forced, long_log: longLogInfo, states: [compacted, longLog] }
}

// ---------------------------------------------------------------- bookkeeping

const size = (n: number): string => (n >= 1000 ? `${Math.round(n / 100) / 10}k` : String(n))
const fmtBytes = (bytes: number): string => (bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${(bytes / 1024).toFixed(0)} kB`)

function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs)
  }
  return newest
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } } })
  const quick = values.quick === true
  const searchSizes = quick ? [1_000, 10_000] : [10_000, 100_000]
  const persistTargets = quick ? [1 << 20] : [1 << 20, 50 << 20]
  const coldSizes = quick ? [1_000, 10_000] : [10_000, 100_000]
  const outDir = path.resolve(values.out ?? BROWSER_RESULTS_DIR)
  const startedAt = new Date()
  const date = startedAt.toISOString().slice(0, 10)

  const distMtime = existsSync(BUILT_BROWSER_BUNDLE) ? statSync(BUILT_BROWSER_BUNDLE).mtimeMs : 0
  const stale = newestMtime(path.join(ROOT, 'src')) > distMtime
  if (stale) log('warning: src/ changed after dist/index.browser.js was built; this run measures the older build (run `npm run build`)')
  const bundle = await bundlePage()
  const server = await serve(bundle.files)
  const browser = await Browser.start(server.url)
  const results: BrowserBenchResults = {
    kind: 'agent-ltm-browser-bench',
    date,
    started_at: startedAt.toISOString(),
    elapsed_s: 0,
    quick,
    machine: hostInfo(),
    browser: { version: browser.version, page: await browser.withPage((page) => call(page, 'info')), args: [...CHROMIUM_ARGS, ...EXTRA_ARGS] },
    versions: {
      'agent-ltm': (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      'sql.js': packageVersion('sql.js'),
      minisearch: packageVersion('minisearch'),
      '@orama/orama': packageVersion('@orama/orama'),
      'playwright-core': packageVersion('playwright-core'),
    },
    source_fingerprint: sourceFingerprint(ROOT),
    dist_built_at: new Date(distMtime).toISOString(),
    dist_older_than_src: stale,
    config: {
      search_sizes: searchSizes,
      search_rounds: Object.fromEntries(searchSizes.map((n) => [String(n), SEARCH_ROUNDS[n] ?? 3])),
      store_prefill: STORE_PREFILL,
      store_ops: STORE_OPS,
      store_warmup: STORE_WARMUP,
      persistence_targets_bytes: persistTargets,
      persistence_ops: persistTargets.map((t) => PERSIST_OPS[t] ?? 100),
      cold_sizes: coldSizes,
      cold_fill_batch: COLD_FILL_BATCH,
      cold_restart_runs: COLD_RESTART_RUNS,
      cold_reload_runs: COLD_RELOAD_RUNS,
      cold_long_log_fraction: LONG_LOG_FRACTION,
    },
    search: [],
    store: null,
    persistence: [],
    cold_open: [],
  }
  log(`Chromium ${browser.version}; cross-origin isolated ${results.browser.page.cross_origin_isolated}, timer ${results.browser.page.timer_resolution_us} µs; profile ${browser.profile}`)
  try {
    for (const size of searchSizes) {
      const result = await searchPhase(browser, size)
      results.search.push(result)
      log(`search N=${size}: p50 ${SEARCH_LIBS.map((lib) => `${lib} ${result.libs[lib].overall.p50_us} µs`).join(', ')} (${result.seconds} s)`)
    }
    results.store = await storePhase(browser)
    log(`store p50: ${results.store.variants.map((v) => `${v.variant} ${v.store.p50_us} µs`).join(', ')}`)
    for (const target of persistTargets) {
      const result = await persistencePhase(browser, target)
      results.persistence.push(result)
      log(`persistence ${fmtBytes(target)}: store p50 ${result.store.p50_us} µs, p99 ${result.store.p99_us} µs, ${result.compactions} compactions; forced compaction ${result.forced_compaction_ms ?? '-'} ms`)
    }
    for (const size of coldSizes) results.cold_open.push(await coldPhase(browser, size))
  } finally {
    await browser.close()
    await server.close()
  }
  results.machine.load_average_end = loadAverage()
  results.elapsed_s = round((performance.now() - T0) / 1000)

  const jsonPath = writeResultsJson(outDir, browserResultsFile(date, quick), results)
  log(`wrote ${path.relative(ROOT, jsonPath)}`)
  if (quick) {
    log('--quick: BENCHMARKS.md left alone')
    return
  }
  const mdPath = updateBenchmarks(values.out ? outDir : undefined, (before) => replaceBrowserSection(before, renderBrowserSection(results)))
  log(`rewrote the browser section of ${path.relative(ROOT, mdPath)} in ${results.elapsed_s} s`)
}

await main()

/** Result shapes of a benchmark run, and the BENCHMARKS.md renderer. */
import { browserSectionFromNewestResults } from './browser/report.js'
import { remoteSectionFromNewestResults } from './remote/report.js'
import type { ColdResult } from './cold-child.js'
import type { QueryClass } from './corpus.js'
import type { FillResult } from './fill-child.js'
import type { MicroCost } from './micro.js'
import type { Driver } from './raw.js'
import type { LatencySummary } from './stats.js'
import type { HostInfo } from './host.js'

export type Side = 'sdk' | 'raw'
export type Operation = 'store' | 'retrieve' | 'search' | 'search_filter' | 'list_filter'
export const OPERATIONS: readonly Operation[] = ['store', 'retrieve', 'search', 'search_filter', 'list_filter']
export const QUERY_CLASSES: readonly QueryClass[] = ['rare', 'medium', 'common']

export const TARGETS = { sdk_over_raw_max: 1.2, search_p50_100k_max_us: 1000 } as const

export interface LatencyResult extends LatencySummary {
  /** Every sample, µs. */
  samples_us: number[]
}

export interface VariantResult {
  side: Side
  driver: Driver
  /** null: this variant's database was a copy (see SizeResult.libsql_copied). */
  fill: FillResult | null
  ops: Record<Operation, LatencyResult>
  search_by_class: Record<QueryClass, LatencySummary>
  /**
   * SDK only: median over calls of SDK time / raw time for the same call (both sides run the same
   * inputs in the same order). Robust where a p50 falls between two modes of a mixed workload.
   */
  paired_ratio_to_raw: Record<Operation, number> | null
}

export interface SearchAnatomy {
  /** Documents containing at least one query word, averaged over the class's queries. */
  avg_matching_docs: number
  /** Postings rows of the query words (one per word and document). */
  avg_postings: number
  /** A bare count(*) over those postings: the floor for a plan that scores every match. */
  postings_scan_p50_us: number
  /** Share of the class's query words found in at least half the memories: BM25 floors their idf at 1e-6. */
  share_words_idf_floored: number
}

export interface LimitExperiment {
  queries: number
  /** The SDK's statement, `LIMIT ?` bound to 10. */
  bound_p50_us: number
  /** The same text with `LIMIT 10` written in. */
  literal_p50_us: number
}

export interface StoreAnatomy {
  ops: number
  p50_us: Record<'ensure_namespace' | 'read_before_write' | 'upsert_with_triggers' | 'commit' | 'total', number>
  mean_us: Record<'ensure_namespace' | 'read_before_write' | 'upsert_with_triggers' | 'commit' | 'total', number>
}

export interface StoreDecomposition {
  ops: number
  sdk_store_p50_us: number
  /** prepareWrite (validation, canonical JSON, tokenize, hash, terms JSON) alone. */
  prepare_p50_us: number
  raw_write_p50_us: number
  prepare_plus_write_p50_us: number
}

export interface SizeResult {
  size: number
  /** `${side}:${driver}` → results. */
  variants: Record<string, VariantResult>
  /** The queries in the order measured (same for every variant). */
  search_queries: { text: string; class: QueryClass }[]
  /** Median over calls of libsql time ÷ better-sqlite3 time for the same call, per side. */
  paired_libsql_to_better: Record<Side, Record<Operation, number>>
  /** What the queries of each class read (raw better-sqlite3 database). */
  search_anatomy: Record<QueryClass, SearchAnatomy>
  /** Per raw driver; null when the SDK's search SQL has no bound LIMIT. */
  bound_limit_experiment: Record<string, Record<QueryClass, LimitExperiment> | null>
  /** A raw store split into its statements, per driver. */
  store_anatomy: Record<string, StoreAnatomy>
  /** SDK store vs. the SDK's preparation + raw SQL, better-sqlite3. */
  store_decomposition: StoreDecomposition
  /** Whether every variant returned the same top-10 keys for the checked queries. */
  results_identical: boolean
  /** libsql ran on copies of the better-sqlite3 databases (no libsql storeBatch figure). */
  libsql_copied: boolean
  seconds: number
}

export interface ColdStartResult {
  runs: number
  db_size: number
  /** Wall time of spawn → exit, ms, per run. */
  baseline_wall_ms: number[]
  by_driver: Record<string, { wall_ms: number[]; in_process: ColdResult[] }>
}

export interface MachineInfo extends HostInfo {
  arch: string
  cpu_mhz: number
  v8: string
  icu: string | undefined
  drivers: Record<Driver, { version: string; sqlite: string; compile_options: string[] }>
}

export interface BenchResults {
  date: string
  started_at: string
  machine: MachineInfo
  /** sha256 over src/**\/*.ts, to tie numbers to a source state. */
  source_fingerprint: string
  config: {
    sizes: number[]
    store_ops: number
    retrieve_ops: number
    search_queries: number
    filter_ops: number
    batch_size: number
    rounds: number
    cold_runs: number
    /** Largest size at which libsql fills its own databases; null = all sizes. */
    libsql_fill_max: number | null
  }
  sizes: SizeResult[]
  micro: MicroCost[]
  cold_start: ColdStartResult | null
  elapsed_s: number
}

// ---------------------------------------------------------------- formatting helpers

const fmtUs = (us: number): string => {
  const a = Math.abs(us)
  const sign = us < 0 ? '−' : ''
  return a >= 10_000 ? `${sign}${(a / 1000).toFixed(1)} ms` : a >= 1000 ? `${sign}${(a / 1000).toFixed(2)} ms` : `${sign}${a.toFixed(a < 10 ? 1 : 0)} µs`
}
const fmtRatio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(x >= 10 ? 0 : 2)}×` : 'n/a')
const fmtInt = (x: number): string => Math.round(x).toLocaleString('en-US')
const fmtMiB = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MiB`
const fmtSize = (n: number): string => (n >= 1000 ? `${n / 1000}k` : String(n))
const pass = (ok: boolean): string => (ok ? '✅ pass' : '❌ fail')
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const geomean = (xs: number[]): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length)

function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : ':---'))
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n')
}

const OP_LABEL: Record<Operation, string> = {
  store: '`store` (single, new key)',
  retrieve: '`retrieve` (existing key)',
  search: '`search` (1-3 words, all classes)',
  search_filter: '`search` + metadata filter',
  list_filter: '`search(null, filter)` (filter only: user-7, priority ≥ 3)',
}

export const variantId = (side: Side, driver: Driver): string => `${side}:${driver}`

function variant(size: SizeResult, side: Side, driver: Driver): VariantResult | undefined {
  return size.variants[variantId(side, driver)]
}

// ---------------------------------------------------------------- sections

const ratioCell = (x: number): string => `${fmtRatio(x)}`
const fillCell = (f: FillResult | null): string => (f ? `${fmtInt(f.memories_per_s)} mem/s` : 'not measured¹')

function sdkVsRaw(results: BenchResults, driver: Driver): string {
  const rows: string[][] = []
  let footnote = false
  for (const size of results.sizes) {
    const sdk = variant(size, 'sdk', driver)
    const raw = variant(size, 'raw', driver)
    if (!sdk || !raw) continue
    for (const op of OPERATIONS) {
      const s = sdk.ops[op]
      const r = raw.ops[op]
      const paired = sdk.paired_ratio_to_raw?.[op] ?? Number.NaN
      const n = s.n === r.n ? String(s.n) : `${s.n}/${r.n}`
      rows.push([fmtSize(size.size), OP_LABEL[op], n, fmtUs(s.p50_us), fmtUs(s.p99_us), fmtUs(s.mean_us), fmtUs(r.p50_us), fmtUs(r.p99_us), fmtUs(r.mean_us), fmtUs(s.p50_us - r.p50_us), ratioCell(s.p50_us / r.p50_us), ratioCell(s.mean_us / r.mean_us), ratioCell(paired), pass(paired <= TARGETS.sdk_over_raw_max)])
    }
    if (sdk.fill && raw.fill) {
      const ratio = raw.fill.memories_per_s / sdk.fill.memories_per_s
      const perMemory = 1e6 / sdk.fill.memories_per_s - 1e6 / raw.fill.memories_per_s
      rows.push([fmtSize(size.size), `\`storeBatch\` throughput (${fmtInt(size.size)} in batches of ${sdk.fill.batch_size})`, String(size.size), fillCell(sdk.fill), '', `${sdk.fill.seconds.toFixed(2)} s`, fillCell(raw.fill), '', `${raw.fill.seconds.toFixed(2)} s`, `${fmtUs(perMemory)} /memory`, ratioCell(ratio), ratioCell(ratio), ratioCell(ratio), pass(ratio <= TARGETS.sdk_over_raw_max)])
    } else {
      footnote = true
    }
  }
  const markdown = table(['N', 'operation', 'calls', 'SDK p50', 'SDK p99', 'SDK mean', 'raw p50', 'raw p99', 'raw mean', 'SDK − raw (p50)', 'SDK/raw of p50s', 'SDK/raw of means', 'SDK/raw paired²', `target ≤ ${TARGETS.sdk_over_raw_max}×`], rows, ['r', 'l'])
  const paired = '² Median over calls of (SDK time ÷ raw time) for the same call: both sides run identical inputs in the same order. The target is judged on this ratio (storeBatch: on throughput).'
  return footnote ? `${markdown}\n\n¹ ${copiedNote(results)}\n\n${paired}` : `${markdown}\n\n${paired}`
}

function copiedNote(results: BenchResults): string {
  const max = results.config.libsql_fill_max
  return max === null
    ? ''
    : `Above ${fmtSize(max)} memories the libsql variants run on copies of the better-sqlite3 databases, so there is no libsql \`storeBatch\` figure there (it keeps the run near 6 minutes); \`npm run bench -- --libsql-full\` fills them with libsql too.`
}

function searchByClass(results: BenchResults): string {
  const rows: string[][] = []
  for (const size of results.sizes) {
    const sdk = variant(size, 'sdk', 'better-sqlite3')
    const raw = variant(size, 'raw', 'better-sqlite3')
    if (!sdk || !raw) continue
    const classes: (QueryClass | 'all')[] = [...QUERY_CLASSES, 'all']
    for (const cls of classes) {
      const s = cls === 'all' ? sdk.ops.search : sdk.search_by_class[cls]
      const r = cls === 'all' ? raw.ops.search : raw.search_by_class[cls]
      const a = cls === 'all' ? null : size.search_anatomy[cls]
      const perPosting = a && a.avg_postings > 0 ? fmtUs((r.mean_us * 1000) / a.avg_postings / 1000) : ''
      const target = size.size >= 100_000 ? pass(s.p50_us <= TARGETS.search_p50_100k_max_us) : '—'
      rows.push([fmtSize(size.size), cls, String(s.n), a ? fmtInt(a.avg_matching_docs) : '', a ? fmtInt(a.avg_postings) : '', fmtUs(s.p50_us), fmtUs(s.p99_us), fmtUs(s.mean_us), fmtUs(r.p50_us), fmtUs(r.p99_us), ratioCell(s.p50_us / r.p50_us), a ? fmtUs(a.postings_scan_p50_us) : '', perPosting, target])
    }
  }
  return table(['N', 'query class', 'queries', 'avg matching docs', 'avg postings', 'SDK p50', 'SDK p99', 'SDK mean', 'raw p50', 'raw p99', 'SDK/raw p50', 'bare postings scan p50', 'raw mean per posting', 'SDK p50 ≤ 1 ms at 100k'], rows, ['r', 'l'])
}

/** Why search takes what it takes, at the largest size. */
function searchDiagnosis(results: BenchResults): string {
  const size = results.sizes[results.sizes.length - 1]
  const sdk = size && variant(size, 'sdk', 'better-sqlite3')
  const raw = size && variant(size, 'raw', 'better-sqlite3')
  if (!size || !sdk || !raw) return ''
  const lines = [`At N = ${fmtSize(size.size)}:`, '']
  for (const cls of QUERY_CLASSES) {
    const a = size.search_anatomy[cls]
    const r = raw.search_by_class[cls]
    lines.push(
      `- **${cls}** queries read ${fmtInt(a.avg_postings)} postings on average (${fmtInt(a.avg_matching_docs)} matching memories). ` +
        `Raw SQL p50 ${fmtUs(r.p50_us)}, SDK p50 ${fmtUs(sdk.search_by_class[cls].p50_us)}; a bare scan of the same postings takes ${fmtUs(a.postings_scan_p50_us)}, ` +
        `so grouping, scoring and sorting every match costs ${fmtRatio(r.p50_us / a.postings_scan_p50_us)} the scan.` +
        (a.share_words_idf_floored > 0 ? ` ${Math.round(a.share_words_idf_floored * 100)}% of these query words occur in at least half of all memories, where BM25's idf is floored at 1e-6: they barely change the ranking but dominate the postings read.` : ''),
    )
  }
  lines.push(
    '',
    'The statement scores every memory that contains any query word before it can take the top 10, so latency grows with the postings of the ' +
      'query words, not with the result size: rare words are cheap at any size, common words cost in proportion to N. ' +
      'Ways to bring common-word queries down (for the SQL owners, not measured here): evaluate the words with idf ≤ 0 only when the ' +
      'informative words give fewer than `limit` hits (their contribution is ~1e-6 per document); cap or skip postings of words found in over half ' +
      'the namespace; or precompute per-term upper bounds for a WAND-style early exit.',
  )
  return lines.join('\n')
}

function limitTable(results: BenchResults): string {
  const rows: string[][] = []
  for (const size of results.sizes) {
    for (const [driver, classes] of Object.entries(size.bound_limit_experiment)) {
      if (!classes) {
        rows.push([fmtSize(size.size), driver, '—', 'SQL has no bound LIMIT', '', ''])
        continue
      }
      for (const cls of QUERY_CLASSES) {
        const e = classes[cls]
        rows.push([fmtSize(size.size), driver, cls, fmtUs(e.bound_p50_us), fmtUs(e.literal_p50_us), fmtUs(e.bound_p50_us - e.literal_p50_us)])
      }
    }
  }
  return table(['N', 'raw driver', 'query class', '`LIMIT ?` (as the SDK sends it)', '`LIMIT 10` literal', 'difference'], rows, ['r', 'l', 'l'])
}

function storeAnatomyTable(results: BenchResults): string {
  const rows: string[][] = []
  for (const size of results.sizes) {
    for (const [driver, anatomy] of Object.entries(size.store_anatomy)) {
      const a = anatomy.p50_us
      rows.push([fmtSize(size.size), driver, fmtUs(a.ensure_namespace), fmtUs(a.read_before_write), fmtUs(a.upsert_with_triggers), fmtUs(a.commit), fmtUs(a.total), fmtUs(anatomy.mean_us.total)])
    }
  }
  return table(['N', 'raw driver', 'ensureNamespace', 'readBeforeWrite', 'upsert + triggers (postings)', 'COMMIT (WAL append)', 'total p50', 'total mean'], rows, ['r', 'l'])
}

function decompositionTable(results: BenchResults): string {
  const rows = results.sizes.map((size) => {
    const d = size.store_decomposition
    return [fmtSize(size.size), fmtUs(d.sdk_store_p50_us), fmtUs(d.prepare_p50_us), fmtUs(d.raw_write_p50_us), fmtUs(d.prepare_plus_write_p50_us), fmtUs(d.sdk_store_p50_us - d.prepare_plus_write_p50_us)]
  })
  return table(['N', 'SDK `store`', 'SDK preparation alone', 'raw SQL alone', 'preparation + raw SQL', 'left for the SDK plumbing'], rows, ['r'])
}

const faster = (ratio: number): string => (ratio < 0.95 ? 'libsql' : ratio > 1.05 ? 'better-sqlite3' : 'tie (±5%)')

function driverComparison(results: BenchResults): { markdown: string; verdict: string } {
  const rows: string[][] = []
  const sdkRatios: number[] = []
  const rawRatios: number[] = []
  let footnote = false
  for (const size of results.sizes) {
    for (const side of ['sdk', 'raw'] as const) {
      const b = variant(size, side, 'better-sqlite3')
      const l = variant(size, side, 'libsql')
      if (!b || !l) continue
      for (const op of OPERATIONS) {
        const ratio = size.paired_libsql_to_better[side][op]
        ;(side === 'sdk' ? sdkRatios : rawRatios).push(ratio)
        const n = String(b.ops[op].n)
        rows.push([fmtSize(size.size), side.toUpperCase(), OP_LABEL[op], n, fmtUs(b.ops[op].p50_us), fmtUs(l.ops[op].p50_us), fmtUs(b.ops[op].p99_us), fmtUs(l.ops[op].p99_us), ratioCell(l.ops[op].p50_us / b.ops[op].p50_us), ratioCell(ratio), faster(ratio)])
      }
      if (b.fill && l.fill) {
        const ratio = b.fill.memories_per_s / l.fill.memories_per_s
        ;(side === 'sdk' ? sdkRatios : rawRatios).push(ratio)
        rows.push([fmtSize(size.size), side.toUpperCase(), '`storeBatch` throughput', String(size.size), fillCell(b.fill), fillCell(l.fill), '', '', ratioCell(ratio), ratioCell(ratio), faster(ratio)])
      } else {
        footnote = true
      }
    }
  }
  const cold = results.cold_start
  const bCold = cold?.by_driver['better-sqlite3']
  const lCold = cold?.by_driver.libsql
  if (cold && bCold && lCold) {
    const ratio = median(lCold.wall_ms) / median(bCold.wall_ms)
    sdkRatios.push(ratio)
    rows.push([fmtSize(cold.db_size), 'SDK', 'cold start (wall, median)', String(cold.runs), `${median(bCold.wall_ms).toFixed(0)} ms`, `${median(lCold.wall_ms).toFixed(0)} ms`, '', '', ratioCell(ratio), ratioCell(ratio), faster(ratio)])
  }
  let markdown = table(['N', 'side', 'operation', 'calls', 'better-sqlite3 p50', 'libsql p50', 'better-sqlite3 p99', 'libsql p99', 'libsql ÷ better-sqlite3 of p50s', 'libsql ÷ better-sqlite3 paired²', 'faster (paired, ±5%)'], rows, ['r', 'l', 'l'])
  markdown += '\n\n² Median over calls of (libsql time ÷ better-sqlite3 time) for the same call; throughput and cold start: ratio of the figures.'
  if (footnote) markdown += `\n\n¹ ${copiedNote(results)}`
  let verdict = 'not measured (run both drivers)'
  if (sdkRatios.length > 0) {
    const g = geomean(sdkRatios)
    const gr = rawRatios.length ? geomean(rawRatios) : Number.NaN
    const wins = (rs: number[], pred: (x: number) => boolean): number => rs.filter(pred).length
    const tally = `better-sqlite3 faster in ${wins(sdkRatios, (x) => x > 1.05)}, libsql in ${wins(sdkRatios, (x) => x < 0.95)}, tie in ${wins(sdkRatios, (x) => x >= 0.95 && x <= 1.05)} of ${sdkRatios.length} SDK rows`
    const winner = g > 1.05 ? 'better-sqlite3' : g < 0.95 ? 'libsql' : null
    verdict = winner
      ? `**Default driver: \`${winner}\`.** Over the SDK rows below, libsql takes ${fmtRatio(g)} the time of better-sqlite3 (geometric mean of the paired ratios; raw SQL: ${fmtRatio(gr)}); ${tally}.`
      : `**No clear winner**: over the SDK rows below libsql takes ${fmtRatio(g)} the time of better-sqlite3 (geometric mean of the paired ratios; raw SQL: ${fmtRatio(gr)}); ${tally}. Keep \`better-sqlite3\` as the default: same speed, newer bundled SQLite, plain row objects (libsql adds a \`_metadata\` key to every row).`
  }
  return { markdown, verdict }
}

/** Why each driver wins where it wins, from the diagnostics of the same run. */
function driverNotes(results: BenchResults): string {
  const first = results.sizes[0]
  const last = results.sizes[results.sizes.length - 1]
  if (!first || !last) return ''
  const lines: string[] = []
  const b = last.store_anatomy['better-sqlite3']?.p50_us
  const l = last.store_anatomy.libsql?.p50_us
  if (b && l) {
    lines.push(
      `- **Single \`store\`**: at ${fmtSize(last.size)}, a raw store takes ${fmtUs(b.total)} on better-sqlite3 and ${fmtUs(l.total)} on libsql (p50); ` +
        `upsert with its postings triggers ${fmtUs(b.upsert_with_triggers)} vs ${fmtUs(l.upsert_with_triggers)}, COMMIT ${fmtUs(b.commit)} vs ${fmtUs(l.commit)}. ` +
        `Same SQL and pragmas, so the difference is inside the two SQLite builds (3.53 with better-sqlite3's options vs 3.45); it is not isolated further here.`,
    )
  }
  const limitB = first.bound_limit_experiment['better-sqlite3']
  const limitL = first.bound_limit_experiment.libsql
  if (limitB && limitL) {
    const cells = results.sizes.flatMap((size) => {
      const eb = size.bound_limit_experiment['better-sqlite3']
      const el = size.bound_limit_experiment.libsql
      return eb && el ? QUERY_CLASSES.map((cls) => el[cls].literal_p50_us / eb[cls].literal_p50_us) : []
    })
    lines.push(
      `- **Search**: better-sqlite3 pays ${fmtUs(limitB.rare.bound_p50_us - limitB.rare.literal_p50_us)} per search for the bound \`LIMIT ?\` (rare words at ${fmtSize(first.size)}: ` +
        `${fmtUs(limitB.rare.bound_p50_us)} as sent, ${fmtUs(limitB.rare.literal_p50_us)} with \`LIMIT 10\`; libsql ${fmtUs(limitL.rare.bound_p50_us)} either way), which is what makes libsql look faster on small databases. ` +
        `With the limit written into the SQL, better-sqlite3 is faster in ${cells.filter((x) => x > 1.05).length}, libsql in ${cells.filter((x) => x < 0.95).length} of ${cells.length} size × class cells ` +
        `(libsql ÷ better-sqlite3 geometric mean ${fmtRatio(geomean(cells))}).`,
    )
  }
  const cold = results.cold_start
  const coldB = cold?.by_driver['better-sqlite3']
  const coldL = cold?.by_driver.libsql
  const sdkB = variant(last, 'sdk', 'better-sqlite3')
  const sdkL = variant(last, 'sdk', 'libsql')
  if (sdkB && sdkL) {
    lines.push(
      `- **\`retrieve\`**: better-sqlite3 ${fmtUs(sdkB.ops.retrieve.p50_us)} vs libsql ${fmtUs(sdkL.ops.retrieve.p50_us)} at ${fmtSize(last.size)} (SDK p50); ` +
        `libsql builds rows through a JavaScript iterator and adds a \`_metadata\` key to each.` +
        (coldB && coldL
          ? ` Opening is also slower: \`createLTM\` ${median(coldB.in_process.map((c) => c.create_ms ?? Number.NaN)).toFixed(0)} ms vs ${median(coldL.in_process.map((c) => c.create_ms ?? Number.NaN)).toFixed(0)} ms in the cold-start child.`
          : ''),
    )
  }
  return lines.join('\n')
}

function memoryTable(results: BenchResults): string {
  const rows: string[][] = []
  for (const size of results.sizes) {
    for (const [id, v] of Object.entries(size.variants)) {
      if (!v.fill) continue
      const a = v.fill.memory_after
      const b = v.fill.memory_before
      rows.push([fmtSize(size.size), id, fmtMiB(b.rss), fmtMiB(a.rss), fmtMiB(v.fill.max_rss_bytes), fmtMiB(b.heapUsed), fmtMiB(a.heapUsed), fmtMiB(a.external)])
    }
  }
  return table(['N', 'side:driver', 'RSS before fill', 'RSS after fill', 'peak RSS', 'heap used before', 'heap used after', 'external after'], rows, ['r', 'l'])
}

function coldTable(cold: ColdStartResult): string {
  const base = median(cold.baseline_wall_ms)
  const rows: string[][] = [['Node + tsx boot only (baseline)', `${base.toFixed(0)} ms`, '', '', '', '']]
  for (const [driver, d] of Object.entries(cold.by_driver)) {
    const m = (pick: (c: ColdResult) => number | undefined): string => `${median(d.in_process.map((c) => pick(c) ?? Number.NaN)).toFixed(1)} ms`
    rows.push([`SDK, driver ${driver}`, `${median(d.wall_ms).toFixed(0)} ms`, `${(median(d.wall_ms) - base).toFixed(0)} ms`, m((c) => c.import_ms), m((c) => c.create_ms), m((c) => c.first_retrieve_ms)])
  }
  return table(['child process', 'wall (median)', 'wall − baseline', 'import SDK', 'createLTM', 'first retrieve'], rows)
}

function microTable(results: BenchResults): string {
  const rows = results.micro.map((c) => [c.name, c.operation, fmtUs(c.ns_per_call / 1000), c.note])
  return table(['step', 'paid by', 'per call', 'note'], rows, ['l', 'l', 'r', 'l'])
}

/** Where the SDK's time over raw goes, at the largest size: the measured gap vs. the micro-costs. */
function overheadExplanation(results: BenchResults): string {
  const size = results.sizes[results.sizes.length - 1]
  if (!size) return ''
  const sdk = variant(size, 'sdk', 'better-sqlite3')
  const raw = variant(size, 'raw', 'better-sqlite3')
  if (!sdk || !raw) return ''
  const cost = (prefix: string): number => (results.micro.find((c) => c.name.startsWith(prefix))?.ns_per_call ?? 0) / 1000
  const prepare = cost('prepareWrite total')
  const batchPrepare = cost('prepareWrite of a 500-entry')
  const tokenize = cost('documentTerms')
  const regex = cost('regex tokenizer')
  const hash = cost('sha256Hex')
  const nodeHash = cost('sha256 via node:crypto')
  const storeGap = sdk.ops.store.p50_us - raw.ops.store.p50_us
  const retrieveGap = sdk.ops.retrieve.p50_us - raw.ops.retrieve.p50_us
  const searchGap = sdk.ops.search.p50_us - raw.ops.search.p50_us
  const share = (part: number, whole: number): string => (whole > 0 ? `${Math.round((100 * part) / whole)}%` : 'n/a')
  const d = size.store_decomposition
  const plumbing = d.sdk_store_p50_us - d.prepare_plus_write_p50_us
  const small = (x: number): boolean => Math.abs(x) < 0.1 * d.sdk_store_p50_us
  const lines = [
    `At N = ${fmtSize(size.size)} with better-sqlite3 (gaps are SDK p50 − raw p50; micro-costs from the table below, same run):`,
    '',
    `- **\`store\`** adds ${fmtUs(storeGap)}` +
      (small(plumbing)
        ? `, and practically all of it is the SDK's preparation of the memory. Decomposed below: SDK \`store\` ${fmtUs(d.sdk_store_p50_us)} ≈ preparation ${fmtUs(d.prepare_p50_us)} + raw SQL ${fmtUs(d.raw_write_p50_us)}; what is left for argument checks, result objects and promises (${fmtUs(plumbing)}) is within run-to-run noise. `
        : `. Decomposed below: SDK \`store\` ${fmtUs(d.sdk_store_p50_us)} = preparation ${fmtUs(d.prepare_p50_us)} + raw SQL ${fmtUs(d.raw_write_p50_us)} + ${fmtUs(plumbing)} of argument checks, result objects and promises. `) +
      `In a tight loop the preparation costs ${fmtUs(prepare)}, of which tokenizing with Intl.Segmenter is ${fmtUs(tokenize)} (a plain regex over the same text: ${fmtUs(regex)}) ` +
      `and SHA-256 through crypto.subtle ${fmtUs(hash)} (node:crypto, synchronous: ${fmtUs(nodeHash)}); interleaved with SQL it costs more (cold caches, a thread-pool round trip for the digest).`,
  ]
  if (sdk.fill && raw.fill) {
    const perMemory = 1e6 / sdk.fill.memories_per_s - 1e6 / raw.fill.memories_per_s
    lines.push(
      `- **\`storeBatch\`** adds ${fmtUs(perMemory)} per memory (${fmtRatio(raw.fill.memories_per_s / sdk.fill.memories_per_s)} the raw time). ` +
        `Preparing a 500-entry batch costs ${fmtUs(batchPrepare)} per memory in a tight loop (${share(batchPrepare, perMemory)} of the gap; interleaved with SQL it costs more, as the decomposition below shows for \`store\`). The SQL is identical, so the database time is the same.`,
    )
  }
  lines.push(
    `- **\`retrieve\`** adds ${fmtUs(retrieveGap)} on a ${fmtUs(raw.ops.retrieve.p50_us)} query: result shaping (JSON.parse of value and metadata, ISO dates) ` +
      `${fmtUs(cost('result shaping'))}, SQL text and statement-cache lookup, the async path. A fixed cost of a few µs cannot stay within ${TARGETS.sdk_over_raw_max}× of a query this cheap.`,
    `- **\`search\`**: paired SDK/raw ${fmtRatio(sdk.paired_ratio_to_raw?.search ?? Number.NaN)} (difference of p50s ${fmtUs(searchGap)}, a noisy figure for a mix of sub-ms and 100 ms queries). ` +
      `The SDK's own steps are query parsing ${fmtUs(cost('parseQuery'))}, SQL building ${fmtUs(cost('build search SQL'))} and shaping up to 10 rows (${fmtUs(10 * cost('result shaping'))}), ` +
      `so the ratio passes where the SQL takes milliseconds and fails on small databases, where the SQL is a few hundred µs. Search time is the SQL's own; see the next section.`,
  )
  return lines.join('\n')
}

/** The compile options that matter for these numbers. */
function buildFlags(options: string[]): string {
  const get = (name: string): string | undefined => options.find((o) => o === name || o.startsWith(`${name}=`))
  const cache = get('DEFAULT_CACHE_SIZE')?.split('=')[1]
  const cacheText = cache ? (Number(cache) < 0 ? `${-Number(cache) / 1000} MB page cache` : `${cache}-page cache`) : 'default page cache'
  return [get('ENABLE_STAT4') ? 'STAT4' : 'no STAT4', cacheText, get('TEMP_STORE') ?? 'TEMP_STORE default'].join(', ')
}

export function renderMarkdown(results: BenchResults): string {
  const m = results.machine
  const drivers = driverComparison(results)
  const sizes = results.sizes.map((s) => fmtSize(s.size)).join(', ')
  const identical = results.sizes.every((s) => s.results_identical)
  const parts = [
    '# Benchmarks',
    '',
    `_Generated by \`npm run bench\` on ${results.date} (${results.elapsed_s.toFixed(0)} s for the whole run). Full data: [\`bench/results/${results.date}.json\`](bench/results/${results.date}.json)._`,
    '',
    `Machine: ${m.cpu_model}, ${m.cpus} cores, ${fmtMiB(m.total_memory_bytes)} RAM, ${m.platform} ${m.release} (${m.arch}); Node ${m.node} (V8 ${m.v8}, ICU ${m.icu ?? '?'}); ` +
      `better-sqlite3 ${m.drivers['better-sqlite3'].version} (SQLite ${m.drivers['better-sqlite3'].sqlite}; ${buildFlags(m.drivers['better-sqlite3'].compile_options)}), ` +
      `libsql ${m.drivers.libsql.version} (SQLite ${m.drivers.libsql.sqlite}; ${buildFlags(m.drivers.libsql.compile_options)}). ` +
      `Load average at start ${m.load_average_start.map((x) => x.toFixed(2)).join(' / ')}, at end ${m.load_average_end.map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min).`,
    '',
    `Source fingerprint \`${results.source_fingerprint.slice(0, 12)}\` (sha256 of \`src/**/*.ts\`). Sizes: ${sizes} memories.`,
    '',
    '## Targets',
    '',
    targetsSummary(results),
    '',
    '## SDK vs raw SQL (better-sqlite3)',
    '',
    'Latency per call (p50 / p99 / mean) and the SDK/raw ratio. Raw runs the SDK\'s own SQL on the driver with precomputed inputs (see "How measured").',
    '',
    sdkVsRaw(results, 'better-sqlite3'),
    '',
    '### Where the SDK overhead goes',
    '',
    overheadExplanation(results),
    '',
    `\`store\` decomposed (better-sqlite3, ${results.sizes[0]?.store_decomposition.ops ?? 0} stores after the measurements, alternating): the SDK call against the SDK's own preparation (\`prepareWrite\`: validation, canonical JSON, tokenizing, hashing, terms JSON) followed by the raw SQL. p50 of each:`,
    '',
    decompositionTable(results),
    '',
    'A raw `store` split into its statements (p50 of each part, 300 stores after the measurements):',
    '',
    storeAnatomyTable(results),
    '',
    'Micro-costs of the SDK\'s own steps (per call, measured in the same run):',
    '',
    microTable(results),
    '',
    '## Search latency by query class (better-sqlite3)',
    '',
    `Classes by document frequency: rare words match well under 1% of memories, medium ones about 1-5%, common ones 5-90%. ` +
      `"avg matching docs" is the number of memories containing at least one query word. ` +
      `Top-10 results identical across all four variants: ${identical ? 'yes' : '**no**'}.`,
    '',
    searchByClass(results),
    '',
    searchDiagnosis(results),
    '',
    '### Bound vs literal LIMIT',
    '',
    'The same search statement with the limit bound as a parameter (what the SDK sends) and written as a literal, on each raw driver (median of the first 8 queries per class, 3 runs each). ' +
      'SQLite 3.47 started to let the query planner read a bound LIMIT value; a difference of about one statement preparation per call means the statement is re-planned whenever the parameter is bound, i.e. on every call.',
    '',
    limitTable(results),
    '',
    '## Driver: better-sqlite3 vs libsql',
    '',
    drivers.verdict,
    '',
    driverNotes(results),
    '',
    drivers.markdown,
    '',
    '## SDK vs raw SQL (libsql)',
    '',
    sdkVsRaw(results, 'libsql'),
    '',
    '## Cold start',
    '',
    results.cold_start
      ? `A fresh child process (\`node --import tsx\`) imports the SDK, runs \`createLTM\` on an existing ${fmtSize(results.cold_start.db_size)} database and does one \`retrieve\`. Median of ${results.cold_start.runs} runs; the baseline is the same child doing nothing. In-process columns are medians measured inside the child.\n\n${coldTable(results.cold_start)}`
      : '_not measured in this run_',
    '',
    '## Memory',
    '',
    'Measured in the child process that filled the database (storeBatch in batches of 500), after two forced GCs. RSS includes the native driver and SQLite\'s page cache, whose default differs by build: 16 MB in better-sqlite3\'s, 2 MB in libsql\'s.',
    '',
    memoryTable(results),
    '',
    '## How measured',
    '',
    howMeasured(results),
    '',
  ]
  // The remote and browser sections come from their own runs (npm run bench:remote, npm run
  // bench:browser): the newest remote-*.json and browser-*.json.
  const remote = remoteSectionFromNewestResults()
  if (remote) parts.push(remote, '')
  const browser = browserSectionFromNewestResults()
  if (browser) parts.push(browser, '')
  return parts.join('\n')
}

function targetsSummary(results: BenchResults): string {
  const rows: string[][] = []
  for (const size of results.sizes) {
    const sdk = variant(size, 'sdk', 'better-sqlite3')
    const raw = variant(size, 'raw', 'better-sqlite3')
    if (!sdk || !raw) continue
    const pairedRatio = (op: Operation): number => sdk.paired_ratio_to_raw?.[op] ?? sdk.ops[op].p50_us / raw.ops[op].p50_us
    const ratios = OPERATIONS.map((op) => `${op} ${fmtRatio(pairedRatio(op))}`)
    const all = OPERATIONS.map(pairedRatio)
    if (sdk.fill && raw.fill) {
      ratios.push(`storeBatch ${fmtRatio(raw.fill.memories_per_s / sdk.fill.memories_per_s)}`)
      all.push(raw.fill.memories_per_s / sdk.fill.memories_per_s)
    }
    const worst = Math.max(...all)
    rows.push([fmtSize(size.size), `SDK overhead ≤ ${TARGETS.sdk_over_raw_max}× raw (paired median ratio)`, ratios.join(', '), pass(worst <= TARGETS.sdk_over_raw_max)])
    if (size.size >= 100_000) {
      const byClass = QUERY_CLASSES.map((c) => `${c} ${fmtUs(sdk.search_by_class[c].p50_us)}`).join(', ')
      rows.push([fmtSize(size.size), 'search p50 ≤ 1 ms', `all ${fmtUs(sdk.ops.search.p50_us)}; ${byClass}`, pass(sdk.ops.search.p50_us <= TARGETS.search_p50_100k_max_us)])
    }
  }
  return table(['N', 'target', 'measured (better-sqlite3)', 'result'], rows, ['r', 'l', 'l', 'l'])
}

function howMeasured(results: BenchResults): string {
  const c = results.config
  return [
    `- **Database**: a new temporary file per size and variant, opened as the SDK opens it (WAL, \`synchronous = NORMAL\`, busy timeout 5 s). Never \`:memory:\`.`,
    `- **Corpus**: deterministic (seeded PRNG). Each memory is an agent-style sentence of 8-40 words drawn from a Zipf-distributed vocabulary (about 250 common English and agent words, then 4,000 rarer pseudo-words); 20% are objects \`{ text, source, tags }\`. Metadata \`{ type, priority, user }\`.`,
    `- **Fill / \`storeBatch\`**: each of the four variants (SDK or raw × better-sqlite3 or libsql) fills its own database with N memories in batches of ${c.batch_size}, in a fresh child process (\`--expose-gc\`) that also reports memory. Throughput counts only the time inside \`storeBatch\` (raw: inside BEGIN…COMMIT).${c.libsql_fill_max === null ? '' : ` ${copiedNote(results)}`}`,
    `- **Latency**: on the filled databases, ${c.store_ops} \`store\` calls (new keys), ${c.retrieve_ops} \`retrieve\` calls (random existing keys), ${c.search_queries} searches (drawn from a fixed list of 72 queries of 1-3 words, 24 per frequency class), ${c.filter_ops} searches with a metadata filter (alternately \`type = preference\` and \`user = user-7 AND priority >= 3\`) and ${c.filter_ops} filter-only listings (\`user = user-7 AND priority >= 3\`, newest 10). Each call timed alone with \`process.hrtime.bigint()\`, after a warm-up per operation and variant. The four variants run interleaved in ${c.rounds} rounds (rotating order), so background load affects them alike.`,
    `- **Raw**: the SQL the SDK sends, built with the SDK's own builders (\`src/sql/statements.ts\`, \`src/sql/search.ts\`) on the schema of \`src/sql/schema.ts\`, executed on the driver with a prepared-statement cache; a write is BEGIN; ensureNamespace; readBeforeWrite; upsertMemory; COMMIT, as the SDK does. Hash, terms JSON, SQL text and arguments are computed before timing, so raw is the database work alone and SDK/raw is the SDK's full overhead (validation, hashing, tokenizing, SQL building, result shaping, promises).`,
    `- **Cold start**: \`spawn(process.execPath, ['--import', 'tsx', 'bench/cold-child.ts', …])\`, wall time from spawn to exit, ${c.cold_runs} runs after one unmeasured run (warm OS file cache and tsx transform cache). The SDK is imported from \`src/\` through tsx, so the import column includes transpiling; a built package imports faster.`,
    `- **Caveats**: wall-clock numbers on a shared machine; compare ratios within a run rather than absolute times across runs. The load average above shows how busy the machine was.`,
    '',
    'Run it: `npm run bench` (1k, 10k, 100k), `npm run bench -- --quick` (1k only, does not touch this file), `npm run bench -- --sizes 1000,10000 --out DIR`.',
  ].join('\n')
}

/**
 * The "Browser (Chromium)" section of BENCHMARKS.md, rendered from a browser-<date>.json. Written
 * by `npm run bench:browser` between marker comments; `npm run bench` (bench/report.ts) puts it
 * back from the newest bench/results/browser-*.json when it regenerates the whole file.
 */
import type { QueryClass } from '../corpus.js'
import { markedSection, RESULTS_DIR } from '../marked-section.js'
import type { LatencySummary } from '../stats.js'
import { SEARCH_LIBS, type BrowserBenchResults, type OpenReport, type SearchLib, type SearchSizeResult } from './types.js'

const BROWSER = markedSection<BrowserBenchResults>({ id: 'browser-bench', command: 'npm run bench:browser', prefix: 'browser', render: (results) => renderBrowserSection(results) })
export const BROWSER_RESULTS_DIR = RESULTS_DIR
export const BROWSER_BEGIN = BROWSER.begin
export const BROWSER_END = BROWSER.end
export const browserResultsFile = BROWSER.resultsFile
export const newestBrowserResults = BROWSER.newest
export const browserSectionFromNewestResults = BROWSER.fromNewestResults
export const replaceBrowserSection = BROWSER.replace

// ---------------------------------------------------------------- formatting

const CLASSES: QueryClass[] = ['rare', 'medium', 'common']
const LIB_LABEL: Record<SearchLib, string> = { 'agent-ltm': 'agent-ltm', minisearch: 'MiniSearch', orama: 'Orama' }

const fmtUs = (us: number): string => {
  if (!Number.isFinite(us)) return 'n/a'
  const a = Math.abs(us)
  if (a >= 1_000_000) return `${(us / 1e6).toFixed(a >= 10_000_000 ? 1 : 2)} s`
  return a >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : a >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(a < 10 ? 1 : 0)} µs`
}
const fmtMs = (ms: number): string => fmtUs(ms * 1000)
const fmtRatio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(x >= 10 ? 0 : x >= 1 ? 1 : 2)}×` : 'n/a')
const fmtBytes = (bytes: number | null): string => {
  if (bytes === null || !Number.isFinite(bytes)) return 'n/a'
  const a = Math.abs(bytes)
  return a >= 1048576 ? `${(bytes / 1048576).toFixed(a >= 10 * 1048576 ? 0 : 1)} MiB` : a >= 1024 ? `${(bytes / 1024).toFixed(a >= 10 * 1024 ? 0 : 1)} KiB` : `${bytes} B`
}
const fmtSize = (n: number): string => (n >= 1000 ? `${n / 1000}k` : String(n))
const fmtInt = (x: number): string => Math.round(x).toLocaleString('en-US')
const fmtPct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : 'n/a')
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

function table(header: string[], rows: string[][], align: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => (align[i] === 'r' ? '---:' : ':---'))
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n')
}

// ---------------------------------------------------------------- sections

function searchLatencyTable(results: BrowserBenchResults): string {
  const rows: string[][] = []
  for (const size of results.search) {
    const cell = (lib: SearchLib, s: LatencySummary): string => `${fmtUs(s.p50_us)} / ${fmtUs(s.p99_us)}`
    const line = (label: string, matching: string, pick: (lib: SearchLib) => LatencySummary): string[] => {
      const ltm = pick('agent-ltm').p50_us
      return [
        fmtSize(size.size),
        label,
        matching,
        ...SEARCH_LIBS.map((lib) => cell(lib, pick(lib))),
        fmtRatio(ltm / pick('minisearch').p50_us),
        fmtRatio(ltm / pick('orama').p50_us),
      ]
    }
    rows.push(...CLASSES.map((cls) => line(cls, fmtInt(size.avg_matching_docs[cls]), (lib) => size.libs[lib].by_class[cls])))
    rows.push(line('**all**', '', (lib) => size.libs[lib].overall).map((c, i) => (i === 1 ? c : i >= 3 ? `**${c}**` : c)))
  }
  return table(
    ['N', 'query class', 'avg matching docs', 'agent-ltm p50 / p99', 'MiniSearch p50 / p99', 'Orama p50 / p99', 'agent-ltm ÷ MiniSearch (p50)', 'agent-ltm ÷ Orama (p50)'],
    rows,
    ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
  )
}

function buildTable(results: BrowserBenchResults): string {
  const rows: string[][] = []
  for (const size of results.search) {
    for (const lib of SEARCH_LIBS) {
      const b = size.libs[lib].build
      rows.push([
        fmtSize(size.size),
        LIB_LABEL[lib],
        `${(b.build_ms / 1000).toFixed(2)} s`,
        `${fmtInt(size.size / (b.build_ms / 1000))} docs/s`,
        b.open_ms === null ? '' : fmtMs(b.open_ms),
        fmtBytes(b.js_heap_delta_bytes),
        b.wasm_delta_bytes > 0 ? fmtBytes(b.wasm_delta_bytes) : '',
        b.database_bytes === null ? '' : fmtBytes(b.database_bytes),
      ])
    }
  }
  return table(['N', 'library', 'index all N texts', 'rate', 'open (empty, in memory)', 'JS heap growth', 'wasm memory growth', 'SQLite database'], rows, ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r'])
}

function overlapTable(results: BrowserBenchResults): string {
  const rows: string[][] = []
  for (const size of results.search) {
    for (const cls of CLASSES) {
      rows.push([fmtSize(size.size), cls, fmtPct(size.top10_overlap.minisearch[cls]), fmtPct(size.top10_overlap.orama[cls]), fmtPct(size.top10_overlap.minisearch_vs_orama[cls])])
    }
  }
  return table(['N', 'query class', 'MiniSearch ∩ agent-ltm', 'Orama ∩ agent-ltm', 'MiniSearch ∩ Orama'], rows, ['r', 'l', 'r', 'r', 'r'])
}

function matchCountsNote(results: BrowserBenchResults): string {
  return results.search
    .map((s) => {
      const libs = s.match_counts.libs.map((lib) => LIB_LABEL[lib]).join(', ')
      const verdict = s.match_counts.agree === s.match_counts.checked ? 'the same for all' : `**different** for ${s.match_counts.checked - s.match_counts.agree}: ${s.match_counts.mismatches.slice(0, 3).join('; ')}`
      return `at ${fmtSize(s.size)}, the number of matching memories (${libs}) is ${verdict} ${s.match_counts.checked} queries`
    })
    .join('; ')
}

function storeTable(results: BrowserBenchResults): string {
  const store = results.store
  if (!store) return '_not measured in this run_'
  const memory = store.variants.find((v) => v.variant === 'memory')
  const rows = store.variants.map((v) => [
    `\`${v.variant === 'memory' ? "persist: 'memory'" : `persist: 'indexeddb', durability: '${v.variant.split('-')[1]}'`}\``,
    fmtUs(v.store.p50_us),
    fmtUs(v.store.p99_us),
    fmtUs(v.store.max_us),
    fmtUs(v.store.mean_us),
    memory ? fmtRatio(v.store.p50_us / memory.store.p50_us) : '',
    String(v.compactions),
    v.compactions > 0 ? `${fmtMs(median(v.compaction_pauses_ms))} / ${fmtMs(Math.max(...v.compaction_pauses_ms))}` : '',
    fmtUs(v.store_with_compaction.p99_us),
  ])
  return table(['variant', 'store p50', 'p99', 'max', 'mean', 'p50 ÷ in memory', 'compactions', 'compaction pause median / max', 'store + its compaction, p99'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'])
}

/** Where a persisted write's time goes: the plain IndexedDB operations it makes, measured alone. */
function storeAnatomy(results: BrowserBenchResults): string {
  const store = results.store
  if (!store) return ''
  const probe = store.idb_probe
  const get = (label: string): LatencySummary | undefined => probe[label]
  const memory = store.variants.find((v) => v.variant === 'memory')
  const strict = store.variants.find((v) => v.variant === 'indexeddb-strict')
  const relaxed = store.variants.find((v) => v.variant === 'indexeddb-relaxed')
  const read = store.strict_raw_read
  const rows: string[][] = []
  if (memory) rows.push(['the store itself, in sql.js (`persist: \'memory\'` above)', fmtUs(memory.store.p50_us)])
  for (const [label, summary] of Object.entries(probe)) rows.push([`${label}${label.startsWith('append') ? ` (${fmtBytes(store.idb_probe_record_bytes)} record)` : ''}`, fmtUs(summary.p50_us)])
  // Where the stored 'current' record holds the image itself, the catch-up read fetches the image too.
  const imageInRead = read?.image_in_pointer === true
  if (read) rows.push([`this store's own \`snapshot\` 'current' record, read alone (${imageInRead ? `it holds the ${fmtBytes(read.image_bytes)} image` : `a pointer; the ${fmtBytes(read.image_bytes)} image is a record of its own`})`, fmtMs(read.pointer_ms)])
  const parts = [memory?.store.p50_us, get('Web Lock, uncontended')?.p50_us, get('read (catch-up: snapshot + log cursor)')?.p50_us, imageInRead ? read!.pointer_ms * 1000 : 0, get('append, strict')?.p50_us]
  const sum = parts.every((x) => x !== undefined) ? (parts as number[]).reduce((a, b) => a + b, 0) : Number.NaN
  if (strict) {
    rows.push(
      [`**sum: store + lock + catch-up read${imageInRead ? ' + the image in it' : ''} + strict append**`, `**${fmtUs(sum)}**`],
      ['measured strict store (p50)', fmtUs(strict.store.p50_us)],
      ['left over (not isolated: the steps interleaved, announcing the write to other tabs, larger stores)', fmtUs(strict.store.p50_us - sum)],
    )
  }
  const durability = strict && relaxed ? ` The durability setting changes only the append (${fmtUs(get('append, strict')?.p50_us ?? Number.NaN)} strict vs ${fmtUs(get('append, relaxed')?.p50_us ?? Number.NaN)} relaxed), so strict and relaxed stores differ by ${fmtUs(strict.store.p50_us - relaxed.store.p50_us)}.` : ''
  return [
    `Where a persisted store's time goes (p50 of each step, measured alone; the IndexedDB steps on a scratch database, ${Object.values(probe)[0]?.n ?? 0} of each, interleaved). Every write takes the Web Lock, catches up on other tabs' writes (a read of the snapshot record and the log after it), runs the SQL and appends its statements.${durability}`,
    '',
    table(['step', 'p50'], rows, ['l', 'r']),
  ].join('\n')
}

function persistenceTable(results: BrowserBenchResults): string {
  const base = results.persistence[0]
  const rows = results.persistence.map((p) => [
    fmtBytes(p.fill.stats.database_bytes),
    `${fmtInt(p.fill.memories)} × ${fmtBytes(p.pad_bytes)}, ${p.fill.seconds.toFixed(1)} s`,
    `${fmtBytes(p.fill.stats.image_bytes)} + ${fmtBytes(p.fill.stats.log_bytes_since_image)}`,
    p.raw_read ? `${fmtMs(p.raw_read.pointer_ms)}${p.raw_read.image_in_pointer ? ' (holds the image)' : ''}` : 'n/a',
    String(p.ops),
    fmtUs(p.store.p50_us),
    fmtUs(p.store.p99_us),
    fmtUs(p.store.max_us),
    base ? fmtRatio(p.store.p50_us / base.store.p50_us) : '',
    `${p.compactions}${p.compactions > 0 ? ` (max ${fmtMs(Math.max(...p.compaction_pauses_ms))})` : ''}`,
    p.forced_compaction_ms === null ? 'not reached' : fmtMs(p.forced_compaction_ms),
  ])
  return table(
    ['database', 'filled with (storeBatch)', 'stored image + log', "read of the 'current' record (every write's catch-up reads it)", 'single stores', 'store p50', 'p99', 'max', 'p50 ÷ smallest', 'compactions in those stores', 'one compaction of the whole database'],
    rows,
    ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  )
}

/** Whether the growth of the store's p50 with database size is the growth of the catch-up read. */
function persistenceDiagnosis(results: BrowserBenchResults): string {
  if (results.persistence.length < 2) return ''
  const small = results.persistence[0]!
  const large = results.persistence.at(-1)!
  const ratio = large.store.p50_us / small.store.p50_us
  const storeGrowthMs = (large.store.p50_us - small.store.p50_us) / 1000
  const readGrowthMs = large.raw_read && small.raw_read ? large.raw_read.pointer_ms - small.raw_read.pointer_ms : Number.NaN
  const sizes = `${fmtBytes(large.fill.stats.database_bytes)} as at ${fmtBytes(small.fill.stats.database_bytes)}`
  if (ratio < 1.5) {
    return (
      `A single store costs about the same at ${sizes} (${fmtRatio(ratio)} of the p50): a write appends only its own statements to the log, and the catch-up read before it fetches a small pointer record (${large.raw_read ? fmtMs(large.raw_read.pointer_ms) : 'n/a'} vs ${small.raw_read ? fmtMs(small.raw_read.pointer_ms) : 'n/a'}), not the image. ` +
      `What grows with the database is the compaction, which rewrites the whole image (due once the writes logged since the last one took as long to run as the last compaction took, or 10 ms per MiB of image before one was measured, or once the log reaches max(8 MiB, the image)): ${large.forced_compaction_ms === null ? 'n/a' : fmtMs(large.forced_compaction_ms)} at ${fmtBytes(large.fill.stats.database_bytes)}, ${small.forced_compaction_ms === null ? 'n/a' : fmtMs(small.forced_compaction_ms)} at ${fmtBytes(small.fill.stats.database_bytes)}.`
    )
  }
  const explained = large.raw_read?.image_in_pointer === true && Number.isFinite(readGrowthMs) && readGrowthMs > 0.5 * storeGrowthMs && readGrowthMs < 1.5 * storeGrowthMs
  return [
    `**A store is not independent of the database size here: ${fmtRatio(ratio)} slower at ${fmtBytes(large.fill.stats.database_bytes)} than at ${fmtBytes(small.fill.stats.database_bytes)}** (p50 ${fmtUs(large.store.p50_us)} vs ${fmtUs(small.store.p50_us)}), although the log entry it appends is the same size.`,
    explained
      ? ` The difference (${fmtMs(storeGrowthMs)}) is the time to read the \`snapshot\` 'current' record (${fmtMs(large.raw_read!.pointer_ms)} vs ${fmtMs(small.raw_read!.pointer_ms)}): before each write, \`PersistentExecutor\` catches up on other tabs through \`IndexedDbChangeLog.changesSince\`, which gets that record to learn the sequence number the image covers, and in this build the record holds the whole image, so every write reads and deserialises the image (about ${fmtMs(large.raw_read!.pointer_ms / ((large.raw_read!.image_bytes || 1) / 1048576))} per MiB here). ` +
        'Keeping the sequence number in a record of its own makes a write independent of the database size, as the log design intends.'
      : ` The catch-up read does not account for it (${fmtMs(readGrowthMs)} of ${fmtMs(storeGrowthMs)}); see the raw data.`,
  ].join('')
}

const med = (runs: OpenReport[], pick: (r: OpenReport) => number): number => median(runs.map(pick))

function coldTable(results: BrowserBenchResults): string {
  const rows: string[][] = []
  for (const c of results.cold_open) {
    for (const s of c.states) {
      const stats = s.reload[0]?.stats ?? s.restart[0]?.stats
      rows.push([
        fmtSize(c.size),
        s.state === 'compacted' ? 'compacted: image only' : `image + long log (${fmtInt(c.long_log.memories_in_log)} memories since)`,
        fmtBytes(stats?.image_bytes ?? null),
        `${fmtBytes(stats?.log_bytes_since_image ?? null)}${s.raw_read ? ` (${fmtInt(s.raw_read.log_entries)} entries)` : ''}`,
        s.state === 'long-log' ? `${fmtMs(c.long_log.log_replay_ms)} / ${fmtMs(med(s.reload, (r) => r.stats.log_replay_ms ?? Number.NaN))}` : '',
        s.restart.length ? fmtMs(med(s.restart, (r) => r.open_ms)) : '',
        `${fmtMs(med(s.reload, (r) => r.open_ms))}${s.reload.length !== results.config.cold_reload_runs ? ` (${s.reload.length} run)` : ''}`,
        fmtMs(med([...s.restart, ...s.reload], (r) => r.wasm_init_ms)),
        fmtMs(med(s.reload, (r) => r.first_search_ms)),
        s.raw_read ? `${fmtMs(s.raw_read.image_ms)} + ${fmtMs(s.raw_read.log_ms)}` : 'n/a',
      ])
    }
  }
  return table(
    ['N', 'stored state', 'image', 'log since image', 'log replay time: when written / measured by the open', 'open, first after a browser restart', `open, new page (median of ${results.config.cold_reload_runs})`, 'sql.js wasm init (once per page)', 'first search', 'plain IndexedDB read: image + log'],
    rows,
    ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  )
}

function coldNotes(results: BrowserBenchResults): string {
  const lines = results.cold_open.map((c) => {
    const longLog = c.states.find((s) => s.state === 'long-log')
    const compacted = c.states.find((s) => s.state === 'compacted')
    const openLong = longLog ? med(longLog.reload, (r) => r.open_ms) : Number.NaN
    const openCompacted = compacted ? med(compacted.reload, (r) => r.open_ms) : Number.NaN
    const replayAtOpen = longLog ? med(longLog.reload, (r) => r.stats.log_replay_ms ?? Number.NaN) : Number.NaN
    const l = c.long_log
    const fill = c.fill
    const pauses = fill.compaction_pauses_ms
    const pauseSum = pauses.reduce((a, b) => a + b, 0)
    const largest = pauses.length > 0 ? pauses.indexOf(Math.max(...pauses)) : -1
    const measured = fill.compaction_threshold_after_ms
    const fillText =
      `- ${fmtSize(c.size)}: the fill (\`storeBatch\` of ${fmtInt(results.config.cold_fill_batch)}, each followed by \`stats()\` until a compaction it made due was stored) took ${fill.seconds.toFixed(1)} s with ${fill.compactions} compaction${fill.compactions === 1 ? '' : 's'}` +
      (pauses.length > 0
        ? `, which took ${fmtMs(pauseSum)} of it (${fmtPct(pauseSum / 1000 / fill.seconds)}; each from the write resolving until \`stats()\` showed the new image: median ${fmtMs(median(pauses))}, longest ${fmtMs(pauses[largest]!)}, for an image of ${fmtBytes(fill.compaction_image_bytes[largest] ?? null)}). ` +
          `The executor's own measure of each (\`compaction_threshold_ms\` right after it, at least 50 ms) sums to ${fmtMs(measured.reduce((a, b) => a + b, 0))}, the last ${fmtMs(measured.at(-1) ?? Number.NaN)}. `
        : '. ') +
      `It ended with ${fmtBytes(fill.stats.log_bytes_since_image)} of log since the image${c.forced_compaction ? ` (a compaction was then forced: ${c.forced_compaction.writes} scratch writes)` : ''}.`
    const imageBytes = compacted?.reload[0]?.stats.image_bytes ?? Number.NaN
    const estimate = (imageBytes / 1048576) * 10
    const why = Math.abs(l.first_threshold_ms - estimate) < 0.05 ? `10 ms per MiB of the ${fmtBytes(imageBytes)} image` : l.first_threshold_ms === 50 ? 'the 50 ms minimum' : 'not the estimate from the image size'
    const first = l.steps[0]
    const firstText = first
      ? ` The page's first write (${first.memories === 1 ? 'one memory' : `${fmtInt(first.memories)} memories`}) logged ${fmtMs(first.log_replay_ms ?? Number.NaN)} of replay time${first.compacted ? ', which alone made a compaction due' : ''}.`
      : ''
    const compactionsText =
      l.compactions > 0
        ? ` ${l.compactions} compaction${l.compactions > 1 ? 's' : ''} ran while the log was being written; the log then started over after the new image, with the threshold at the compaction the page measured, ${fmtMs(l.threshold_ms)}.`
        : ''
    const logText =
      ` In a fresh page, where no compaction has been measured yet, the threshold was ${fmtMs(l.first_threshold_ms)} (${why}) and the byte bound ${fmtBytes(l.threshold_bytes)}.` +
      firstText +
      compactionsText +
      ` Warm, \`storeBatch\` logged ${fmtUs(l.replay_ms_per_memory * 1000)} of replay time and ${fmtBytes(l.log_bytes_per_memory)} per memory; the long log holds ${fmtInt(l.memories_in_log)} memories in ${l.entries} entries (batches of ${l.steps.slice(-l.entries).map((st) => fmtInt(st.memories)).join(', ')}): ${fmtMs(l.log_replay_ms)} of replay time (${fmtPct(l.log_replay_ms / l.threshold_ms)} of the ${fmtMs(l.threshold_ms)} threshold) and ${fmtBytes(l.log_bytes)} (${fmtPct(l.log_bytes / l.threshold_bytes)} of the byte bound)` +
      `${l.compacted ? '; **more compactions ran than the bench allows, so this is not the longest log**' : ''}. ` +
      `Opening with that log took ${fmtMs(openLong)} against ${fmtMs(openCompacted)} compacted (${fmtMs(openLong - openCompacted)} more; ${fmtRatio(openLong / openCompacted)}); the open measured ${fmtMs(replayAtOpen)} replaying the log (${fmtRatio(replayAtOpen / l.log_replay_ms)} the time the same writes took when written).`
    return fillText + logText
  })
  return lines.join('\n')
}

// ---------------------------------------------------------------- summary

function whatThisShows(results: BrowserBenchResults): string {
  const lines: string[] = []
  const largest = results.search.at(-1)
  const smallest = results.search[0]
  if (largest) {
    const p50 = (size: SearchSizeResult, lib: SearchLib, cls: QueryClass): number => size.libs[lib].by_class[cls].p50_us
    const perClass = CLASSES.map((cls) => `${cls} ${fmtUs(p50(largest, 'agent-ltm', cls))} / ${fmtUs(p50(largest, 'minisearch', cls))} / ${fmtUs(p50(largest, 'orama', cls))}`).join(', ')
    const ratios = (size: SearchSizeResult): string =>
      CLASSES.map((cls) => `${cls} ${fmtRatio(p50(size, 'agent-ltm', cls) / Math.min(p50(size, 'minisearch', cls), p50(size, 'orama', cls)))}`).join(', ')
    lines.push(
      `- **Search** at ${fmtSize(largest.size)} memories, p50 agent-ltm / MiniSearch / Orama: ${perClass}. Against the faster of the two in-memory libraries agent-ltm takes ${ratios(largest)} the time` +
        (smallest && smallest !== largest
          ? ` (at ${fmtSize(smallest.size)}: ${ratios(smallest)}; rare words there take ${fmtUs(p50(smallest, 'agent-ltm', 'rare'))} against ${fmtUs(p50(smallest, 'minisearch', 'rare'))}: one SQL statement through sql.js, plus the SDK's query parsing and result shaping, costs a few hundred µs even when a handful of memories match).`
          : '.') +
        ' All three read every posting of every query word and score all matches, so common words cost in proportion to N in each.',
    )
    const b = (lib: SearchLib) => largest.libs[lib].build
    lines.push(
      `- **Indexing** ${fmtSize(largest.size)} texts: agent-ltm ${(b('agent-ltm').build_ms / 1000).toFixed(1)} s, MiniSearch ${(b('minisearch').build_ms / 1000).toFixed(1)} s, Orama ${(b('orama').build_ms / 1000).toFixed(1)} s; memory held ${fmtBytes(b('agent-ltm').js_heap_delta_bytes)} (the ${fmtBytes(b('agent-ltm').database_bytes)} SQLite file sql.js keeps as a typed array, plus ${fmtBytes(b('agent-ltm').wasm_delta_bytes)} of wasm heap), ${fmtBytes(b('minisearch').js_heap_delta_bytes)} and ${fmtBytes(b('orama').js_heap_delta_bytes)}. ` +
        'agent-ltm builds a SQLite database with metadata, hashes and a postings table, and that database is what is persisted and reopened; MiniSearch and Orama must be rebuilt or deserialised on every page load.',
    )
  }
  const store = results.store
  const v = (name: string) => store?.variants.find((x) => x.variant === name)
  const strict = v('indexeddb-strict')
  const relaxed = v('indexeddb-relaxed')
  const memory = v('memory')
  if (strict && relaxed && memory) {
    const imageRead = store?.strict_raw_read?.image_in_pointer ? store.strict_raw_read.pointer_ms * 1000 : Number.NaN
    const idbShare = imageRead / (strict.store.p50_us - memory.store.p50_us)
    lines.push(
      `- **A persisted store** takes ${fmtUs(strict.store.p50_us)} (p50) with \`durability: 'strict'\` and ${fmtUs(relaxed.store.p50_us)} with \`'relaxed'\`, against ${fmtUs(memory.store.p50_us)} in memory (${fmtRatio(strict.store.p50_us / memory.store.p50_us)}). ` +
        `The durability flag changes little; ${idbShare >= 0.3 ? `re-reading the stored image before each write (${fmtUs(imageRead)} of it for a ${fmtBytes(store!.strict_raw_read!.image_bytes)} image) is the largest single part, with the Web Lock, the catch-up read and the append (below)` : 'the Web Lock, the catch-up read and the append each take a share (below)'}.`,
    )
  }
  if (results.persistence.length >= 2) {
    const small = results.persistence[0]!
    const large = results.persistence.at(-1)!
    const ratio = large.store.p50_us / small.store.p50_us
    lines.push(
      ratio >= 1.5
        ? `- **Persistence cost grows with the database, contrary to the log design**: a store at ${fmtBytes(large.fill.stats.database_bytes)} takes ${fmtRatio(ratio)} the time of one at ${fmtBytes(small.fill.stats.database_bytes)} (${fmtUs(large.store.p50_us)} vs ${fmtUs(small.store.p50_us)}), because every write reads the stored image record to learn its sequence number (diagnosis below). A compaction of the ${fmtBytes(large.fill.stats.database_bytes)} database took ${large.forced_compaction_ms === null ? 'n/a' : fmtMs(large.forced_compaction_ms)}.`
        : `- **The cost of a write hardly depends on the database size**: a store at ${fmtBytes(large.fill.stats.database_bytes)} takes ${fmtRatio(ratio)} the time of one at ${fmtBytes(small.fill.stats.database_bytes)} (p50 ${fmtUs(large.store.p50_us)} vs ${fmtUs(small.store.p50_us)}), because it appends only its own statements to the log. The size shows in the occasional compaction: rewriting the ${fmtBytes(large.fill.stats.database_bytes)} database took ${large.forced_compaction_ms === null ? 'n/a' : fmtMs(large.forced_compaction_ms)}, and it comes once the writes logged since the last one took about as long to run.`,
    )
  }
  const cold = results.cold_open.at(-1)
  const compacted = cold?.states.find((s) => s.state === 'compacted')
  const longLog = cold?.states.find((s) => s.state === 'long-log')
  if (cold && compacted && longLog) {
    const openCompacted = med(compacted.reload, (r) => r.open_ms)
    const openLong = med(longLog.reload, (r) => r.open_ms)
    const pauses = cold.fill.compaction_pauses_ms
    const pauseSum = pauses.reduce((a, b) => a + b, 0)
    lines.push(
      `- **Cold open** of ${fmtSize(cold.size)} memories: ${fmtMs(openCompacted)} from a compacted ${fmtBytes(compacted.reload[0]?.stats.image_bytes ?? null)} image (${fmtMs(med(compacted.restart, (r) => r.open_ms))} right after a browser restart), plus ${fmtMs(med(compacted.reload, (r) => r.wasm_init_ms))} once per page for sql.js's wasm. ` +
        `With the longest log the compaction policy allows (${fmtPct(cold.long_log.log_replay_ms / cold.long_log.threshold_ms)} of a ${fmtMs(cold.long_log.threshold_ms)} replay threshold: ${fmtInt(cold.long_log.memories_in_log)} memories, ${fmtBytes(cold.long_log.log_bytes)} of log) it takes ${fmtMs(openLong)} (${fmtRatio(openLong / openCompacted)} the compacted open). ` +
        `Filling the store with \`storeBatch\` of ${fmtInt(results.config.cold_fill_batch)} ran ${cold.fill.compactions} compaction${cold.fill.compactions === 1 ? '' : 's'}, ${fmtMs(pauseSum)} of the ${cold.fill.seconds.toFixed(1)} s fill.`,
    )
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------- the section

export function renderBrowserSection(results: BrowserBenchResults): string {
  const m = results.machine
  const page = results.browser.page
  const v = results.versions
  const file = browserResultsFile(results.date, results.quick)
  const rounds = Object.entries(results.config.search_rounds)
    .map(([n, r]) => `${r} at ${fmtSize(Number(n))}`)
    .join(' and ')
  const extraFlags = results.browser.args.filter((a) => a.startsWith('--enable-precise') || a.startsWith('--js-flags')).join(' ')
  return [
    '## Browser (Chromium)',
    '',
    `_Generated by \`npm run bench:browser\` on ${results.date} (${results.elapsed_s.toFixed(0)} s for the whole run). Full data: [\`bench/results/${file}\`](bench/results/${file})._`,
    '',
    `Chromium ${results.browser.version} (headless) on ${m.cpu_model}, ${m.cpus} cores; load average at start ${m.load_average_start.join(' / ')}, at end ${m.load_average_end.join(' / ')}. ` +
      `The page runs the built \`dist/index.browser.js\` (built ${results.dist_built_at.replace('T', ' ').slice(0, 16)} UTC${results.dist_older_than_src ? ', **older than src/**' : ''}; source fingerprint \`${results.source_fingerprint.slice(0, 12)}\`) on sql.js ${v['sql.js']}, beside MiniSearch ${v.minisearch} and Orama ${v['@orama/orama']}. ` +
      `Times are \`performance.now()\` in the page, ${page.cross_origin_isolated ? 'which is cross-origin isolated' : '**not** cross-origin isolated'} (${page.timer_resolution_us} µs resolution).`,
    '',
    '**What this shows**',
    '',
    whatThisShows(results),
    '',
    '### Search: agent-ltm vs MiniSearch vs Orama',
    '',
    `The same texts (the value text of the memories of \`bench/corpus.ts\`) indexed by each library in one page, and the same 72 queries of 1-3 words (24 per class; the class is the words' document frequency). ` +
      `agent-ltm runs with \`persist: 'memory'\`, so only search is measured. A round times every query once per library, the libraries rotating; rounds: ${rounds}, after one untimed warm-up pass. Each call returns the top 10.`,
    '',
    searchLatencyTable(results),
    '',
    '**Like with like.** All three are configured for exact-word OR search ranked by BM25 with k1 = 1.2, b = 0.75 and no BM25+ term: MiniSearch with `combineWith: \'OR\'`, `prefix: false`, `fuzzy: false`, `bm25: { k: 1.2, b: 0.75, d: 0 }` (its default b is 0.7, d 0.5); Orama with `tolerance: 0`, `threshold: 1` (all matches), `relevance: { k: 1.2, b: 0.75, d: 0 }`, no stemming or stop words, and its index component\'s `exact` flag forced on: by default Orama expands every word as a prefix (`a` matches `about`), and its search-level `exact: true` adds a case-sensitive filter that keeps only texts containing all the words. ' +
      `The three tokenise this ASCII corpus into the same terms: ${matchCountsNote(results)}. Their rankings differ by design:`,
    '',
    '- agent-ltm uses FTS5\'s idf, `ln((N − n + 0.5) / (n + 0.5))` floored at 1e-6, so a word in more than half the memories adds almost nothing and its matches tie; MiniSearch and Orama use `ln(1 + (N − n + 0.5) / (n + 0.5))`, always positive.',
    '- MiniSearch multiplies a document\'s score by the number of query words it contains. Orama deduplicates a text\'s words before indexing, so its term frequency is 1 / (distinct words in the text) for every word: repeats do not count and short texts win.',
    '- MiniSearch returns every match, sorted (the top 10 are sliced off in the timed call); Orama sorts every match and returns the top 10 and the count; agent-ltm\'s SQL scores every match and keeps the top 10 inside SQLite.',
    '',
    'Share of agent-ltm\'s top 10 that the other library also returns (mean over each class\'s queries; equal scores are ordered differently by each library):',
    '',
    overlapTable(results),
    '',
    'Index build and the memory it holds. JS heap: `performance.memory.usedJSHeapSize` after forced GCs (precise with `--enable-precise-memory-info`); it counts typed arrays, so it includes the SQLite file that sql.js keeps in its in-memory file system. WebAssembly memory is not in it and is shown apart (sql.js\'s heap, allocated when it starts):',
    '',
    buildTable(results),
    '',
    '### Store latency: IndexedDB durability',
    '',
    results.store
      ? `Single \`store\` of a new corpus memory into stores holding ${fmtInt(results.store.prefill)} memories, ${results.store.ops} per variant after ${results.store.warmup} warm-up stores, the variants alternating in blocks of ${results.store.block}. Each store is followed by a \`stats()\` call, timed apart; when the store made a compaction due (it runs after the store resolved), \`stats()\` is called again until the new image is stored, and that time is the compaction pause.`
      : '',
    '',
    storeTable(results),
    '',
    storeAnatomy(results),
    '',
    '### Persistence cost by database size',
    '',
    `Stores persisted to IndexedDB (\`durability: 'strict'\`), filled with \`storeBatch\` of corpus memories carrying ${fmtBytes(results.persistence[0]?.pad_bytes ?? 0)} of padding in their metadata (stored, not indexed) until the database reaches the target; then single stores of ordinary memories, each followed by timed \`stats()\` calls as above. The last column is one compaction forced at the end (a scratch memory with 1 MB of padding written and deleted in one transaction until the log passes its threshold) and timed the same way.`,
    '',
    persistenceTable(results),
    '',
    persistenceDiagnosis(results),
    '',
    '### Cold open',
    '',
    `\`createLTM({ persist: 'indexeddb' })\` on a store filled with N corpus memories, in two states: compacted (the image and no log: mostly image load), and with the longest log the compaction policy allows. Compaction is due once the replay time of the writes logged since the image (\`stats().log_replay_ms\`, their SQL time when written) reaches \`compaction_threshold_ms\` (the last measured compaction, at least 50 ms; 10 ms per MiB of image in a page that has not compacted yet), or once the log's bytes reach max(8 MiB, the image): the long log is memories N, N + 1, … added with \`storeBatch\` in a fresh page towards ${Math.round(results.config.cold_long_log_fraction * 100)}% of the nearer bound (one memory, then 20, then batches that each fill 80% of the room left, until less than 10 memories' or 3% of the log's worth is left; the notes below give where it stopped). ` +
      `Each open runs in a fresh page, after \`createLTM({ persist: 'memory' })\` has loaded sql.js's wasm in that page (shown apart); ${results.config.cold_restart_runs} open right after a browser restart on the same profile, then new pages of the running browser. "First search" is one medium-class query right after opening. The last column reads the same records with plain IndexedDB calls, without sql.js.`,
    '',
    coldTable(results),
    '',
    coldNotes(results),
    '',
    '### How measured (browser)',
    '',
    `- Debian's Chromium (\`/usr/bin/chromium\`) through playwright-core with the flags of \`e2e/browser.ts\` plus \`${extraFlags}\`, on a temporary profile removed afterwards. The page is served from 127.0.0.1 with \`Cross-Origin-Opener-Policy: same-origin\` and \`Cross-Origin-Embedder-Policy: require-corp\`: cross-origin isolated, Chromium gives \`performance.now()\` 5 µs resolution (100 µs otherwise).`,
    '- The page (`bench/browser/bench.page.ts`) is bundled with esbuild against the built `dist/index.browser.js`, as `e2e/page-bundle.ts` does, with MiniSearch and Orama; the wasm is the one the package ships. Every step is one `page.evaluate`; each search size, the store test, each persistence size and each open gets a fresh page.',
    '- Each call is timed alone, `await` included for all three libraries. p50 and p99 are nearest-rank percentiles. Wall-clock times on a shared 2-core machine: compare within a run, not across runs.',
    '',
    'Run it: `npm run build && npm run bench:browser` (about 3 minutes); `npm run bench:browser -- --quick` (1k and 10k, 1 MB only) writes `browser-<date>-quick.json` and leaves this file alone.',
  ].join('\n')
}

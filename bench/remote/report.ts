/**
 * The "Remote backends (loopback)" section of BENCHMARKS.md, rendered from a remote-<date>.json.
 * Written by `npm run bench:remote` between marker comments; `npm run bench` (bench/report.ts) puts
 * it back from the newest bench/results/remote-*.json when it regenerates the whole file.
 */
import { markedSection } from '../marked-section.js'
import { median } from '../stats.js'
import {
  BACKENDS,
  COUNTED_OPS,
  ONE_REQUEST_OPS,
  REMOTE_BACKENDS,
  TIMED_OPS,
  type Backend,
  type CallCost,
  type CountedOp,
  type RemoteBackend,
  type RemoteBenchResults,
  type TimedOp,
} from './types.js'

export const REMOTE = markedSection<RemoteBenchResults>({
  id: 'remote-bench',
  command: 'npm run bench:remote',
  prefix: 'remote',
  render: renderRemoteSection,
  insertBefore: ['<!-- browser-bench:begin'],
})

/** The marked remote section from the newest remote-*.json, or '' when there is none (for bench/report.ts). */
export const remoteSectionFromNewestResults = (dir?: string): string => REMOTE.fromNewestResults(dir)

// ---------------------------------------------------------------- formatting

const LABEL: Record<Backend, string> = {
  sqlite: 'embedded sqlite',
  turso: 'turso',
  'd1-rest': 'd1 REST',
  'd1-binding': 'd1 binding',
  postgres: 'postgres',
  supabase: 'supabase',
  firestore: 'firestore',
}
/** What a request count counts, per backend (see CallCost). */
const UNIT: Record<RemoteBackend, string> = {
  turso: 'HTTP requests',
  'd1-rest': 'HTTP requests',
  'd1-binding': '`batch()` calls',
  postgres: 'pg queries',
  supabase: 'HTTP requests',
  firestore: 'HTTP requests',
}
/** The remote backends a results file has (--quick and files written before postgres, supabase and firestore have fewer). */
const present = (results: RemoteBenchResults): RemoteBackend[] => REMOTE_BACKENDS.filter((b) => results.counts[b])
type Config = RemoteBenchResults['config']
const opLabel = (op: CountedOp, cfg: Config): string =>
  ({
    store: '`store` (new key)',
    retrieve: '`retrieve`',
    delete: '`delete`',
    search: '`search` (1-3 words)',
    search_filter: '`search` + metadata filter',
    store_batch: `\`storeBatch\` of ${cfg.batch_size}`,
    retrieve_batch: `\`retrieveBatch\` of ${cfg.retrieve_batch_size}`,
    transaction: '`transaction`: store + retrieve + delete',
  })[op]
const timedLabel = (op: TimedOp, cfg: Config): string => (op === 'store_batch' ? opLabel(op, cfg) : `\`${op}\``)

const fmtUs = (us: number): string => {
  if (!Number.isFinite(us)) return 'n/a'
  const a = Math.abs(us)
  if (a >= 1_000_000) return `${(us / 1e6).toFixed(2)} s`
  return a >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : a >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(a < 10 ? 1 : 0)} µs`
}
const fmtRatio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(x >= 10 ? 0 : x >= 1 ? 1 : 2)}×` : 'n/a')
const fmtBytes = (bytes: number | null): string => {
  if (bytes === null || !Number.isFinite(bytes)) return 'n/a'
  const a = Math.abs(bytes)
  return a >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MiB` : a >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${Math.round(bytes)} B`
}
const fmtInt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a')
const list = (items: string[]): string => (items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`)

function table(header: string[], rows: string[][], align: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => (align[i] === 'r' ? '---:' : ':---'))
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n')
}

/** "1" when every call took the same, else "min–max". */
function countCell(calls: CallCost[]): string {
  const values = calls.map((c) => c.requests)
  if (values.length === 0) return 'n/a'
  const lo = Math.min(...values)
  const hi = Math.max(...values)
  return lo === hi ? String(lo) : `${lo}–${hi}`
}

const meets = (calls: CallCost[]): boolean => calls.length > 0 && calls.every((c) => c.requests === 1)

/** Backends where `op` missed one request per call. */
function misses(results: RemoteBenchResults, op: CountedOp): RemoteBackend[] {
  return present(results).filter((b) => !meets(results.counts[b].ops[op]))
}

// ---------------------------------------------------------------- tables

function requestsTable(results: RemoteBenchResults): string {
  const rows: string[][] = []
  const backends = present(results)
  const open = (which: 'new_database' | 'existing_database', label: string): void => {
    rows.push([label, ...backends.map((b) => String(results.counts[b].open[which].requests)), 'no target'])
  }
  open('new_database', 'open (`createLTM`), empty database')
  open('existing_database', 'open (`createLTM`), existing database')
  for (const op of COUNTED_OPS) {
    const target = ONE_REQUEST_OPS.includes(op)
    const missed = misses(results, op)
    const verdict = !target ? 'no target' : missed.length === 0 ? 'met' : `**not met** (${missed.map((b) => LABEL[b]).join(', ')})`
    rows.push([opLabel(op, results.config), ...backends.map((b) => countCell(results.counts[b].ops[op])), target ? `1 per call: ${verdict}` : verdict])
  }
  return table(['operation', ...backends.map((b) => `${LABEL[b]} (${UNIT[b]})`), 'target'], rows, ['l', ...backends.map(() => 'r' as const), 'l'])
}

function bytesTable(results: RemoteBenchResults): string {
  const http = ['turso', 'd1-rest'] as const
  const cell = (calls: CallCost[]): string => {
    const sent = median(calls.map((c) => c.bytes_sent ?? Number.NaN))
    const received = median(calls.map((c) => c.bytes_received ?? Number.NaN))
    return `${fmtBytes(sent)} / ${fmtBytes(received)}`
  }
  const rows = COUNTED_OPS.map((op) => [opLabel(op, results.config), ...http.map((b) => cell(results.counts[b].ops[op]))])
  rows.unshift(['open, existing database', ...http.map((b) => cell([results.counts[b].open.existing_database]))])
  return table(['operation', 'turso: sent / received', 'd1 REST: sent / received'], rows, ['l', 'r', 'r'])
}

function latencyTable(results: RemoteBenchResults): string {
  const rows: string[][] = []
  for (const op of TIMED_OPS) {
    const base = results.latency.sqlite?.[op]
    for (const backend of BACKENDS) {
      const r = results.latency[backend]?.[op]
      if (op === 'store_batch' && (backend === 'd1-binding' || backend === 'firestore') && !r && results.counts[backend]) {
        const prefill = results.counts[backend].ops.store_batch.map((c) => fmtUs(c.ms * 1000))
        rows.push([timedLabel(op, results.config), LABEL[backend], 'not timed', `prefill call${prefill.length === 1 ? '' : 's'}: ${prefill.join(', ')}`, '', '', ''])
        continue
      }
      if (!r || !base) continue
      const remote = backend !== 'sqlite'
      rows.push([
        timedLabel(op, results.config),
        backend === 'd1-binding' ? 'd1 binding (from Node, through miniflare)' : LABEL[backend],
        String(r.n),
        fmtUs(r.p50_us),
        fmtUs(r.p99_us),
        remote ? fmtRatio(r.p50_us / base.p50_us) : '1×',
        remote ? fmtRatio(r.p99_us / base.p99_us) : '1×',
      ])
    }
  }
  return table(['operation', 'backend', 'calls', 'p50', 'p99', 'p50 vs embedded', 'p99 vs embedded'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r'])
}

function rawTable(results: RemoteBenchResults): string {
  const rows = results.raw.map((r) => [
    LABEL[r.backend],
    timedLabel(r.op, results.config),
    fmtUs(r.sdk.p50_us),
    fmtUs(r.raw.p50_us),
    fmtUs(r.sdk.p50_us - r.raw.p50_us),
    fmtRatio(r.sdk.p50_us / r.raw.p50_us),
    fmtRatio(r.paired_ratio),
    `${fmtUs(r.sdk.p99_us)} / ${fmtUs(r.raw.p99_us)}`,
  ])
  return table(['backend', 'operation', 'SDK p50', 'raw p50', 'SDK − raw (p50)', 'SDK / raw (p50)', 'SDK / raw (paired median)', 'p99 SDK / raw'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'])
}

// ---------------------------------------------------------------- summary

const LABEL_OF = (b: Backend): string => LABEL[b]
function unitNote(results: RemoteBenchResults): string {
  const byUnit = new Map<string, string[]>()
  for (const b of present(results)) byUnit.set(UNIT[b], [...(byUnit.get(UNIT[b]) ?? []), LABEL[b]])
  return [...byUnit].map(([unit, backends]) => `${unit} on ${list(backends)}`).join('; ')
}

function whatThisShows(results: RemoteBenchResults): string {
  const lines: string[] = []
  const c = results.counts
  const missed = ONE_REQUEST_OPS.flatMap((op) =>
    misses(results, op).map((b) => {
      const detail = c[b].ops[op][0]?.detail ?? []
      return `${opLabel(op, results.config)} on ${LABEL[b]} (${countCell(c[b].ops[op])}${detail.length > 0 ? `: ${detail.map((d) => `\`${d}\``).join(' then ')}` : ''})`
    }),
  )
  lines.push(
    missed.length === 0
      ? `- **Requests: target met.** Every single operation (\`store\`, \`retrieve\`, \`delete\`, \`search\` with and without a metadata filter) and both batches (${opLabel('store_batch', results.config)}, ${opLabel('retrieve_batch', results.config)}) took exactly 1 request on ${list(present(results).map(LABEL_OF))} (${unitNote(results)}), in every call counted.`
      : `- **Requests: target not met** for ${list(missed)}; every other single operation and batch took exactly 1 request.`,
  )
  const openCounts = (which: 'new_database' | 'existing_database'): string => present(results).map((b) => `${c[b].open[which].requests} (${LABEL[b]})`).join(', ')
  const probes = c.turso.open.version_probes
  lines.push(
    `- **Opening a handle** took ${openCounts('new_database')} on an empty database and ${openCounts('existing_database')} on one that has the schema` +
      (present(results).every((b) => c[b].open.new_database.requests === 2 && c[b].open.existing_database.requests === 2)
        ? ': the schema check, then the schema creation or the version read, one round trip each (what each request carried is listed under the table). '
        : '. ') +
      (probes === 0
        ? `@libsql/client ${results.versions['@libsql/client']} sent no version probe: no GET request reached the Hrana server in the whole run.`
        : `@libsql/client ${results.versions['@libsql/client']} sent ${probes} GET request${probes === 1 ? '' : 's'} (version probe) to the Hrana server in the whole run.`),
  )
  const tx = (b: RemoteBackend): string => {
    const first = c[b].ops.transaction[0]
    return `${countCell(c[b].ops.transaction)} on ${LABEL[b]}${first && first.detail.length > 0 ? ` (${first.detail.map((d) => d.replace(/^POST (\/v2\/pipeline )?/, '')).join('; ')})` : ''}`
  }
  lines.push(`- **A transaction** with a store, a retrieve and a delete (no target) took ${list(present(results).map(tx))}.`)

  const p50 = (backend: Backend, op: TimedOp): number => results.latency[backend]?.[op]?.p50_us ?? Number.NaN
  const versus = (op: TimedOp): string =>
    present(results).filter((b) => Number.isFinite(p50(b, op)))
      .map((b) => `${fmtUs(p50(b, op))} on ${LABEL[b]} (${fmtRatio(p50(b, op) / p50('sqlite', op))})`)
      .join(', ')
  lines.push(
    `- **Latency over loopback** (p50, ratio to the embedded backend): \`store\` ${versus('store')} against ${fmtUs(p50('sqlite', 'store'))} embedded; ` +
      `\`retrieve\` ${versus('retrieve')} against ${fmtUs(p50('sqlite', 'retrieve'))}; \`search\` ${versus('search')} against ${fmtUs(p50('sqlite', 'search'))}; ` +
      `${opLabel('store_batch', results.config)} ${versus('store_batch')} against ${fmtUs(p50('sqlite', 'store_batch'))}. No network is crossed: these are the client, the server and the database on one machine.`,
  )
  lines.push(bindingNote(results))
  if (results.firestore_emulator) lines.push(firestoreEmulatorNote(results))
  const raw = results.raw.map((r) => `${LABEL[r.backend]} \`${r.op}\` ${fmtRatio(r.sdk.p50_us / r.raw.p50_us)} (${fmtUs(r.sdk.p50_us)} vs ${fmtUs(r.raw.p50_us)}; paired median ${fmtRatio(r.paired_ratio)})`)
  lines.push(`- **SDK vs the raw driver** sending the same statements in the same batches, p50: ${list(raw)}.`)
  const t = results.transport
  const mismatched = (['turso', 'd1-rest', 'firestore'] as const).filter((b) => c[b]).filter((b) =>
    [c[b].open.new_database, c[b].open.existing_database, ...Object.values(c[b].ops).flat()].some((x) => x.transport_requests !== x.requests),
  )
  lines.push(
    `- **Counts agree**: ${mismatched.length === 0 ? `the SDK's transport (\`onRequest\`) reported the same number of requests as the server logged${c.firestore ? ' (turso, d1 REST) or fetch saw going to the emulator (firestore)' : ''} for every counted call` : `**the SDK's transport and the server's log disagree** on ${mismatched.map((b) => LABEL[b]).join(', ')}`}; ` +
      `the timed handles' transports counted ${t.turso.retries + t['d1-rest'].retries} retries and ${t.turso.failures + t['d1-rest'].failures} failures over ${fmtInt(t.turso.requests)} (turso) and ${fmtInt(t['d1-rest'].requests)} (d1 REST) requests.`,
  )
  return lines.join('\n')
}

/** Statements of the first counted call of `op` on d1 REST, from the server's log (`POST 3 statements`). */
function statementsOf(results: RemoteBenchResults, op: CountedOp): number {
  return Number(/(\d+) statements?/.exec(results.counts['d1-rest'].ops[op][0]?.detail[0] ?? '')?.[1] ?? Number.NaN)
}

function bindingNote(results: RemoteBenchResults): string {
  const p = results.binding_proxy
  const perStatement = p.prepare_ms + p.bind_ms
  const store = statementsOf(results, 'store')
  const batch = statementsOf(results, 'store_batch')
  const storeP50 = results.latency['d1-binding']?.store?.p50_us ?? Number.NaN
  const prefill = results.counts['d1-binding'].ops.store_batch.map((c) => c.ms)
  return (
    `- **The D1 binding is measured from Node, through miniflare's proxy into workerd** (\`getD1Database\`), where every \`prepare()\` and \`bind()\` is a call into another process: ${fmtUs(p.prepare_ms * 1000)} and ${fmtUs(p.bind_ms * 1000)} per call here (mean of ${p.calls}), and a \`batch()\` of one prepared statement ${fmtUs(p.batch_of_one_ms * 1000)}. ` +
    `The SDK prepares and binds every statement of a batch. A \`store\` sends ${store} statements: at those costs ${fmtUs(store * perStatement * 1000)} of such calls, against a measured p50 of ${fmtUs(storeP50)}. A ${opLabel('store_batch', results.config)} sends ${fmtInt(batch)}: about ${fmtUs(batch * perStatement * 1000)} at those costs, and the prefill calls took ${list(prefill.map((ms) => fmtUs(ms * 1000)))}, so it was left out of the timed \`storeBatch\` runs. ` +
    'These are not the times of a binding inside a Worker, which this bench does not measure; its request counts are.'
  )
}

function firestoreEmulatorNote(results: RemoteBenchResults): string {
  const e = results.firestore_emulator!
  const search = results.latency.firestore?.search?.p50_us ?? Number.NaN
  return (
    `- **Firestore search time here is the emulator's scan.** On the bench collection (${fmtInt(e.documents)} documents), raw queries (median of ${e.runs}, only \`key\` selected) took ${fmtUs(e.key_equality_ms * 1000)} for an equality on \`key\`, ${fmtUs(e.array_contains_ms * 1000)} for \`terms\` array-contains one rare word (\`${e.words[0]}\`) and ${fmtUs(e.array_contains_any_ms * 1000)} for array-contains-any of three (\`${e.words.slice(1).join(' ')}\`), whatever few documents match: the emulator evaluates array-contains by scanning, one pass per word. ` +
    `The SDK's search is one such query (beside a statistics read), so its p50 of ${fmtUs(search)} is mostly that scan. Production Firestore serves array-contains-any from an index; its search latency is not measured here.`
  )
}

// ---------------------------------------------------------------- search parity

const fmtDiff = (x: number): string => (x === 0 ? '0' : x.toExponential(1))

function parityTable(results: RemoteBenchResults): string {
  const p = results.parity
  const n = p.queries.length
  const rows = present(results)
    .filter((b) => p.backends[b])
    .map((b) => {
      const r = p.backends[b]!
      const hits = r.per_query.reduce((sum, q) => sum + q.keys.length, 0)
      return [LABEL[b], `${(r.overlap_mean * 100).toFixed(r.overlap_mean === 1 ? 0 : 1)}%`, `${r.same_order} / ${n}`, fmtDiff(r.max_score_diff), String(hits)]
    })
  return table(['backend', `top-${p.limit} overlap with sqlite (mean)`, 'same keys, same order', 'max abs. score difference', 'hits'], rows, ['l', 'r', 'r', 'r', 'r'])
}

function parityText(results: RemoteBenchResults): string {
  const p = results.parity
  const n = p.queries.length
  const classes = (['rare', 'medium', 'common'] as const).map((cls) => {
    const idx = p.queries.flatMap((q, i) => (q.class === cls ? [i] : []))
    const hits = idx.reduce((sum, i) => sum + p.sqlite_hits[i]!, 0)
    return `${idx.length} ${cls} (${hits} hit${hits === 1 ? '' : 's'})`
  })
  const filtered = p.queries.filter((q) => q.filter !== null).length
  const compared = present(results).filter((b) => p.backends[b])
  const identical = compared.filter((b) => p.backends[b]!.overlap_mean === 1 && p.backends[b]!.same_order === n)
  const differing = compared.filter((b) => !identical.includes(b))
  const maxDiff = Math.max(0, ...identical.map((b) => p.backends[b]!.max_score_diff))
  const lines = [
    `The corpus is \`memories(${p.corpus.from}, ${p.corpus.count}, ${p.corpus.seed})\` of \`bench/corpus.ts\`, stored with one \`storeBatch\` in its own namespace of each backend's store (BM25 statistics are per namespace, so the timed phase's memories do not count). ` +
      `${n} queries from the corpus's query list (\`bench/remote/parity.ts\`): ${list(classes)} on embedded sqlite, ${filtered} of them with a metadata filter (\`type = preference\` or \`priority >= 3\`); top ${p.limit} each. ` +
      `Overlap is |A ∩ B| / max(|A|, |B|) per query (both empty counts as 1), averaged; score differences are over the keys both returned. \`test/search-parity.test.ts\` asserts the same for postgres, supabase and firestore.`,
    '',
    parityTable(results),
    '',
  ]
  if (identical.length > 0) {
    lines.push(
      `${list(identical.map(LABEL_OF))} returned sqlite's top ${p.limit} for every query: the same keys in the same order, ${maxDiff === 0 ? 'with bit-identical scores' : `scores at most ${fmtDiff(maxDiff)} apart`}. ` +
        'They compute the same score (FTS5\'s bm25 over the SDK\'s own tokens, idf from the namespace\'s document counts), so no difference is expected beyond floating-point rounding' +
        (maxDiff === 0 ? ', and none was measured.' : `, which is what the largest difference measured here (${fmtDiff(maxDiff)}) amounts to.`),
    )
  }
  for (const b of differing) {
    const r = p.backends[b]!
    const bad = r.per_query.flatMap((q, i) => (q.same_order ? [] : [`\`${p.queries[i]!.text}\`${p.queries[i]!.filter ? ' (filtered)' : ''}: overlap ${q.overlap.toFixed(2)}`]))
    lines.push(`**${LABEL[b]} differs** on ${bad.length} of ${n} queries: ${bad.join('; ')}; not explained by this bench.`)
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------- the section

export function renderRemoteSection(results: RemoteBenchResults): string {
  const m = results.machine
  const v = results.versions
  const cfg = results.config
  const file = REMOTE.resultsFile(results.date, results.quick)
  const sizes = results.store_sizes
  const sizeText = (when: 'before' | 'after'): string => {
    const backends = BACKENDS.filter((b) => sizes[b])
    const values = [...new Set(backends.map((b) => sizes[b]![when]))]
    return values.length === 1 ? fmtInt(values[0]!) : backends.map((b) => `${fmtInt(sizes[b]![when])} (${LABEL[b]})`).join(', ')
  }
  const openDetail = (b: 'turso' | 'd1-rest'): string =>
    (['new_database', 'existing_database'] as const).map((w) => `${w === 'new_database' ? 'empty' : 'existing'}: ${results.counts[b].open[w].detail.map((d) => `\`${d}\``).join(', ')}`).join('; ')
  return [
    '## Remote backends (loopback)',
    '',
    `_Generated by \`npm run bench:remote\` on ${results.date} (${results.elapsed_s.toFixed(0)} s for the whole run). Full data: [\`bench/results/${file}\`](bench/results/${file})._`,
    '',
    `${m.cpu_model}, ${m.cpus} cores, Node ${m.node}; load average at start ${m.load_average_start.join(' / ')}, at end ${m.load_average_end.join(' / ')}. ` +
      `turso: the SDK's \`@libsql/client/web\` ${v['@libsql/client']} (over its fetch transport) against \`test/servers/hrana-server.ts\`, a Hrana-over-HTTP server in Node over a real libSQL engine (\`libsql\` ${v.libsql}). ` +
      `d1: \`test/servers/d1-server.ts\`, Cloudflare's REST API served by a worker in miniflare ${v.miniflare} (workerd ${v.workerd}) over a real D1 database, and the same kind of database through miniflare's Workers binding. ` +
      (results.counts.postgres
        ? `postgres: the SDK over \`pg\` ${v.pg} against a real PostgreSQL ${v.postgresql ?? ''} started by \`test/servers/postgres-server.ts\` (a schema of its own). supabase: \`@supabase/supabase-js\` ${v['@supabase/supabase-js']} signed in as one user, against \`test/servers/postgrest-server.ts\`, a PostgREST stand-in in Node over another database of the same PostgreSQL with \`supabase/agent-ltm.sql\` applied. firestore: the SDK's REST client against Google's official Firestore emulator (Java). `
        : `postgres, supabase and firestore are left out of \`--quick\` (starting PostgreSQL, PostgREST and the Java emulator takes most of its budget). `) +
      `Embedded: the sqlite backend on a better-sqlite3 ${v['better-sqlite3']} file. Everything runs on this machine over 127.0.0.1. The servers are test stand-ins, not Turso's sqld or Cloudflare's API: the request counts are what the SDK sends, the times are this machine's with no network in between (a real deployment adds a network round trip per request).`,
    '',
    '**What this shows**',
    '',
    whatThisShows(results),
    '',
    '### Requests per operation',
    '',
    `Counted from each server's request log (turso, d1 REST${results.counts.supabase ? ', supabase' : ''}) and from \`stats().batches\` for the binding (minus the one batch of the \`stats()\` call itself), around each call. ` +
      (results.counts.postgres
        ? "postgres: calls of pg's `Client.query` on the SDK's connections (they name themselves agent-ltm); each is one round trip to the server, `BEGIN` and `COMMIT` included. firestore: fetch calls to the emulator's URL, checked against the SDK transport's `onRequest`. "
        : '') +
      `The \`storeBatch\` calls are the prefill (${cfg.prefill / cfg.batch_size} of ${cfg.batch_size} new memories); every other operation was counted ${cfg.count_repeats} times on the prefilled store, a cell shows min–max when the calls differed.`,
    '',
    requestsTable(results),
    '',
    `What opening sent: turso ${openDetail('turso')}. d1 REST ${openDetail('d1-rest')}.`,
    '',
    'Bytes on the wire per call (median, as the SDK\'s transport counts them: request and response bodies):',
    '',
    bytesTable(results),
    '',
    `What a ${opLabel('store_batch', cfg)} sent: turso \`${results.counts.turso.ops.store_batch[0]?.detail.join(', ') ?? 'n/a'}\` (the client sends each distinct SQL text once, \`store_sql\`, and the batch's steps refer to it by id); d1 REST \`${results.counts['d1-rest'].ops.store_batch[0]?.detail.join(', ') ?? 'n/a'}\`, each statement with its SQL text.`,
    '',
    '### Latency over loopback',
    '',
    `Each backend's store holds ${sizeText('before')} memories of \`bench/corpus.ts\` when the timing starts${sizes.firestore && !Number.isFinite(sizes.firestore.before) ? " (n/a: firestore's `stats()` reports no memory count)" : ''}. ${cfg.store_ops} \`store\` calls (new keys), ${cfg.retrieve_ops} \`retrieve\` calls (random existing keys), ${cfg.search_ops} searches (the corpus's query list, 1-3 words, top 10) and, last, ${cfg.batch_ops} \`storeBatch\` calls of ${cfg.batch_size} new memories, on every backend but the d1 binding${results.counts.firestore ? ' and firestore (their prefill calls are listed instead)' : ' (see above)'}; the stores end with ${sizeText('after')}. ` +
      (results.latency.firestore?.store ? `firestore ran every 4th call only, spread over the rounds (${results.latency.firestore.store.n} of ${cfg.store_ops} \`store\` calls, likewise for \`retrieve\` and \`search\`): a write there is a transaction on the Java emulator, and the full counts kept the run over its time budget. ` : '') +
      `Each call is timed alone (\`process.hrtime.bigint()\`, \`await\` included) after ${cfg.warmup} untimed calls per backend (2 for \`storeBatch\`); the backends run interleaved in ${cfg.rounds} rounds, their order rotating. p50 and p99 are nearest-rank percentiles; with ${cfg.batch_ops} \`storeBatch\` calls its p99 is the slowest call.`,
    '',
    latencyTable(results),
    '',
    '### SDK vs the raw driver',
    '',
    "The raw side sends what the SDK sends, without the SDK: for turso, the same statements in one `client.batch()` of a `@libsql/client/web` client made with `createClient` (the client's default fetch, no SDK transport); for d1 REST, one `fetch` POST with the same JSON body. " +
      `Store statements (ensure namespace, read before write, upsert) are built with the SDK's own builders before timing, for the same memories written into a separate namespace of the same database; search statements likewise, and the raw searches returned the same top-10 keys as the SDK's. ` +
      'The raw calls run interleaved with the SDK calls of the table above; the paired ratio is the median over calls of SDK time / raw time of the call in the same position.',
    '',
    rawTable(results),
    '',
    '### Search parity',
    '',
    parityText(results),
    '',
    'Run it: `npm run bench:remote` (starts its own servers); `npm run bench:remote -- --quick` (which `npm run bench -- --quick` runs) leaves out postgres, supabase and firestore, and the D1 binding from the parity run, writes `remote-<date>-quick.json` and leaves this file alone.',
  ].join('\n')
}

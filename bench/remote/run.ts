/**
 * Remote backends over loopback: requests per operation and latency of turso, d1 (REST and Workers
 * binding), postgres, supabase and firestore beside the embedded sqlite backend, the SDK against the
 * raw driver (turso, d1 REST), and search parity (bench/remote/parity.ts) of every backend with sqlite.
 *   npm run bench:remote                about 3 to 4 minutes on 2 cores
 *   npm run bench:remote -- --quick     short run (CI smoke), without postgres, supabase and firestore:
 *                                       writes remote-<date>-quick.json, leaves BENCHMARKS.md alone
 *   npm run bench:remote -- --out DIR   results in DIR (a full run also writes its section into DIR/BENCHMARKS.md)
 * Starts its own servers: test/servers/hrana-server.ts (Hrana over HTTP over a real libSQL engine)
 * and test/servers/d1-server.ts (D1's REST API over a real D1 database in miniflare, which also gives
 * the Workers binding); for a full run also test/servers/postgres-server.ts (a real PostgreSQL),
 * test/servers/postgrest-server.ts over it (supabase) and the official Firestore emulator.
 * Writes bench/results/remote-<YYYY-MM-DD>.json and rewrites only the "Remote backends (loopback)"
 * section of BENCHMARKS.md (between its marker comments); `npm run bench` keeps that section, read
 * back from the newest remote-*.json.
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createClient, type Client } from '@libsql/client/web'
import pg from 'pg'
import { parseFilter } from '../../src/core/filter.js'
import { parseQuery } from '../../src/core/tokenize.js'
import type { LTM } from '../../src/core/types.js'
import type { D1DatabaseBinding } from '../../src/engines/d1.js'
import type { SqlStatement } from '../../src/engines/types.js'
import { createLTM } from '../../src/index.node.js'
import { searchStatement } from '../../src/sql/search.js'
import type { RequestReport, TransportStats } from '../../src/transport/transport.js'
import { startD1Server, type D1BindingLike, type D1Server } from '../../test/servers/d1-server.js'
import { startFirestoreEmulator } from '../../test/servers/firestore-emulator.js'
import { startHranaServer, type HranaServer } from '../../test/servers/hrana-server.js'
import { startPostgresServer } from '../../test/servers/postgres-server.js'
import { startPostgrestServer } from '../../test/servers/postgrest-server.js'
import { BATCH_SIZE, FILTERS, memories, memory, prng, queryList, querySample, toBatch, type Memory } from '../corpus.js'
import { prepareWrite, writeStatements } from '../raw.js'
import { check, openSdk } from '../sdk.js'
import { median, round, summarize } from '../stats.js'
import { PARITY_CORPUS, PARITY_LIMIT, parityOf, parityQueries, storeParityCorpus, topOf } from './parity.js'
import { REMOTE, renderRemoteSection } from './report.js'
import {
  BACKENDS,
  COUNTED_OPS,
  FULL_ONLY_BACKENDS,
  RAW_BACKENDS,
  RAW_OPS,
  REMOTE_BACKENDS,
  TIMED_OPS,
  type Backend,
  type BackendCounts,
  type CallCost,
  type CountedOp,
  type RawBackend,
  type RawOp,
  type RemoteBackend,
  type RemoteBenchResults,
  type TimedOp,
  type TimedResult,
} from './types.js'
import { sourceFingerprint } from '../source-fingerprint.js'
import { REPO_ROOT as ROOT, hostInfo, loadAverage, packageVersion, updateBenchmarks, writeResultsJson } from '../host.js'

const TOKEN = 'bench-remote-token-5c1e'
const RETRIEVE_BATCH = 50
/** Raw writes go to their own namespace of the same database, so every SDK store searches the same memories. */
const RAW_NAMESPACE = 'bench-raw'

interface Config {
  prefill: number
  /** Memories per storeBatch call, counted and timed. */
  batchSize: number
  countRepeats: number
  storeOps: number
  retrieveOps: number
  searchOps: number
  batchOps: number
  rounds: number
  warmup: number
}
const FULL: Config = { prefill: 1000, batchSize: BATCH_SIZE, countRepeats: 5, storeOps: 200, retrieveOps: 200, searchOps: 200, batchOps: 8, rounds: 4, warmup: 10 }
const QUICK: Config = { prefill: 100, batchSize: 100, countRepeats: 2, storeOps: 20, retrieveOps: 20, searchOps: 20, batchOps: 2, rounds: 2, warmup: 3 }

const T0 = performance.now()
const log = (message: string): void => {
  process.stderr.write(`[bench:remote ${((performance.now() - T0) / 1000).toFixed(0).padStart(4)}s] ${message}\n`)
}

// ---------------------------------------------------------------- backends

interface LogEntry {
  method: string
  path: string
  requests?: string[]
  statements?: number
}

/** One backend under test: how to open a handle, and where its requests are seen. */
interface Target {
  backend: Backend
  open(): Promise<LTM>
  /** The server's request log (HTTP backends), else null. */
  serverLog: LogEntry[] | null
  /** What the SDK's transport reported (turso, d1 REST, firestore), else null. */
  reports: RequestReport[] | null
}

function describe(entry: LogEntry): string {
  if (entry.statements !== undefined) return `${entry.method} ${entry.statements} statement${entry.statements === 1 ? '' : 's'}`
  const counts = new Map<string, number>()
  for (const r of entry.requests ?? []) counts.set(r, (counts.get(r) ?? 0) + 1)
  const parts = [...counts].map(([r, n]) => (n > 1 ? `${r}×${n}` : r))
  return `${entry.method} ${entry.path}${parts.length > 0 ? ` [${parts.join(', ')}]` : ''}`
}

async function batchesOf(ltm: LTM): Promise<number> {
  const stats = check(await ltm.stats(), 'stats') as unknown as { batches?: number }
  if (typeof stats.batches !== 'number') throw new Error('stats() has no batches counter')
  return stats.batches
}

/**
 * Runs `run` and reports what it cost on the wire. For the D1 binding the count is `stats().batches`
 * after minus before, less what one stats() call adds itself (`statsOwn`).
 */
async function cost(target: Target, ltm: LTM | null, run: () => Promise<LTM | void>, statsOwn = 1): Promise<{ cost: CallCost; ltm: LTM | null }> {
  const serverLog = target.serverLog
  const logFrom = serverLog?.length ?? 0
  const reportFrom = target.reports?.length ?? 0
  const before = target.backend === 'd1-binding' && ltm ? await batchesOf(ltm) : 0
  const start = performance.now()
  const opened = (await run()) ?? ltm
  const ms = round(performance.now() - start, 2)
  if (serverLog) {
    const entries = serverLog.slice(logFrom)
    const reports = target.reports?.slice(reportFrom) ?? null
    return {
      cost: {
        requests: entries.length,
        transport_requests: reports ? reports.length : null,
        bytes_sent: reports ? reports.reduce((sum, r) => sum + r.bytesSent, 0) : null,
        bytes_received: reports ? reports.reduce((sum, r) => sum + r.bytesReceived, 0) : null,
        detail: entries.map(describe),
        ms,
      },
      ltm: opened,
    }
  }
  const after = await batchesOf(opened!)
  return { cost: { requests: after - before - statsOwn, transport_requests: null, bytes_sent: null, bytes_received: null, detail: [], ms }, ltm: opened }
}

// ---------------------------------------------------------------- request counts

interface Counted {
  counts: BackendCounts
  ltm: LTM
}

async function countRequests(target: Target, config: Config): Promise<Counted> {
  const backend = target.backend as RemoteBackend
  const ops = Object.fromEntries(COUNTED_OPS.map((op) => [op, [] as CallCost[]])) as Record<CountedOp, CallCost[]>

  // Open: on the empty database (schema created), then again on the database that has it.
  const fresh = await cost(target, null, () => target.open(), 0)
  // What one stats() call adds to the D1 binding's batch count (the count query of stats itself).
  let statsOwn = 0
  if (backend === 'd1-binding') {
    const a = await batchesOf(fresh.ltm!)
    statsOwn = (await batchesOf(fresh.ltm!)) - a
    // The stats() call that read the count after opening added statsOwn batches of its own.
    fresh.cost.requests -= statsOwn
  }
  await fresh.ltm!.close()
  const again = await cost(target, null, () => target.open(), 0)
  if (backend === 'd1-binding') again.cost.requests -= statsOwn
  const ltm = again.ltm!
  const measure = async (op: CountedOp, run: () => Promise<unknown>): Promise<void> => {
    ops[op].push((await cost(target, ltm, async () => void (await run()), statsOwn)).cost)
  }

  // The prefill's batches are the storeBatch calls counted.
  for (let from = 0; from < config.prefill; from += config.batchSize) {
    const batch = toBatch(memories(from, Math.min(config.batchSize, config.prefill - from)))
    await measure('store_batch', async () => {
      const result = check(await ltm.storeBatch(batch), 'storeBatch')
      if (!result.success || result.stored_count !== batch.length) throw new Error(`storeBatch stored ${JSON.stringify(result).slice(0, 200)}`)
    })
  }
  const extra = memories(0, config.countRepeats * 3, 21, 'count')
  for (let i = 0; i < config.countRepeats; i++) {
    const [mine, forTx, toDelete] = [extra[3 * i]!, extra[3 * i + 1]!, extra[3 * i + 2]!]
    const existing = memory((i * 97) % config.prefill).key
    await measure('store', async () => {
      const r = check(await ltm.store(mine.key, mine.value, mine.metadata), 'store')
      if (!(r.success && r.stored && r.created)) throw new Error(`store did not create: ${JSON.stringify(r)}`)
    })
    await measure('retrieve', async () => {
      const r = check(await ltm.retrieve(existing), 'retrieve')
      if (!(r.success && r.found)) throw new Error(`retrieve did not find ${existing}`)
    })
    await measure('delete', async () => {
      const r = check(await ltm.delete(mine.key), 'delete')
      if (!(r.success && r.deleted)) throw new Error(`delete did not delete ${mine.key}`)
    })
    const query = querySample(config.countRepeats, 31)[i]!.text
    await measure('search', async () => check(await ltm.search(query), 'search'))
    await measure('search_filter', async () => check(await ltm.search(query, FILTERS[i % FILTERS.length]!.filter), 'search'))
    const keys = Array.from({ length: RETRIEVE_BATCH }, (_, j) => memory((i * RETRIEVE_BATCH + j) % config.prefill).key)
    await measure('retrieve_batch', async () => {
      const r = check(await ltm.retrieveBatch(keys), 'retrieveBatch')
      if (!r.success || r.found_count !== keys.length) throw new Error(`retrieveBatch found ${JSON.stringify(r).slice(0, 200)}`)
    })
    check(await ltm.store(toDelete.key, toDelete.value, toDelete.metadata), 'store') // not counted: the transaction deletes it
    await measure('transaction', async () => {
      const r = await ltm.transaction(async (tx) => {
        check(await tx.store(forTx.key, forTx.value, forTx.metadata), 'tx.store')
        check(await tx.retrieve(existing), 'tx.retrieve')
        check(await tx.delete(toDelete.key), 'tx.delete')
      })
      if (!(r.success && r.committed)) throw new Error(`transaction did not commit: ${JSON.stringify(r)}`)
    })
  }
  const counts: BackendCounts = {
    backend,
    unit: backend === 'postgres' ? 'pg-query' : target.serverLog ? 'http-request' : 'binding-batch',
    open: { new_database: fresh.cost, existing_database: again.cost, version_probes: null },
    ops,
  }
  return { counts, ltm }
}

// ---------------------------------------------------------------- raw drivers

interface RawTarget {
  backend: RawBackend
  /** Memories written so far (all in RAW_NAMESPACE). */
  written: number
  store(statements: SqlStatement[]): Promise<void>
  /** Keys of the rows a search statement returns. */
  search(statement: SqlStatement): Promise<string[]>
  close(): void
}

/** The same batches the SDK sends, through @libsql/client's own fetch, no SDK and no transport. */
function rawTurso(server: HranaServer): RawTarget {
  const client: Client = createClient({ url: server.url, authToken: TOKEN, intMode: 'number' })
  const toIn = (statements: SqlStatement[]) => statements.map(({ sql, args }) => ({ sql, args: args as never }))
  const raw: RawTarget = {
    backend: 'turso',
    written: 0,
    store: async (statements) => {
      await client.batch(toIn(statements), 'write')
      raw.written++
    },
    search: async (statement) => {
      const [set] = await client.batch(toIn([statement]), 'read')
      return (set?.rows ?? []).map((row) => String(row.key))
    },
    close: () => client.close(),
  }
  return raw
}

/** The same statements the SDK sends, POSTed with the global fetch in the body shape the SDK uses. */
function rawD1(server: D1Server): RawTarget {
  const url = `${server.baseUrl}/accounts/${server.accountId}/d1/database/${server.databaseId}/query`
  const post = async (statements: SqlStatement[]): Promise<Array<{ results?: Array<Record<string, unknown>> }>> => {
    const batch = statements.map(({ sql, args }) => ({ sql, params: args.map((a) => (typeof a === 'bigint' ? Number(a) : a)) }))
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(batch.length === 1 ? batch[0] : { batch }),
    })
    const envelope = (await response.json()) as { success?: boolean; result?: Array<{ results?: Array<Record<string, unknown>> }> }
    if (!response.ok || envelope.success !== true || !envelope.result) throw new Error(`raw d1: HTTP ${response.status} ${JSON.stringify(envelope).slice(0, 300)}`)
    return envelope.result
  }
  const raw: RawTarget = {
    backend: 'd1-rest',
    written: 0,
    store: async (statements) => {
      await post(statements)
      raw.written++
    },
    search: async (statement) => ((await post([statement]))[0]?.results ?? []).map((row) => String(row.key)),
    close: () => undefined,
  }
  return raw
}

// ---------------------------------------------------------------- latency

interface Runner {
  id: string
  call(i: number): Promise<void>
  /** Runs only every `stride`-th call of the range (spread over every round), @default 1 */
  stride?: number
}

/**
 * Backends timed on every STRIDE-th call only, and left out of the timed storeBatch runs (their
 * prefill calls are reported instead): a firestore write is a transaction on the emulator, and the
 * full counts kept the whole run over its 4 minute budget.
 */
const STRIDE: Partial<Record<Backend, number>> = { firestore: 4 }
const UNTIMED_BATCH: readonly string[] = ['d1-binding', 'firestore']

/**
 * Calls `from..to-1` on every runner, interleaved: the range is cut into `rounds` chunks and each chunk
 * runs on every runner, the order rotating each round, so background load falls on all alike.
 * Returns ns per call, by runner.
 */
async function interleaved(runners: Runner[], from: number, to: number, rounds: number): Promise<Map<string, number[]>> {
  const samples = new Map(runners.map((r) => [r.id, [] as number[]]))
  const chunk = Math.ceil((to - from) / rounds)
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < runners.length; j++) {
      const runner = runners[(j + round) % runners.length]!
      const out = samples.get(runner.id)!
      for (let i = from + round * chunk; i < Math.min(to, from + (round + 1) * chunk); i++) {
        if ((i - from) % (runner.stride ?? 1) !== 0) continue
        const start = process.hrtime.bigint()
        await runner.call(i)
        out.push(Number(process.hrtime.bigint() - start))
      }
    }
  }
  return samples
}

async function warmAndTime(label: string, runners: Runner[], count: number, config: Config): Promise<Map<string, number[]>> {
  log(`latency: ${label} (${runners.map((r) => r.id).join(', ')})`)
  for (const runner of runners) for (let i = 0; i < config.warmup; i++) await runner.call(i)
  return interleaved(runners, config.warmup, config.warmup + count, config.rounds)
}

/**
 * What the D1 binding costs from Node: miniflare's getD1Database() is a proxy into workerd, and the
 * SDK calls prepare() and bind() once per statement before each batch().
 */
async function bindingProxy(binding: D1BindingLike, calls = 20): Promise<RemoteBenchResults['binding_proxy']> {
  let start = performance.now()
  const prepared = Array.from({ length: calls }, () => binding.prepare('SELECT ?1 AS x'))
  const prepareMs = (performance.now() - start) / calls
  start = performance.now()
  const bound = prepared.map((statement, i) => statement.bind(i))
  const bindMs = (performance.now() - start) / calls
  const one = binding.prepare('SELECT 1 AS x')
  await binding.batch([one]) // untimed: first use
  start = performance.now()
  for (let i = 0; i < calls; i++) await binding.batch([one])
  const batchMs = (performance.now() - start) / calls
  start = performance.now()
  await binding.batch(bound)
  const batchAllMs = performance.now() - start
  return { calls, prepare_ms: round(prepareMs, 2), bind_ms: round(bindMs, 2), batch_of_one_ms: round(batchMs, 2), batch_of_prepared_ms: round(batchAllMs, 2) }
}

const timed = (ns: number[]): TimedResult => ({ ...summarize(ns), samples_us: ns.map((x) => round(x / 1e3)) })

async function memoryCount(ltm: LTM): Promise<number> {
  return Number((check(await ltm.stats(), 'stats') as unknown as { memories?: number }).memories ?? Number.NaN)
}

/**
 * The timed phase: store, retrieve, search and storeBatch on every backend, interleaved, with the raw
 * drivers beside turso and d1 REST for store and search. Returns ns per call, by op and runner id.
 */
async function measureLatency(handles: Record<Backend, LTM>, raws: RawTarget[], config: Config): Promise<Record<TimedOp, Map<string, number[]>>> {
  const samples = {} as Record<TimedOp, Map<string, number[]>>
  const at = Date.now()
  const n = config.warmup
  const sdkRunners = (make: (ltm: LTM, backend: Backend) => (i: number) => Promise<void>): Runner[] =>
    BACKENDS.filter((backend) => handles[backend]).map((backend) => ({ id: backend, call: make(handles[backend], backend), stride: STRIDE[backend] }))
  const rawRunners = (make: (raw: RawTarget) => (i: number) => Promise<void>): Runner[] => raws.map((raw) => ({ id: `${raw.backend}:raw`, call: make(raw) }))

  const storeItems: Memory[] = memories(0, n + config.storeOps, 2, 'new')
  const rawStores = await Promise.all(storeItems.map(async (m) => writeStatements([await prepareWrite(m, RAW_NAMESPACE)], at)))
  samples.store = await warmAndTime(
    `store × ${config.storeOps}`,
    [
      ...sdkRunners((ltm) => async (i) => {
        const m = storeItems[i]!
        const r = check(await ltm.store(m.key, m.value, m.metadata), 'store')
        if (!(r.success && r.stored && r.created)) throw new Error(`store did not create ${m.key}`)
      }),
      ...rawRunners((raw) => (i) => raw.store(rawStores[i]!)),
    ],
    config.storeOps,
    config,
  )

  const random = prng(11)
  const retrieveKeys = Array.from({ length: n + config.retrieveOps }, () => memory(Math.floor(random() * config.prefill)).key)
  samples.retrieve = await warmAndTime(
    `retrieve × ${config.retrieveOps}`,
    sdkRunners((ltm) => async (i) => {
      const r = check(await ltm.retrieve(retrieveKeys[i]!), 'retrieve')
      if (!(r.success && r.found)) throw new Error(`retrieve did not find ${retrieveKeys[i]}`)
    }),
    config.retrieveOps,
    config,
  )

  const queries = querySample(n + config.searchOps).map((q) => q.text)
  const rawSearches = queries.map((text) =>
    searchStatement({ namespace: '', query: parseQuery(text, { syntax: 'safe', matchAll: false }), filter: parseFilter(null), limit: 10, now: at }),
  )
  const searchKeys = new Map<string, string[][]>()
  const keep = (id: string, i: number, keys: string[]): void => {
    if (!searchKeys.has(id)) searchKeys.set(id, [])
    searchKeys.get(id)![i] = keys
  }
  samples.search = await warmAndTime(
    `search × ${config.searchOps}`,
    [
      ...sdkRunners((ltm, backend) => async (i) => {
        const r = check(await ltm.search(queries[i]!), 'search')
        if (r.success) keep(backend, i, r.results.map((hit) => hit.key))
      }),
      ...rawRunners((raw) => async (i) => keep(`${raw.backend}:raw`, i, await raw.search(rawSearches[i]!))),
    ],
    config.searchOps,
    config,
  )
  const sameKeys = Object.fromEntries(
    RAW_BACKENDS.map((backend) => {
      const sdk = searchKeys.get(backend) ?? []
      const raw = searchKeys.get(`${backend}:raw`) ?? []
      return [backend, sdk.length > 0 && sdk.every((keys, i) => keys.join('\n') === (raw[i] ?? []).join('\n'))]
    }),
  ) as Record<RawBackend, boolean>
  if (!Object.values(sameKeys).every(Boolean)) throw new Error(`SDK and raw searches returned different keys: ${JSON.stringify(sameKeys)}`)

  const batches = Array.from({ length: n + config.batchOps }, (_, k) => toBatch(memories(k * config.batchSize, config.batchSize, 3, 'batch')))
  // Fewer warm-up batches: each is hundreds of writes. Not on the D1 binding, where one batch takes
  // seconds through miniflare's proxy (see bindingProxy), nor on firestore: their prefill calls are reported instead.
  const batchConfig = { ...config, warmup: Math.min(2, n) }
  samples.store_batch = await warmAndTime(
    `storeBatch(${config.batchSize}) × ${config.batchOps}`,
    sdkRunners((ltm) => async (i) => {
      const r = check(await ltm.storeBatch(batches[i]!), 'storeBatch')
      if (!r.success || r.stored_count !== config.batchSize) throw new Error('storeBatch did not store the batch')
    }).filter((runner) => !UNTIMED_BATCH.includes(runner.id)),
    config.batchOps,
    batchConfig,
  )
  return samples
}

function summarizeLatency(samples: Record<TimedOp, Map<string, number[]>>): Pick<RemoteBenchResults, 'latency' | 'raw'> {
  const latency: RemoteBenchResults['latency'] = {}
  for (const op of TIMED_OPS) {
    for (const [id, ns] of samples[op]) (latency[id] ??= {})[op] = timed(ns)
  }
  const raw = RAW_BACKENDS.flatMap((backend) =>
    RAW_OPS.map((op: RawOp) => {
      const sdk = samples[op].get(backend)!
      const base = samples[op].get(`${backend}:raw`)!
      return { backend, op, sdk: summarize(sdk), raw: summarize(base), paired_ratio: round(median(sdk.map((x, i) => x / base[i]!)), 3) }
    }),
  )
  return { latency, raw }
}

// ---------------------------------------------------------------- machine, versions

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')

// ---------------------------------------------------------------- postgres, supabase, firestore

interface ServerBackends {
  targets: Record<'postgres' | 'supabase' | 'firestore', Target>
  postgresVersion: string
  /** Times raw runQuery calls on the firestore bench collection (not counted in its request log). */
  emulatorQueryCost(): Promise<NonNullable<RemoteBenchResults['firestore_emulator']>>
  close(): Promise<void>
}

/**
 * PostgreSQL (test/servers/postgres-server.ts), PostgREST over its own database of it (supabase, one
 * signed-in user) and the Firestore emulator. Requests are counted where they leave or arrive: pg's
 * `Client.query` for postgres (its connections name themselves agent-ltm; one call is one round
 * trip), the PostgREST server's log for supabase, and fetch calls to the emulator's URL for firestore
 * (beside what the SDK's transport reports through `onRequest`).
 */
async function startServerBackends(): Promise<ServerBackends> {
  const [database, emulator] = await Promise.all([startPostgresServer(), startFirestoreEmulator()])
  const admin = new URL(database.adminUrl)
  admin.pathname = new URL(await database.createDatabase()).pathname
  const postgrest = await startPostgrestServer({ adminUrl: admin.toString(), setupSql: readFileSync(path.join(ROOT, 'supabase', 'agent-ltm.sql'), 'utf8') })
  const postgresUrl = await database.createSchema()
  const postgresVersion = String((await database.adminQuery('SHOW server_version')).rows[0]?.server_version ?? 'unknown')

  const pgLog: LogEntry[] = []
  type Query = (this: pg.Client, ...args: unknown[]) => unknown
  const clientProto = pg.Client.prototype as unknown as { query: Query }
  const originalQuery = clientProto.query
  clientProto.query = function (this: pg.Client, ...args: unknown[]) {
    if ((this as unknown as { connectionParameters?: { application_name?: string } }).connectionParameters?.application_name === 'agent-ltm') {
      const [first] = args
      const sql = typeof first === 'string' ? first : String((first as { text?: unknown })?.text)
      pgLog.push({ method: 'query', path: sql.trim().split(/\s+/, 1)[0]!.toUpperCase() })
    }
    return originalQuery.apply(this, args)
  }

  const firestoreLog: LogEntry[] = []
  const firestoreReports: RequestReport[] = []
  const originalFetch = globalThis.fetch
  globalThis.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url.startsWith(emulator.baseUrl)) {
      const tail = new URL(url).pathname.split('/documents').at(-1) ?? ''
      firestoreLog.push({ method: init?.method ?? (input instanceof Request ? input.method : 'GET'), path: tail.replace(/\/[^/:]+$/, '/…') || '/' })
    }
    return originalFetch(input, init)
  }

  const user = postgrest.userToken(randomUUID())
  const projectId = emulator.newProjectId('bench')
  return {
    targets: {
      postgres: { backend: 'postgres', open: () => createLTM({ backend: 'postgres', url: postgresUrl }), serverLog: pgLog, reports: null },
      supabase: { backend: 'supabase', open: () => createLTM({ backend: 'supabase', url: postgrest.url, key: postgrest.anonKey, accessToken: user }), serverLog: postgrest.log, reports: null },
      firestore: {
        backend: 'firestore',
        open: () => createLTM({ backend: 'firestore', projectId, collection: 'memories', auth: 'owner', baseUrl: emulator.baseUrl, onRequest: (r) => firestoreReports.push(r) }),
        serverLog: firestoreLog,
        reports: firestoreReports,
      },
    },
    postgresVersion,
    async emulatorQueryCost() {
      const base = `${emulator.baseUrl}/projects/${projectId}/databases/(default)/documents`
      const post = async (path: string, body: unknown): Promise<unknown> => {
        const response = await originalFetch(`${base}${path}`, { method: 'POST', headers: { authorization: 'Bearer owner', 'content-type': 'application/json' }, body: JSON.stringify(body) })
        if (!response.ok) throw new Error(`emulator ${path} answered ${response.status}: ${await response.text()}`)
        return response.json()
      }
      const from = [{ collectionId: 'memories' }]
      const field = (fieldPath: string, op: string, value: unknown) => ({ fieldFilter: { field: { fieldPath }, op, value } })
      const runs = 5
      const time = async (where: unknown): Promise<number> => {
        const ms: number[] = []
        for (let i = 0; i < runs; i++) {
          const started = performance.now()
          await post(':runQuery', { structuredQuery: { from, where, select: { fields: [{ fieldPath: 'key' }] } } })
          ms.push(performance.now() - started)
        }
        return round(median(ms), 1)
      }
      const counted = (await post(':runAggregationQuery', { structuredAggregationQuery: { structuredQuery: { from }, aggregations: [{ alias: 'n', count: {} }] } })) as Array<{ result?: { aggregateFields?: { n?: { integerValue?: string } } } }>
      // A rare one-word query and a three-word one from the bench's own query list.
      const queries = queryList()
      const one = queries.find((q) => !q.text.includes(' '))!.text
      const three = queries.find((q) => q.text.split(' ').length === 3)!.text.split(' ')
      const words = (list: string[]) => ({ arrayValue: { values: list.map((stringValue) => ({ stringValue })) } })
      return {
        documents: Number(counted[0]?.result?.aggregateFields?.n?.integerValue ?? Number.NaN),
        runs,
        key_equality_ms: await time(field('key', 'EQUAL', { stringValue: 'mem-0' })),
        array_contains_ms: await time(field('terms', 'ARRAY_CONTAINS', { stringValue: one })),
        array_contains_any_ms: await time(field('terms', 'ARRAY_CONTAINS_ANY', words(three))),
        words: [one, ...three],
      }
    },
    async close() {
      clientProto.query = originalQuery
      globalThis.fetch = originalFetch
      await postgrest.close()
      await Promise.all([database.stop(), emulator.stop()])
    },
  }
}

/** The parity corpus and queries (bench/remote/parity.ts) on every open handle, in its own namespace. */
async function measureParity(handles: Record<Backend, LTM>, backends: readonly Backend[]): Promise<RemoteBenchResults['parity']> {
  log(`search parity: ${PARITY_CORPUS.count} memories and 20 queries on ${backends.join(', ')}`)
  const queries = parityQueries()
  const views = {} as Record<Backend, LTM>
  for (const backend of backends) views[backend] = await storeParityCorpus(handles[backend])
  const base = []
  for (const q of queries) base.push(await topOf(views.sqlite, q))
  const out: RemoteBenchResults['parity']['backends'] = {}
  for (const backend of backends) {
    if (backend === 'sqlite') continue
    const p = await parityOf(views[backend], queries, base)
    out[backend] = { ...p, per_query: p.per_query.map(({ keys, overlap, same_order, max_score_diff }) => ({ keys, overlap, same_order, max_score_diff })) }
  }
  return { corpus: { ...PARITY_CORPUS }, limit: PARITY_LIMIT, queries, sqlite_hits: base.map((t) => t.keys.length), backends: out }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } } })
  const quick = values.quick === true
  const config = quick ? QUICK : FULL
  const outDir = path.resolve(values.out ?? path.join(ROOT, 'bench', 'results'))
  const startedAt = new Date()
  const date = startedAt.toISOString().slice(0, 10)
  const loadStart = loadAverage()
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'agent-ltm-bench-remote-'))

  log(`starting the Hrana server and two D1 servers${quick ? '' : ', PostgreSQL, PostgREST over it and the Firestore emulator'}`)
  const [hrana, d1Rest, d1Binding, servers] = await Promise.all([
    startHranaServer({ authToken: TOKEN }),
    startD1Server({ apiToken: TOKEN }),
    startD1Server({ apiToken: TOKEN }),
    quick ? null : startServerBackends(),
  ])
  const binding = await d1Binding.binding()
  const reports: Record<'turso' | 'd1-rest', RequestReport[]> = { turso: [], 'd1-rest': [] }
  const targets: Record<RemoteBackend, Target> = {
    turso: {
      backend: 'turso',
      open: () => createLTM({ backend: 'turso', url: hrana.url, authToken: TOKEN, onRequest: (r) => reports.turso.push(r) }),
      serverLog: hrana.log,
      reports: reports.turso,
    },
    'd1-rest': {
      backend: 'd1-rest',
      open: () =>
        createLTM({ backend: 'd1', baseUrl: d1Rest.baseUrl, accountId: d1Rest.accountId, databaseId: d1Rest.databaseId, apiToken: TOKEN, onRequest: (r) => reports['d1-rest'].push(r) }),
      serverLog: d1Rest.log,
      reports: reports['d1-rest'],
    },
    'd1-binding': {
      backend: 'd1-binding',
      open: () => createLTM({ backend: 'd1', binding: binding as unknown as D1DatabaseBinding }),
      serverLog: null,
      reports: null,
    },
    ...servers?.targets,
  } as Record<RemoteBackend, Target>
  const remoteBackends = REMOTE_BACKENDS.filter((b) => !quick || !FULL_ONLY_BACKENDS.includes(b))
  const localBackends = BACKENDS.filter((b) => b === 'sqlite' || remoteBackends.includes(b as RemoteBackend))

  const handles = {} as Record<Backend, LTM>
  const raws: RawTarget[] = []
  const counts = {} as Record<RemoteBackend, BackendCounts>
  let results: RemoteBenchResults
  try {
    for (const backend of remoteBackends) {
      log(`${backend}: requests per operation (open, prefill of ${config.prefill}, ${config.countRepeats} calls of each)`)
      const counted = await countRequests(targets[backend], config)
      counts[backend] = counted.counts
      handles[backend] = counted.ltm
    }
    counts.turso.open.version_probes = hrana.log.filter((e) => e.method === 'GET').length
    counts['d1-rest'].open.version_probes = d1Rest.log.filter((e) => e.method === 'GET').length

    // Embedded: the same prefill, plus the memories the counting phase left in the remote stores.
    handles.sqlite = await openSdk('better-sqlite3', path.join(tmp, 'embedded.db'))
    for (let from = 0; from < config.prefill; from += config.batchSize) check(await handles.sqlite.storeBatch(toBatch(memories(from, Math.min(config.batchSize, config.prefill - from)))), 'storeBatch')
    for (const m of memories(0, config.countRepeats * 3, 21, 'count').filter((_, j) => j % 3 === 1)) check(await handles.sqlite.store(m.key, m.value, m.metadata), 'store')
    raws.push(rawTurso(hrana), rawD1(d1Rest))

    const sizes = {} as RemoteBenchResults['store_sizes']
    // Memories in the default namespace (stats() counts every namespace; the raw writes have their own).
    const defaultNamespace = async (backend: Backend): Promise<number> => (await memoryCount(handles[backend])) - (raws.find((r) => r.backend === backend)?.written ?? 0)
    for (const backend of localBackends) sizes[backend] = { before: await defaultNamespace(backend), after: 0 }

    const samples = await measureLatency(handles, raws, config)
    for (const backend of localBackends) sizes[backend]!.after = await defaultNamespace(backend)
    // --quick leaves out the D1 binding here: its storeBatch of 200 alone takes seconds through miniflare.
    const parity = await measureParity(handles, quick ? localBackends.filter((b) => b !== 'd1-binding') : localBackends)

    const { latency, raw } = summarizeLatency(samples)
    const transport = {} as RemoteBenchResults['transport']
    for (const backend of ['turso', 'd1-rest'] as const) {
      transport[backend] = (check(await handles[backend].stats(), 'stats') as unknown as { transport: TransportStats }).transport
    }

    log('d1 binding: cost of prepare() and bind() through miniflare')
    const proxy = await bindingProxy(binding)
    if (servers) log('firestore emulator: raw query times by filter')
    const firestoreEmulator = servers ? await servers.emulatorQueryCost() : undefined
    results = {
      date,
      started_at: startedAt.toISOString(),
      quick,
      elapsed_s: 0,
      machine: { ...hostInfo(loadStart), load_average_end: loadAverage() },
      versions: {
        ...Object.fromEntries(['@libsql/client', '@libsql/hrana-client', 'libsql', 'miniflare', 'workerd', 'better-sqlite3', 'pg', '@supabase/supabase-js'].map((name) => [name, packageVersion(name)])),
        ...(servers ? { postgresql: servers.postgresVersion } : {}),
      },
      source_fingerprint: sourceFingerprint(ROOT),
      server_fingerprints: Object.fromEntries(
        (['hrana', 'd1', ...(servers ? ['postgres', 'postgrest', 'firestore-emulator'] : [])] as const).map((name) => [
          name,
          sha256(readFileSync(path.join(ROOT, 'test', 'servers', `${name}${name.includes('-') ? '' : '-server'}.ts`))),
        ]),
      ),
      config: {
        prefill: config.prefill,
        batch_size: config.batchSize,
        retrieve_batch_size: RETRIEVE_BATCH,
        count_repeats: config.countRepeats,
        store_ops: config.storeOps,
        retrieve_ops: config.retrieveOps,
        search_ops: config.searchOps,
        batch_ops: config.batchOps,
        rounds: config.rounds,
        warmup: config.warmup,
      },
      counts,
      latency,
      raw,
      store_sizes: sizes,
      parity,
      transport,
      binding_proxy: proxy,
      ...(firestoreEmulator ? { firestore_emulator: firestoreEmulator } : {}),
    }
  } finally {
    for (const ltm of Object.values(handles)) await ltm.close().catch(() => undefined)
    for (const raw of raws) raw.close()
    await Promise.all([hrana.close(), d1Rest.close(), d1Binding.close(), servers?.close()])
    rmSync(tmp, { recursive: true, force: true })
  }

  results.elapsed_s = round((performance.now() - T0) / 1000)
  const jsonPath = writeResultsJson(outDir, REMOTE.resultsFile(date, quick), results)
  let wrote = path.relative(ROOT, jsonPath)
  if (!quick) {
    const mdPath = updateBenchmarks(values.out ? outDir : undefined, (markdown) => REMOTE.replace(markdown, renderRemoteSection(results)))
    wrote += ` and the remote section of ${path.relative(ROOT, mdPath)}`
  }
  log(`wrote ${wrote} in ${results.elapsed_s} s`)
}

await main()

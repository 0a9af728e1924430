/**
 * agent-ltm benchmark: SDK vs raw SQL, better-sqlite3 vs libsql, cold start and memory.
 *   npm run bench                         1k, 10k and 100k memories
 *   npm run bench -- --quick              1k only (writes <date>-quick.json/.md, leaves BENCHMARKS.md alone), then
 *                                         the remote backends' quick run (remote-<date>-quick.json, about 20 s)
 *   npm run bench -- --sizes 1000,10000 --out DIR
 * Writes <out>/<YYYY-MM-DD>.json (every measurement) and rewrites BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { parseFilter } from '../src/core/filter.js'
import { parseQuery } from '../src/core/tokenize.js'
import type { LTM, MetadataFilter, RetrieveResult, SearchResult, StoreResult } from '../src/core/types.js'
import type { SqlStatement } from '../src/engines/types.js'
import { searchStatement } from '../src/sql/search.js'
import { selectMemories } from '../src/sql/statements.js'
import type { ColdResult } from './cold-child.js'
import { BATCH_SIZE, FILTERS, LIST_FILTER, memories, memory, prng, queryList, querySample, type Memory, type QueryClass } from './corpus.js'
import type { FillResult } from './fill-child.js'
import { measureMicroCosts } from './micro.js'
import { STORE_ANATOMY_OPS, boundLimitExperiment, searchAnatomy, storeAnatomy, storeDecomposition } from './diagnose.js'
import { DRIVERS, RawStore, loadDriver, prepareWrite, prepareWriteStatements, type Driver } from './raw.js'
import {
  OPERATIONS,
  QUERY_CLASSES,
  renderMarkdown,
  variantId,
  type BenchResults,
  type ColdStartResult,
  type LatencyResult,
  type MachineInfo,
  type Operation,
  type Side,
  type SizeResult,
  type VariantResult,
} from './report.js'
import { check, openSdk } from './sdk.js'
import { elapsedNs, median, now, round, summarize } from './stats.js'
import { sourceFingerprint } from './source-fingerprint.js'
import { REPO_ROOT as ROOT, hostInfo, loadAverage, packageVersion, updateBenchmarks, writeResultsJson } from './host.js'

const DEFAULT_SIZES = [1_000, 10_000, 100_000]
const STORE_OPS = 2000
const RETRIEVE_OPS = 2000
const SEARCH_QUERIES = 200
const FILTER_OPS = 60
const ROUNDS = 4
const COLD_RUNS = 5
/**
 * Above this size the libsql databases are copies of the better-sqlite3 fills (no libsql storeBatch
 * figure there), which keeps the default run near 6 minutes. `--libsql-full` fills them too.
 */
const LIBSQL_FILL_MAX = 10_000
const NAMESPACE = ''

const log = (message: string): void => {
  process.stderr.write(`[bench ${((Number(now() - T0)) / 1e9).toFixed(0).padStart(4)}s] ${message}\n`)
}
const T0 = now()

// ---------------------------------------------------------------- workload

interface StoreOp {
  memory: Memory
  raw: SqlStatement[]
}
interface RetrieveOp {
  key: string
  raw: SqlStatement
}
interface SearchOp {
  text: string | null
  cls: QueryClass | null
  filter: MetadataFilter | null
  raw: SqlStatement
}

function searchOp(text: string | null, cls: QueryClass | null, filter: MetadataFilter | null, at: number): SearchOp {
  const query = text === null ? null : parseQuery(text, { syntax: 'safe', matchAll: false })
  return { text, cls, filter, raw: searchStatement({ namespace: NAMESPACE, query, filter: parseFilter(filter), limit: 10, now: at }) }
}

async function storeOps(items: Memory[], at: number): Promise<StoreOp[]> {
  return Promise.all(items.map(async (m) => ({ memory: m, raw: await prepareWriteStatements([m], at) })))
}

function retrieveOps(size: number, count: number, seed: number, at: number): RetrieveOp[] {
  const random = prng(seed)
  return Array.from({ length: count }, () => {
    const key = memory(Math.floor(random() * size)).key
    return { key, raw: selectMemories(NAMESPACE, [key], at) }
  })
}

// ---------------------------------------------------------------- variants

interface Variant {
  id: string
  side: Side
  driver: Driver
  store(op: StoreOp): unknown
  retrieve(op: RetrieveOp): unknown
  search(op: SearchOp): unknown
  /** Throws on a failed call; returns the top keys of a search. */
  checkResult(kind: 'store' | 'retrieve' | 'search', result: unknown): string[]
  close(): Promise<void>
}

function sdkVariant(ltm: LTM, driver: Driver): Variant {
  return {
    id: variantId('sdk', driver),
    side: 'sdk',
    driver,
    store: (op) => ltm.store(op.memory.key, op.memory.value, op.memory.metadata),
    retrieve: (op) => ltm.retrieve(op.key),
    search: (op) => ltm.search(op.text, op.filter),
    checkResult(kind, result) {
      if (kind === 'store') {
        const r = check(result as StoreResult, 'store')
        if (!(r.success && r.stored && r.created)) throw new Error(`store did not create: ${JSON.stringify(r)}`)
      } else if (kind === 'retrieve') {
        const r = check(result as RetrieveResult, 'retrieve')
        if (!(r.success && r.found)) throw new Error(`retrieve did not find: ${JSON.stringify(r)}`)
      } else {
        const r = check(result as SearchResult, 'search')
        return r.success ? r.results.map((hit) => hit.key) : []
      }
      return []
    },
    close: () => ltm.close(),
  }
}

function rawVariant(raw: RawStore): Variant {
  return {
    id: variantId('raw', raw.driver),
    side: 'raw',
    driver: raw.driver,
    store: (op) => raw.write(op.raw),
    retrieve: (op) => raw.query(op.raw),
    search: (op) => raw.query(op.raw),
    checkResult(kind, result) {
      if (kind === 'retrieve' && (result as unknown[]).length !== 1) throw new Error('raw retrieve found nothing')
      return kind === 'search' ? (result as { key: string }[]).map((row) => row.key) : []
    },
    close: async () => raw.close(),
  }
}

/**
 * Runs `ops` on every variant, interleaved: the ops are cut into `rounds` chunks and each chunk runs
 * on every variant in a rotating order. Returns ns per op, per variant, and the search keys seen.
 */
async function measure<O>(
  variants: Variant[],
  ops: readonly O[],
  kind: 'store' | 'retrieve' | 'search',
  call: (variant: Variant, op: O) => unknown,
  rounds = ROUNDS,
): Promise<{ samples: Map<string, number[]>; keys: Map<string, string[][]> }> {
  const samples = new Map(variants.map((v) => [v.id, new Array<number>(ops.length)]))
  const keys = new Map(variants.map((v) => [v.id, new Array<string[]>(ops.length)]))
  const chunk = Math.ceil(ops.length / rounds)
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < variants.length; j++) {
      const variant = variants[(j + round) % variants.length]!
      const out = samples.get(variant.id)!
      const seen = keys.get(variant.id)!
      for (let i = round * chunk; i < Math.min(ops.length, (round + 1) * chunk); i++) {
        const start = process.hrtime.bigint()
        let result = call(variant, ops[i]!)
        if (result instanceof Promise) result = await result
        out[i] = Number(process.hrtime.bigint() - start)
        seen[i] = variant.checkResult(kind, result)
      }
    }
  }
  return { samples, keys }
}

async function warmUp<O>(variants: Variant[], ops: readonly O[], kind: 'store' | 'retrieve' | 'search', call: (variant: Variant, op: O) => unknown): Promise<void> {
  for (const variant of variants) {
    for (const op of ops) variant.checkResult(kind, await call(variant, op))
  }
}

const latency = (samplesNs: number[]): LatencyResult => ({ ...summarize(samplesNs), samples_us: samplesNs.map((ns) => round(ns / 1e3)) })

// ---------------------------------------------------------------- child processes

function runChild(script: string, args: string[], nodeFlags: string[] = []): { stdout: string; wallMs: number } {
  const start = now()
  const child = spawnSync(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(ROOT, 'bench', script), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  })
  const wallMs = elapsedNs(start) / 1e6
  if (child.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (${child.status}):\n${child.stderr}`)
  return { stdout: child.stdout, wallMs }
}

function lastJsonLine<T>(stdout: string): T {
  const line = stdout.trim().split('\n').pop() ?? ''
  return JSON.parse(line) as T
}

function fill(side: Side, driver: Driver, size: number, file: string): FillResult {
  return lastJsonLine<FillResult>(runChild('fill-child.ts', [side, driver, String(size), file], ['--expose-gc']).stdout)
}

function coldStart(file: string, size: number, key: string): ColdStartResult {
  const result: ColdStartResult = { runs: COLD_RUNS, db_size: size, baseline_wall_ms: [], by_driver: {} }
  for (const driver of DRIVERS) result.by_driver[driver] = { wall_ms: [], in_process: [] }
  const once = (): void => {
    runChild('cold-child.ts', ['baseline'])
    for (const driver of DRIVERS) runChild('cold-child.ts', ['sdk', driver, file, key])
  }
  once() // unmeasured: warms the OS file cache and tsx's transform cache
  for (let run = 0; run < COLD_RUNS; run++) {
    result.baseline_wall_ms.push(round(runChild('cold-child.ts', ['baseline']).wallMs, 1))
    for (const driver of DRIVERS) {
      const { stdout, wallMs } = runChild('cold-child.ts', ['sdk', driver, file, key])
      result.by_driver[driver]!.wall_ms.push(round(wallMs, 1))
      result.by_driver[driver]!.in_process.push(lastJsonLine<ColdResult>(stdout))
    }
  }
  return result
}

// ---------------------------------------------------------------- one size

function removeDb(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true })
}

async function runSize(size: number, dir: string, libsqlFull: boolean): Promise<{ result: SizeResult; keepFile: string }> {
  const started = now()
  const file = (side: Side, driver: Driver): string => path.join(dir, `${size}-${side}-${driver}.db`)
  const copyLibsql = !libsqlFull && size > LIBSQL_FILL_MAX
  const fills = new Map<string, FillResult | null>()
  for (const driver of DRIVERS) {
    for (const side of ['sdk', 'raw'] as const) {
      if (copyLibsql && driver === 'libsql') {
        copyFileSync(file(side, 'better-sqlite3'), file(side, driver))
        fills.set(variantId(side, driver), null)
        continue
      }
      log(`N=${size}: filling ${side}:${driver}`)
      const result = fill(side, driver, size, file(side, driver))
      log(`N=${size}: ${side}:${driver} ${Math.round(result.memories_per_s)} memories/s`)
      fills.set(variantId(side, driver), result)
    }
  }

  const variants: Variant[] = []
  const rawStores: RawStore[] = []
  let sdkBetter: LTM | undefined
  for (const driver of DRIVERS) {
    const ltm = await openSdk(driver, file('sdk', driver))
    if (driver === 'better-sqlite3') sdkBetter = ltm
    variants.push(sdkVariant(ltm, driver))
    const raw = await RawStore.open(driver, file('raw', driver))
    rawStores.push(raw)
    variants.push(rawVariant(raw))
  }
  const rawBetter = rawStores.find((raw) => raw.driver === 'better-sqlite3')

  const at = Date.now()
  log(`N=${size}: preparing workload`)
  const warmStores = await storeOps(memories(0, 100, 4, 'warm'), at)
  const stores = await storeOps(memories(0, STORE_OPS, 2, 'new'), at)
  const retrieves = retrieveOps(size, RETRIEVE_OPS, 11, at)
  const warmSearches = queryList().filter((_, i) => i % 6 === 0).map((q) => searchOp(q.text, q.class, null, at))
  const searches = querySample(SEARCH_QUERIES).map((q) => searchOp(q.text, q.class, null, at))
  const filtered = querySample(FILTER_OPS, 6).map((q, i) => searchOp(q.text, q.class, FILTERS[i % FILTERS.length]!.filter, at))
  const listings = Array.from({ length: FILTER_OPS }, () => searchOp(null, null, LIST_FILTER, at))

  const samples = {} as Record<Operation, Map<string, number[]>>
  const sameKeys: boolean[] = []
  const compareKeys = (keys: Map<string, string[][]>): void => {
    const reference = [...keys.values()][0]!
    for (const other of keys.values()) sameKeys.push(other.every((hit, i) => hit.join('\n') === reference[i]!.join('\n')))
  }

  log(`N=${size}: store`)
  await warmUp(variants, warmStores, 'store', (v, op) => v.store(op))
  samples.store = (await measure(variants, stores, 'store', (v, op) => v.store(op))).samples
  log(`N=${size}: retrieve`)
  await warmUp(variants, retrieves.slice(0, 200), 'retrieve', (v, op) => v.retrieve(op))
  samples.retrieve = (await measure(variants, retrieves, 'retrieve', (v, op) => v.retrieve(op))).samples
  log(`N=${size}: search (${searches.length} queries)`)
  await warmUp(variants, warmSearches, 'search', (v, op) => v.search(op))
  const searched = await measure(variants, searches, 'search', (v, op) => v.search(op))
  samples.search = searched.samples
  compareKeys(searched.keys)
  log(`N=${size}: search with filter`)
  const filteredRun = await measure(variants, filtered, 'search', (v, op) => v.search(op))
  samples.search_filter = filteredRun.samples
  compareKeys(filteredRun.keys)
  const listed = await measure(variants, listings, 'search', (v, op) => v.search(op))
  samples.list_filter = listed.samples
  compareKeys(listed.keys)

  log(`N=${size}: diagnostics`)
  const anatomy = searchAnatomy(rawBetter!)
  const limitTest = Object.fromEntries(rawStores.map((raw) => [raw.driver, boundLimitExperiment(raw, at)]))
  const anatomyWrites = await Promise.all(memories(0, STORE_ANATOMY_OPS, 8, 'anatomy').map((m) => prepareWrite(m)))
  const storeParts = Object.fromEntries(rawStores.map((raw) => [raw.driver, storeAnatomy(raw, anatomyWrites, at)]))
  const decomposition = await storeDecomposition(sdkBetter!, rawBetter!, memories(0, STORE_ANATOMY_OPS, 12, 'decompose'), at)
  for (const variant of variants) await variant.close()

  const results: Record<string, VariantResult> = {}
  for (const variant of variants) {
    const ops = {} as Record<Operation, LatencyResult>
    for (const op of OPERATIONS) ops[op] = latency(samples[op].get(variant.id)!)
    const all = samples.search.get(variant.id)!
    const byClass = Object.fromEntries(
      QUERY_CLASSES.map((cls) => [cls, summarize(all.filter((_, i) => searches[i]!.cls === cls))]),
    ) as VariantResult['search_by_class']
    results[variant.id] = { side: variant.side, driver: variant.driver, fill: fills.get(variant.id) ?? null, ops, search_by_class: byClass, paired_ratio_to_raw: null }
  }
  for (const driver of DRIVERS) {
    const sdk = results[variantId('sdk', driver)]
    if (!sdk) continue
    const paired = {} as Record<Operation, number>
    for (const op of OPERATIONS) {
      const s = samples[op].get(variantId('sdk', driver))!
      const r = samples[op].get(variantId('raw', driver))!
      paired[op] = round(median(s.map((x, i) => x / r[i]!)), 3)
    }
    sdk.paired_ratio_to_raw = paired
  }
  const pairedDrivers = {} as SizeResult['paired_libsql_to_better']
  for (const side of ['sdk', 'raw'] as const) {
    const ratios = {} as Record<Operation, number>
    for (const op of OPERATIONS) {
      const b = samples[op].get(variantId(side, 'better-sqlite3'))!
      const l = samples[op].get(variantId(side, 'libsql'))!
      ratios[op] = round(median(l.map((x, i) => x / b[i]!)), 3)
    }
    pairedDrivers[side] = ratios
  }
  const keepFile = file('sdk', 'better-sqlite3')
  for (const driver of DRIVERS) {
    for (const side of ['sdk', 'raw'] as const) if (file(side, driver) !== keepFile) removeDb(file(side, driver))
  }
  return {
    result: {
      size,
      variants: results,
      search_queries: searches.map((s) => ({ text: s.text ?? '', class: s.cls ?? 'rare' })),
      paired_libsql_to_better: pairedDrivers,
      search_anatomy: anatomy,
      bound_limit_experiment: limitTest,
      store_anatomy: storeParts,
      store_decomposition: decomposition,
      libsql_copied: copyLibsql,
      results_identical: sameKeys.every(Boolean),
      seconds: round(elapsedNs(started) / 1e9),
    },
    keepFile,
  }
}

// ---------------------------------------------------------------- machine, source

async function sqliteBuild(driver: Driver): Promise<{ sqlite: string; compile_options: string[] }> {
  try {
    const Database = await loadDriver(driver)
    const db = new Database(':memory:')
    const [row] = db.prepare('SELECT sqlite_version() AS v').all() as { v: string }[]
    const options = (db.prepare('PRAGMA compile_options').all() as { compile_options: string }[]).map((r) => r.compile_options)
    db.close()
    return { sqlite: row?.v ?? '?', compile_options: options }
  } catch {
    return { sqlite: 'unavailable', compile_options: [] }
  }
}

async function machineInfo(): Promise<MachineInfo> {
  return {
    ...hostInfo(),
    arch: os.arch(),
    cpu_mhz: os.cpus()[0]?.speed ?? 0,
    v8: process.versions.v8,
    icu: process.versions.icu,
    drivers: {
      'better-sqlite3': { version: packageVersion('better-sqlite3'), ...(await sqliteBuild('better-sqlite3')) },
      libsql: { version: packageVersion('libsql'), ...(await sqliteBuild('libsql')) },
    },
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      'libsql-full': { type: 'boolean', default: false },
    },
  })
  const sizes = values.quick ? [1_000] : values.sizes ? values.sizes.split(',').map((s) => Number(s.trim())) : DEFAULT_SIZES
  if (sizes.some((n) => !Number.isInteger(n) || n < 100)) throw new Error(`--sizes must be whole numbers >= 100, got ${values.sizes}`)
  const outDir = path.resolve(values.out ?? path.join(ROOT, 'bench', 'results'))
  const startedAt = new Date()
  const date = startedAt.toISOString().slice(0, 10)
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'agent-ltm-bench-'))
  log(`sizes ${sizes.join(', ')}; temp dir ${tmp}`)

  const machine = await machineInfo()
  const results: BenchResults = {
    date,
    started_at: startedAt.toISOString(),
    machine,
    source_fingerprint: sourceFingerprint(ROOT),
    config: {
      sizes,
      store_ops: STORE_OPS,
      retrieve_ops: RETRIEVE_OPS,
      search_queries: SEARCH_QUERIES,
      filter_ops: FILTER_OPS,
      batch_size: BATCH_SIZE,
      rounds: ROUNDS,
      cold_runs: COLD_RUNS,
      libsql_fill_max: values['libsql-full'] ? null : LIBSQL_FILL_MAX,
    },
    sizes: [],
    micro: [],
    cold_start: null,
    elapsed_s: 0,
  }

  try {
    const coldSize = sizes.includes(10_000) ? 10_000 : sizes[0]!
    for (const size of sizes) {
      const { result, keepFile } = await runSize(size, tmp, values['libsql-full'] === true)
      results.sizes.push(result)
      const sdk = result.variants[variantId('sdk', 'better-sqlite3')]!
      const raw = result.variants[variantId('raw', 'better-sqlite3')]!
      log(`N=${size}: done in ${result.seconds}s; store p50 sdk ${sdk.ops.store.p50_us}µs raw ${raw.ops.store.p50_us}µs; search p50 sdk ${sdk.ops.search.p50_us}µs`)
      if (size === coldSize) {
        log(`cold start on the ${size} database`)
        results.cold_start = coldStart(keepFile, size, memory(42).key)
      }
      removeDb(keepFile)
    }
    log('micro-costs')
    results.micro = await measureMicroCosts()
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }

  machine.load_average_end = loadAverage()
  results.elapsed_s = round(elapsedNs(T0) / 1e9)
  const jsonPath = writeResultsJson(outDir, `${date}${values.quick ? '-quick' : ''}.json`, results)
  const markdown = renderMarkdown(results)
  let mdPath: string
  if (values.quick) writeFileSync((mdPath = path.join(outDir, `${date}-quick.md`)), markdown)
  else mdPath = updateBenchmarks(values.out ? outDir : undefined, () => markdown)
  log(`wrote ${path.relative(ROOT, jsonPath)} and ${path.relative(ROOT, mdPath)} in ${results.elapsed_s}s (median cold start ${results.cold_start ? median(results.cold_start.by_driver['better-sqlite3']!.wall_ms) : '-'} ms)`)
  if (values.quick) {
    // The smoke run covers the remote backends too; their full run is `npm run bench:remote`.
    log('remote backends, quick run')
    runChild('remote/run.ts', ['--quick', '--out', outDir])
    log(`wrote ${path.relative(ROOT, outDir) || '.'}/remote-${date}-quick.json`)
  }
}

await main()

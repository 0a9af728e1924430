import type { MemoryBackend, PageRequest, PreparedWrite, ScoredMemory, SearchRequest, StoredMemory, WriteOutcome } from '../core/backend.js'
import { LtmFailure } from '../core/errors.js'
import { IssueOrder, TransactionGate } from '../engines/gate.js'
import type { Transport } from '../transport/transport.js'
import { supabaseFailure } from './errors.js'

/** The version of supabase/agent-ltm.sql this code speaks (`agent_ltm_version()`). */
export const SUPABASE_SQL_VERSION = 1

/** Functions that only read: sent as POST like every RPC, but safe to retry. */
export const READ_FUNCTIONS: ReadonlySet<string> = new Set(['agent_ltm_version', 'agent_ltm_read', 'agent_ltm_search', 'agent_ltm_page', 'agent_ltm_stats'])

/** The subset of a supabase-js client this backend calls (typed structurally: supabase-js is an optional peer). */
export interface SupabaseRpcClient {
  rpc(fn: string, args?: Record<string, unknown>): RpcRequest
}
interface RpcRequest extends PromiseLike<{ data: unknown }> {
  retry(enabled: boolean): RpcRequest
  throwOnError(): RpcRequest
}

/** A memory row as agent_ltm_read / _search / _page return it. */
interface Row {
  namespace?: string
  key: string
  value: string
  metadata: string
  content_hash: string
  created_at: number
  updated_at: number
  expires_at: number | null
  score?: number
  /** The row version (xmin), from agent_ltm_read: what a transaction's commit checks. */
  version?: string
}

/** One entry of agent_ltm_write: a memory to store, or a delete (queued by a transaction). */
type WriteEntry = Record<string, unknown>

/** A transaction's queued writes and what it saw of each memory they touch (checked at commit). */
interface Pending {
  entries: WriteEntry[]
  /** By namespace and key: the first version seen (null: no live memory at `now`). */
  guards: Map<string, { namespace: string; key: string; version: string | null; now: number }>
}

// PostgreSQL's integer: a larger limit means "all", as it does for the other backends.
const MAX_INT = 2_147_483_647

function toStored(row: Row, namespace: string): StoredMemory {
  return {
    namespace: row.namespace ?? namespace,
    key: row.key,
    valueJson: row.value,
    metadataJson: row.metadata,
    contentHash: row.content_hash,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    expiresAt: row.expires_at === null || row.expires_at === undefined ? null : Number(row.expires_at),
  }
}

function writeEntry(write: PreparedWrite): WriteEntry {
  return {
    namespace: write.namespace,
    key: write.key,
    value: write.valueJson,
    metadata: write.metadataJson,
    content_hash: write.contentHash,
    terms: write.termsJson,
    length: write.length,
    expires_at: write.expiresAt,
    explicit_expiry: write.explicitExpiry,
  }
}

/** What a write reports when it is only queued (a transaction): decided against the committed row, as agent_ltm_write decides. */
function outcomeAgainst(write: PreparedWrite, before: StoredMemory | undefined): WriteOutcome {
  if (!before) return { status: 'created', expiresAt: write.expiresAt }
  const sameExpiry = !write.explicitExpiry || before.expiresAt === write.expiresAt
  const same = sameExpiry && before.contentHash === write.contentHash && before.metadataJson === write.metadataJson
  return same ? { status: 'unchanged', expiresAt: before.expiresAt } : { status: 'updated', expiresAt: write.expiresAt }
}

/** State shared by a handle's backend and the transaction-scoped backends made from it. */
interface Shared {
  client: SupabaseRpcClient
  transport: Transport
  gate: TransactionGate
  order: IssueOrder
  closed: boolean
}

/**
 * Supabase through its Data API (PostgREST): every operation is one RPC to the functions of
 * supabase/agent-ltm.sql, so one HTTP request, and row-level security decides whose memories they
 * are. PostgREST has no interactive transactions: a transaction queues its writes and sends them as
 * one agent_ltm_write at commit (reads inside it see the state before it, as on D1), guarded by the
 * row versions it read, so a concurrent change to one of its memories aborts it as a `conflict`.
 */
export class SupabaseMemoryBackend implements MemoryBackend {
  readonly name = 'supabase'

  /** `pending`: the queue of the transaction this backend is scoped to; absent outside transactions. */
  private constructor(
    private readonly shared: Shared,
    private readonly pending?: Pending,
  ) {}

  /** Checks agent-ltm's SQL is installed in a version this code speaks (one request). */
  static async open(client: SupabaseRpcClient, transport: Transport): Promise<SupabaseMemoryBackend> {
    const backend = new SupabaseMemoryBackend({ client, transport, gate: new TransactionGate(), order: new IssueOrder(), closed: false })
    const version = await backend.#rpc<unknown>('agent_ltm_version', {})
    if (version !== SUPABASE_SQL_VERSION) {
      const newer = typeof version === 'number' && version > SUPABASE_SQL_VERSION
      throw new LtmFailure(
        'backend_error',
        newer
          ? `supabase: the project has agent-ltm SQL version ${version}, newer than this agent-ltm understands (${SUPABASE_SQL_VERSION}); upgrade agent-ltm`
          : `supabase: the project has agent-ltm SQL version ${JSON.stringify(version)}, this agent-ltm needs ${SUPABASE_SQL_VERSION}: run the SQL that \`npx agent-ltm supabase-sql\` prints again`,
      )
    }
    return backend
  }

  /** One RPC; PostgREST's errors and transport failures become one LtmFailure. */
  async #rpc<T>(fn: string, args: Record<string, unknown>): Promise<T> {
    try {
      // supabase-js's own retries are off: the transport retries what is safe to retry.
      const { data } = await this.shared.client.rpc(fn, args).retry(false).throwOnError()
      return data as T
    } catch (error) {
      throw supabaseFailure(error, fn, (text) => this.shared.transport.redact(text))
    }
  }

  /** Outside a transaction: waits for an open transaction, then keeps the handle's issue order. */
  async #call<T>(kind: 'read' | 'write', fn: string, args: Record<string, unknown>): Promise<T> {
    if (this.pending) return this.#rpc<T>(fn, args)
    await this.shared.gate.idle()
    return kind === 'read' ? this.shared.order.read(() => this.#rpc<T>(fn, args)) : this.shared.order.write(() => this.#rpc<T>(fn, args))
  }

  /** Inside a transaction: reads the memories a queued write or delete touches, and keeps their versions for the commit's guards. */
  async #readGuarded(pending: Pending, namespace: string, keys: string[], now: number): Promise<Map<string, StoredMemory>> {
    const rows = await this.#rpc<Row[]>('agent_ltm_read', { p_namespace: namespace, p_keys: keys, p_now: now })
    const found = new Map(rows.map((row) => [row.key, row]))
    for (const key of keys) {
      const id = JSON.stringify([namespace, key])
      if (!pending.guards.has(id)) pending.guards.set(id, { namespace, key, version: found.get(key)?.version ?? null, now })
    }
    return new Map(rows.map((row) => [row.key, toStored(row, namespace)]))
  }

  async write(entries: PreparedWrite[], now: number): Promise<WriteOutcome[]> {
    if (this.pending) {
      const outcomes: WriteOutcome[] = []
      for (const namespace of new Set(entries.map((e) => e.namespace))) {
        const before = await this.#readGuarded(this.pending, namespace, [...new Set(entries.filter((e) => e.namespace === namespace).map((e) => e.key))], now)
        for (const [i, entry] of entries.entries()) if (entry.namespace === namespace) outcomes[i] = outcomeAgainst(entry, before.get(entry.key))
      }
      this.pending.entries.push(...entries.map((entry) => ({ ...writeEntry(entry), now })))
      return outcomes
    }
    const outcomes = await this.#call<Array<{ status: WriteOutcome['status']; expires_at: number | null }>>('write', 'agent_ltm_write', { p_entries: entries.map(writeEntry), p_now: now })
    if (!Array.isArray(outcomes) || outcomes.length !== entries.length) {
      throw new LtmFailure('backend_error', `supabase: agent_ltm_write answered ${Array.isArray(outcomes) ? outcomes.length : typeof outcomes} outcomes for ${entries.length} entries`)
    }
    return outcomes.map((o) => ({ status: o.status, expiresAt: o.expires_at === null ? null : Number(o.expires_at) }))
  }

  async read(namespace: string, keys: string[], now: number): Promise<Map<string, StoredMemory>> {
    const found = new Map<string, StoredMemory>()
    if (keys.length === 0) return found
    const rows = await this.#call<Row[]>('read', 'agent_ltm_read', { p_namespace: namespace, p_keys: keys, p_now: now })
    for (const row of rows) found.set(row.key, toStored(row, namespace))
    return found
  }

  async remove(namespace: string, key: string, now: number): Promise<boolean> {
    if (this.pending) {
      const live = await this.#readGuarded(this.pending, namespace, [key], now)
      this.pending.entries.push({ op: 'delete', namespace, key, now })
      return live.size > 0
    }
    return (await this.#call<boolean>('write', 'agent_ltm_delete', { p_namespace: namespace, p_key: key, p_now: now })) === true
  }

  async search(request: SearchRequest): Promise<ScoredMemory[]> {
    const { namespace, query, filter, limit, now } = request
    const terms = (query?.terms ?? []).map((t) => ({ term: t.term, prefix: t.prefix, role: t.excluded ? 2 : t.required || query!.matchAll ? 1 : 0 }))
    const rows = await this.#call<Row[]>('read', 'agent_ltm_search', { p_namespace: namespace, p_terms: terms, p_filter: filter, p_limit: Math.min(limit, MAX_INT), p_now: now })
    return rows.map((row) => ({ ...toStored(row, namespace), score: Number(row.score) }))
  }

  async cleanupExpired(namespace: string, now: number): Promise<number> {
    return Number(await this.#call<number>('write', 'agent_ltm_cleanup', { p_namespace: namespace, p_now: now }))
  }

  async page(request: PageRequest): Promise<StoredMemory[]> {
    const { namespace, includeDescendants, after, pageSize, now } = request
    const rows = await this.#call<Row[]>('read', 'agent_ltm_page', {
      p_namespace: namespace,
      p_descendants: includeDescendants,
      p_after_namespace: after?.namespace ?? null,
      p_after_key: after?.key ?? null,
      p_limit: Math.min(pageSize, MAX_INT),
      p_now: now,
    })
    return rows.map((row) => toStored(row, namespace))
  }

  async transaction<T>(fn: (backend: MemoryBackend) => Promise<T>): Promise<T> {
    const release = await this.shared.gate.enter()
    try {
      const pending: Pending = { entries: [], guards: new Map() }
      const value = await fn(new SupabaseMemoryBackend(this.shared, pending))
      // The commit is the only write: one request, atomic in PostgreSQL, refused (40001, conflict)
      // if another writer changed a memory this transaction writes after it read it. Each entry
      // carries the time it was made at.
      if (pending.entries.length > 0) {
        await this.#rpc('agent_ltm_write', { p_entries: pending.entries, p_now: Date.now(), p_guards: [...pending.guards.values()] })
      }
      return value
    } finally {
      release()
    }
  }

  async stats(): Promise<Record<string, unknown>> {
    const counts = await this.#call<Record<string, unknown>>('read', 'agent_ltm_stats', {})
    return { engine: 'supabase (PostgREST)', ...counts, transport: this.shared.transport.stats() }
  }

  async close(): Promise<void> {
    if (this.shared.closed) return
    this.shared.closed = true
    await this.shared.gate.idle()
  }
}

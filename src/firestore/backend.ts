import type { MemoryBackend, PageRequest, PreparedWrite, ScoredMemory, SearchRequest, StoredMemory, WriteOutcome } from '../core/backend.js'
import { LtmError, LtmFailure, invalidInput } from '../core/errors.js'
import type { FilterCondition } from '../core/filter.js'
import type { JsonValue } from '../core/types.js'
import { IssueOrder } from '../engines/gate.js'
import type { Transport } from '../transport/transport.js'
import { ANY_OF_LIMIT, matches, pushdown } from './filter.js'
import { MAX_DOC_BYTES, READ_FIELDS, STATE_FIELDS, indexTerms, isLive, isWellFormed, memoryId, sizing, type MemoryDoc, type ServerMemory } from './model.js'
import { Overlay } from './overlay.js'
import { Role, inRange, newestFirst, planTerms, rank, type PlannedTerm } from './rank.js'
import { FirestoreStore, NO_SESSION, TxSession, isRace, type Change, type ReadSession } from './store.js'

/**
 * agent-ltm on Firestore (see model.ts for the data model, store.ts for the requests).
 *
 * Writes: a write of keys this handle has not seen is first tried as ONE commit that creates them
 * (precondition `exists: false`) with its statistics increments: a new memory costs one request.
 * If a key exists after all (or the handle knows it does), the current versions are read (one
 * batchGet) and the write is committed with `updateTime` preconditions (one commit), retried from
 * the read if another writer got in between. A deduplicated store is that read alone.
 *
 * Search: Firestore has no full-text search. Candidates are the namespace's memories whose `terms`
 * array holds a query term (`array-contains-any`, 30 values per query, queries in parallel), with metadata
 * equality / `$in` pushed into the query; BM25 is computed in the SDK from the stored statistics,
 * and every filter is decided again in the SDK before the limit.
 *
 * Transactions are interactive: reads go to Firestore inside the transaction, writes wait in an
 * overlay until one commit, and reads see the transaction's own writes through it.
 */

const MAX_ATTEMPTS = 5
/**
 * Candidate queries one search may send in parallel (ANY_OF_LIMIT words each). A query (or a
 * `prefix*` expansion) of more indexed words keeps the rarest MAX_ANY_OF and may miss memories
 * holding only the others; `stats().search_truncated` counts such searches.
 */
const MAX_CANDIDATE_QUERIES = 10
const MAX_ANY_OF = ANY_OF_LIMIT * MAX_CANDIDATE_QUERIES
/** Firestore allows 40,000 index entries per document; each term costs two (array + composite index). */
export const MAX_TERMS = 15_000
/** Ids this handle knows to exist: writes to them skip the create-first attempt. */
const KNOWN_LIMIT = 50_000

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Shared {
  store: FirestoreStore
  transport: Transport
  info: Record<string, unknown>
  known: Set<string>
  counters: { create_first: number; create_first_missed: number; write_retries: number; search_truncated: number }
  lastOrd: number
}

interface TxState {
  session: TxSession
  overlay: Overlay
  order: IssueOrder
  ended: boolean
}

interface Plan {
  outcomes: WriteOutcome[]
  changes: Change[]
}

function toStored(doc: MemoryDoc): StoredMemory {
  return {
    namespace: doc.ns,
    key: doc.key,
    valueJson: doc.valueJson ?? 'null',
    metadataJson: doc.metadataJson,
    contentHash: doc.contentHash,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    expiresAt: doc.expiresAt,
  }
}

const metadataOf = (doc: MemoryDoc): JsonValue => JSON.parse(doc.metadataJson) as JsonValue

function checkIdentity(doc: ServerMemory | null | undefined, ns: string, key: string): void {
  if (doc && (doc.ns !== ns || doc.key !== key)) {
    throw new LtmFailure('backend_error', `firestore: document ${doc.id} holds ${JSON.stringify(doc.ns)}/${JSON.stringify(doc.key)}, not ${JSON.stringify(ns)}/${JSON.stringify(key)} (an id collision, or a document written by something else)`)
  }
}

export class FirestoreMemoryBackend implements MemoryBackend {
  readonly name = 'firestore'
  readonly #shared: Shared
  readonly #tx: TxState | null
  readonly #order = new IssueOrder()

  constructor(store: FirestoreStore, transport: Transport, info: Record<string, unknown>)
  constructor(shared: Shared, tx: TxState)
  constructor(storeOrShared: FirestoreStore | Shared, transportOrTx: Transport | TxState, info?: Record<string, unknown>) {
    if (storeOrShared instanceof FirestoreStore) {
      this.#shared = {
        store: storeOrShared,
        transport: transportOrTx as Transport,
        info: info ?? {},
        known: new Set(),
        counters: { create_first: 0, create_first_missed: 0, write_retries: 0, search_truncated: 0 },
        lastOrd: 0,
      }
      this.#tx = null
    } else {
      this.#shared = storeOrShared
      this.#tx = transportOrTx as TxState
    }
  }

  get #store(): FirestoreStore {
    return this.#shared.store
  }

  /** Runs `fn` in issue order: on the handle, or inside the transaction. */
  #run<T>(kind: 'read' | 'write', fn: () => Promise<T>): Promise<T> {
    const tx = this.#tx
    if (tx?.ended) return Promise.reject(new LtmFailure('backend_error', 'firestore: this transaction has ended'))
    const order = tx?.order ?? this.#order
    return kind === 'read' ? order.read(fn) : order.write(fn)
  }

  #remember(ids: Iterable<[string, boolean]>): void {
    const known = this.#shared.known
    for (const [id, exists] of ids) {
      known.delete(id)
      if (exists) known.add(id)
    }
    while (known.size > KNOWN_LIMIT) known.delete(known.values().next().value as string)
  }

  /** A creation order that never goes backwards on this handle (SQLite's rowid plays this part). */
  #nextOrd(now: number): number {
    this.#shared.lastOrd = Math.max(now * 1000, this.#shared.lastOrd + 1)
    return this.#shared.lastOrd
  }

  // ------------------------------------------------------------------ writes

  #validate(entry: PreparedWrite): void {
    if (!isWellFormed(entry.key)) throw invalidInput('firestore: key contains a lone surrogate (not well-formed Unicode), which Firestore cannot store')
    if (!isWellFormed(entry.namespace)) throw invalidInput('firestore: namespace contains a lone surrogate (not well-formed Unicode), which Firestore cannot store')
    const terms = indexTerms(entry.termsJson)
    if (terms.length > MAX_TERMS) throw invalidInput(`firestore: the value has ${terms.length} distinct words; a Firestore document can index at most ${MAX_TERMS}`)
    const { restBytes } = sizing({ valueJson: '', tfJson: entry.termsJson, terms, metadataJson: entry.metadataJson, key: entry.key })
    if (restBytes > MAX_DOC_BYTES) throw invalidInput(`firestore: the metadata and search index of this memory take ${restBytes} bytes; a Firestore document holds about ${MAX_DOC_BYTES}`)
  }

  /** Applies the entries in order to the versions `initial` gives, as the SQL upsert does. */
  #plan(entries: PreparedWrite[], ids: string[], initial: (id: string) => MemoryDoc | null, now: number): Plan {
    const state = new Map<string, MemoryDoc | null>()
    const namespaces = new Map<string, string>()
    const outcomes = entries.map((entry, i): WriteOutcome => {
      const id = ids[i]!
      const current = state.has(id) ? state.get(id)! : initial(id)
      const live = current !== null && isLive(current, now)
      if (live) {
        const sameExpiry = !entry.explicitExpiry || current.expiresAt === entry.expiresAt
        if (sameExpiry && current.contentHash === entry.contentHash && current.metadataJson === entry.metadataJson) return { status: 'unchanged', expiresAt: current.expiresAt }
      }
      namespaces.set(id, entry.namespace)
      state.set(id, {
        id,
        ns: entry.namespace,
        key: entry.key,
        valueJson: entry.valueJson,
        chunks: null,
        metadataJson: entry.metadataJson,
        contentHash: entry.contentHash,
        tfJson: entry.termsJson,
        terms: indexTerms(entry.termsJson),
        docLen: entry.length,
        createdAt: live ? current.createdAt : now,
        updatedAt: now,
        expiresAt: entry.expiresAt,
        // An existing memory keeps its place, an expired one replaced too (SQL keeps the rowid).
        ord: current ? current.ord : this.#nextOrd(now),
      })
      return { status: live ? 'updated' : 'created', expiresAt: entry.expiresAt }
    })
    const changes = [...state.entries()].map(([id, after]) => ({ id, ns: namespaces.get(id)!, before: initial(id), after }))
    return { outcomes, changes }
  }

  async write(entries: PreparedWrite[], now: number): Promise<WriteOutcome[]> {
    for (const entry of entries) this.#validate(entry)
    const ids = await Promise.all(entries.map((entry) => memoryId(entry.namespace, entry.key)))
    return this.#run('write', () => (this.#tx ? this.#txWrite(this.#tx, entries, ids, now) : this.#plainWrite(entries, ids, now)))
  }

  async #plainWrite(entries: PreparedWrite[], ids: string[], now: number): Promise<WriteOutcome[]> {
    const { store, known, counters } = this.#shared
    if (!ids.some((id) => known.has(id))) {
      const plan = this.#plan(entries, ids, () => null, now)
      const units = plan.changes.map((change) => store.unit(change, { exists: false }))
      if (store.fitsOneCommit(units)) {
        try {
          await store.commit(units)
          counters.create_first++
          this.#remember(plan.changes.map((c) => [c.id, true]))
          return plan.outcomes
        } catch (error) {
          // ALREADY_EXISTS (the usual miss), or ABORTED: a lock held by a transaction. Nothing was written.
          if (!isRace(error)) throw error
          counters.create_first_missed++
        }
      }
    }
    for (let attempt = 1; ; attempt++) {
      const before = await store.memories(ids, STATE_FIELDS, NO_SESSION)
      entries.forEach((entry, i) => checkIdentity(before.get(ids[i]!), entry.namespace, entry.key))
      const plan = this.#plan(entries, ids, (id) => before.get(id) ?? null, now)
      const units = plan.changes.map((change) => store.unit(change, change.before ? { updateTime: (change.before as ServerMemory).updateTime } : { exists: false }))
      try {
        await store.commit(units)
        this.#remember([...ids.map((id): [string, boolean] => [id, before.has(id)]), ...plan.changes.map((c): [string, boolean] => [c.id, c.after !== null])])
        return plan.outcomes
      } catch (error) {
        if (!isRace(error) || (error as { partial?: boolean }).partial || attempt >= MAX_ATTEMPTS) throw error
        counters.write_retries++
        await sleep(Math.random() * 25 * 2 ** attempt)
      }
    }
  }

  /** Loads the server versions of `ids` this transaction has not read yet (with their values). */
  async #txLoad(tx: TxState, ids: string[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => tx.overlay.state(id) === undefined)
    if (missing.length === 0) return
    const found = await this.#store.memories(missing, READ_FIELDS, tx.session)
    for (const id of missing) tx.overlay.seen.set(id, found.get(id) ?? null)
  }

  async #txWrite(tx: TxState, entries: PreparedWrite[], ids: string[], now: number): Promise<WriteOutcome[]> {
    await this.#txLoad(tx, ids)
    entries.forEach((entry, i) => checkIdentity(tx.overlay.seen.get(ids[i]!), entry.namespace, entry.key))
    const plan = this.#plan(entries, ids, (id) => tx.overlay.state(id) ?? null, now)
    for (const change of plan.changes) tx.overlay.set(change.id, change.ns, change.after)
    return plan.outcomes
  }

  async remove(namespace: string, key: string, now: number): Promise<boolean> {
    if (!isWellFormed(key) || !isWellFormed(namespace)) return false
    const id = await memoryId(namespace, key)
    return this.#run('write', async () => {
      const tx = this.#tx
      if (tx) {
        await this.#txLoad(tx, [id])
        checkIdentity(tx.overlay.seen.get(id), namespace, key)
        const current = tx.overlay.state(id) ?? null
        if (!current) return false
        tx.overlay.set(id, namespace, null)
        return isLive(current, now)
      }
      const { store, counters } = this.#shared
      for (let attempt = 1; ; attempt++) {
        const doc = (await store.memories([id], STATE_FIELDS, NO_SESSION)).get(id)
        checkIdentity(doc, namespace, key)
        if (!doc) {
          this.#remember([[id, false]])
          return false
        }
        try {
          await store.commit([store.unit({ id, ns: namespace, before: doc, after: null }, { updateTime: doc.updateTime })])
          this.#remember([[id, false]])
          return isLive(doc, now)
        } catch (error) {
          if (!isRace(error) || attempt >= MAX_ATTEMPTS) throw error
          counters.write_retries++
          await sleep(Math.random() * 25 * 2 ** attempt)
        }
      }
    })
  }

  async cleanupExpired(namespace: string, now: number): Promise<number> {
    if (this.#tx) throw new LtmFailure('backend_error', 'firestore: cleanupExpired is not available inside a transaction')
    return this.#run('write', async () => {
      const { store, counters } = this.#shared
      for (let attempt = 1; ; attempt++) {
        const expired = await store.expired(namespace, now, NO_SESSION)
        if (expired.length === 0) return 0
        try {
          await store.commit(expired.map((doc) => store.unit({ id: doc.id, ns: namespace, before: doc, after: null }, { updateTime: doc.updateTime })))
          this.#remember(expired.map((doc) => [doc.id, false]))
          return expired.length
        } catch (error) {
          if (!isRace(error) || (error as { partial?: boolean }).partial || attempt >= MAX_ATTEMPTS) throw error
          counters.write_retries++
        }
      }
    })
  }

  // ------------------------------------------------------------------ reads

  async read(namespace: string, keys: string[], now: number): Promise<Map<string, StoredMemory>> {
    const wanted = keys.filter((key) => isWellFormed(key) && isWellFormed(namespace))
    const ids = await Promise.all(wanted.map((key) => memoryId(namespace, key)))
    return this.#run('read', async () => {
      const tx = this.#tx
      let docs: Map<string, MemoryDoc | null>
      if (tx) {
        await this.#txLoad(tx, ids)
        docs = new Map(ids.map((id) => [id, tx.overlay.state(id) ?? null]))
      } else {
        const found = await this.#store.memories(ids, READ_FIELDS, NO_SESSION)
        this.#remember(ids.map((id) => [id, found.has(id)]))
        docs = found
      }
      const live: MemoryDoc[] = []
      wanted.forEach((key, i) => {
        const doc = docs.get(ids[i]!)
        if (tx) checkIdentity(tx.overlay.seen.get(ids[i]!), namespace, key)
        else checkIdentity(doc as ServerMemory | undefined, namespace, key)
        if (doc && isLive(doc, now)) live.push(doc)
      })
      await this.#store.loadValues(live, tx?.session ?? NO_SESSION)
      return new Map(live.map((doc) => [doc.key, toStored(doc)]))
    })
  }

  async page(request: PageRequest): Promise<StoredMemory[]> {
    if (this.#tx) throw new LtmFailure('backend_error', 'firestore: iterateAll is not available inside a transaction')
    return this.#run('read', async () => {
      const docs = await this.#store.page(request, NO_SESSION)
      await this.#store.loadValues(docs, NO_SESSION)
      return docs.map(toStored)
    })
  }

  async search(request: SearchRequest): Promise<ScoredMemory[]> {
    return this.#run('read', async () => {
      const session = this.#tx?.session ?? NO_SESSION
      const overlay = this.#tx?.overlay ?? null
      const ranked = request.query ? await this.#rankedSearch(request, session, overlay) : (await this.#list(request, session, overlay)).map((doc) => ({ doc, score: 0 }))
      await this.#store.loadValues(
        ranked.map((r) => r.doc),
        session,
      )
      return ranked.map(({ doc, score }) => ({ ...toStored(doc), score }))
    })
  }

  /** Candidates holding any of `anyOf`, with the transaction's own versions in place of the server's. */
  async #candidates(ns: string, anyOf: string[], filter: FilterCondition[], session: ReadSession, overlay: Overlay | null): Promise<MemoryDoc[]> {
    const server: MemoryDoc[] = await this.#store.candidates(ns, anyOf, pushdown(filter, Math.min(anyOf.length, ANY_OF_LIMIT)), session)
    if (!overlay) return server
    const wanted = new Set(anyOf)
    const own = overlay
      .inNamespace(ns)
      .map((entry) => entry.current)
      .filter((doc): doc is MemoryDoc => doc !== null && doc.terms.some((term) => wanted.has(term)))
    return [...server.filter((doc) => !overlay.entries.has(doc.id)), ...own]
  }

  async #rankedSearch(request: SearchRequest, session: ReadSession, overlay: Overlay | null): Promise<Array<{ doc: MemoryDoc; score: number }>> {
    const { namespace: ns, query, filter, limit, now } = request
    const store = this.#store
    const terms = planTerms(query!)
    const positive = terms.filter((t) => t.role !== Role.Excluded)
    const exact = [...new Set(positive.filter((t) => t.hi === null).map((t) => t.term))]
    const prefixes = positive.filter((t) => t.hi !== null)
    const required = terms.filter((t) => t.role === Role.Required)

    // Exact words only: the candidates do not depend on the statistics, so both go at once.
    const quickAnyOf = required.length > 0 ? [...new Set(required.map((t) => t.term))] : exact
    const quick = prefixes.length === 0 && quickAnyOf.length <= MAX_ANY_OF
    const early = quick && quickAnyOf.length > 0 ? this.#candidates(ns, quickAnyOf, filter, session, overlay) : null
    early?.catch(() => undefined)

    // Statistics are read outside any transaction: every write of the namespace increments them, so
    // a transaction holding them (Firestore locks what a transaction reads) would stall every writer.
    // They only weigh the ranking; the transaction's own writes are added from its overlay.
    const stats = NO_SESSION
    const [corpus, serverExpansions] = await Promise.all([store.corpus(ns, exact, stats), Promise.all(prefixes.map((p) => store.expand(ns, p.term, p.hi!, stats)))])
    const delta = overlay?.delta(ns)
    if (delta) {
      corpus.docCount += delta.docCount
      corpus.tokenCount += delta.tokenCount
      for (const [term, n] of delta.df) if (corpus.df.has(term)) corpus.df.set(term, corpus.df.get(term)! + n)
    }
    const expansions = prefixes.map((p, i) => {
      const terms = new Map(serverExpansions[i]!)
      for (const [term, n] of delta?.df ?? []) if (inRange(term, p.term, p.hi!)) terms.set(term, (terms.get(term) ?? 0) + n)
      for (const [term, n] of terms) if (n <= 0) terms.delete(term)
      return terms
    })
    const expansionOf = (t: PlannedTerm): Map<string, number> => expansions[prefixes.indexOf(t)]!
    const dfOfExact = (term: string): number => corpus.df.get(term) ?? 0
    if (required.some((t) => (t.hi === null ? dfOfExact(t.term) === 0 : expansionOf(t).size === 0))) return []

    let anyOf: string[]
    if (quick) anyOf = quickAnyOf
    else if (required.length > 0) {
      // Every match holds each required term: fetch by the rarest one that fits in the queries allowed.
      const options = required
        .map((t) => (t.hi === null ? { values: [t.term], cost: dfOfExact(t.term) } : { values: [...expansionOf(t).keys()], cost: [...expansionOf(t).values()].reduce((a, b) => a + b, 0) }))
        .sort((a, b) => a.cost - b.cost)
      const chosen = options.find((o) => o.values.length <= MAX_ANY_OF) ?? options[0]!
      if (chosen.values.length > MAX_ANY_OF) this.#shared.counters.search_truncated++
      anyOf = chosen.values.slice(0, MAX_ANY_OF)
    } else {
      // Any word may match: every indexed term, rarest first (beyond MAX_ANY_OF the commonest are dropped).
      const all = new Map<string, number>()
      for (const term of exact) if (dfOfExact(term) > 0) all.set(term, dfOfExact(term))
      for (const expansion of expansions) for (const [term, n] of expansion) all.set(term, n)
      if (all.size > MAX_ANY_OF) this.#shared.counters.search_truncated++
      anyOf = [...all.entries()].sort((a, b) => a[1] - b[1]).slice(0, MAX_ANY_OF).map(([term]) => term)
    }
    if (anyOf.length === 0) return []

    const [candidates, prefixCounts] = await Promise.all([
      early ?? this.#candidates(ns, anyOf, filter, session, overlay),
      Promise.all(
        prefixes.map(async (p) => {
          const expansion = [...expansionOf(p).keys()]
          const server = expansion.length === 0 ? 0 : await store.countAny(ns, expansion, stats)
          return server + (overlay?.rangeCountDelta(ns, p.term, p.hi!) ?? 0)
        }),
      ),
    ])
    const df = terms.map((t) => (t.role === Role.Excluded ? 1 : t.hi === null ? dfOfExact(t.term) : prefixCounts[prefixes.indexOf(t)]!))
    const eligible = candidates.filter((doc) => isLive(doc, now) && (filter.length === 0 || matches(metadataOf(doc), filter)))
    return rank(terms, df, corpus, eligible).slice(0, limit)
  }

  /** Filter-only listing, newest update first; filters the SDK decides are applied before the limit. */
  async #list(request: SearchRequest, session: ReadSession, overlay: Overlay | null): Promise<MemoryDoc[]> {
    const { namespace: ns, filter, limit, now } = request
    const pushed = pushdown(filter)
    const pageSize = Math.min(Math.max(limit, 20), 500)
    const found: MemoryDoc[] = []
    let cursor: MemoryDoc | null = null
    for (;;) {
      const page = await this.#store.listPage(ns, pushed, cursor, pageSize, session)
      for (const doc of page) {
        if (overlay?.entries.has(doc.id)) continue
        if (isLive(doc, now) && (filter.length === 0 || matches(metadataOf(doc), filter))) found.push(doc)
      }
      if (found.length >= limit || page.length < pageSize) break
      cursor = page[page.length - 1]!
    }
    if (overlay) {
      for (const entry of overlay.inNamespace(ns)) {
        const doc = entry.current
        if (doc && isLive(doc, now) && (filter.length === 0 || matches(metadataOf(doc), filter))) found.push(doc)
      }
    }
    return found.sort(newestFirst).slice(0, limit)
  }

  // ------------------------------------------------------------------ transactions

  async transaction<T>(fn: (backend: MemoryBackend) => Promise<T>): Promise<T> {
    if (this.#tx) throw new LtmError('transaction_misuse', 'transactions do not nest: use the tx handle you already have')
    return this.#order.write(async () => {
      const tx: TxState = { session: new TxSession(), overlay: new Overlay(), order: new IssueOrder(), ended: false }
      const scoped = new FirestoreMemoryBackend(this.#shared, tx)
      const { store } = this.#shared
      let value: T
      try {
        value = await fn(scoped)
        // Calls the callback started but did not await finish before the commit.
        await tx.order.write(async () => undefined)
      } catch (error) {
        tx.ended = true
        if (tx.session.id) await store.client.rollback(tx.session.id).catch(() => undefined)
        throw error
      }
      tx.ended = true
      const changes = tx.overlay.changes()
      if (changes.length === 0) {
        if (tx.session.id) await store.client.rollback(tx.session.id).catch(() => undefined)
        return value
      }
      try {
        await store.commit(
          changes.map((change) => store.unit(change)),
          tx.session.id ?? undefined,
        )
      } catch (error) {
        // A commit that never arrived leaves the transaction's locks held until Firestore expires it
        // (60 s idle), blocking every writer of what it read. If the commit did land, this fails harmlessly.
        if (tx.session.id) await store.client.rollback(tx.session.id).catch(() => undefined)
        throw error
      }
      this.#remember(changes.map((c) => [c.id, c.after !== null]))
      return value
    })
  }

  async stats(): Promise<Record<string, unknown>> {
    const { info, transport, counters, store } = this.#shared
    return { engine: 'firestore-rest', ...info, ...counters, index_fallbacks: store.indexFallbacks, transport: transport.stats() }
  }

  async close(): Promise<void> {
    // Nothing to release: every request is a plain fetch.
  }
}

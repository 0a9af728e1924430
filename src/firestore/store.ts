import type { PageRequest } from '../core/backend.js'
import { LtmFailure } from '../core/errors.js'
import { FirestoreApiError, type FirestoreClient, type FsDocument, type FsFilter, type FsWrite, type ReadConsistency, type StructuredQuery } from './client.js'
import { anyOfChunks } from './filter.js'
import {
  CHUNKS,
  READ_FIELDS,
  STATE_FIELDS,
  fromDocument,
  idOf,
  isLive,
  memoryFields,
  namespaceId,
  sizing,
  splitValue,
  termId,
  type Collections,
  type MemoryDoc,
  type ServerMemory,
} from './model.js'
import { integerValue, readNumber, readString, stringValue, timestampValue, utf8Bytes, type FsFields, type FsValue } from './values.js'

/**
 * Every read and write the Firestore backend makes, as REST calls. Reads go through a session: none
 * outside a transaction, or the transaction (the first read starts it with `newTransaction`, which
 * saves the `beginTransaction` round trip). Writes are planned as units (one memory's change with
 * its statistics delta) and packed into as few commits as Firestore's request limit allows.
 */

export interface ReadSession {
  /** How the next read joins; call `adopt` with the transaction id its answer carried. */
  begin(): Promise<{ consistency: ReadConsistency; adopt(transaction?: string): void }>
}

export const NO_SESSION: ReadSession = { begin: async () => ({ consistency: {}, adopt() {} }) }

/** The reads of one transaction: the first starts it; reads issued meanwhile wait for its id. */
export class TxSession implements ReadSession {
  id: string | null = null
  #first: Promise<void> | null = null

  async begin(): Promise<{ consistency: ReadConsistency; adopt(transaction?: string): void }> {
    while (!this.id && this.#first) await this.#first
    if (this.id) return { consistency: { transaction: this.id }, adopt() {} }
    let done!: () => void
    this.#first = new Promise((resolve) => (done = resolve))
    return {
      consistency: { newTransaction: { readWrite: {} } },
      adopt: (transaction) => {
        if (transaction) this.id = transaction
        this.#first = null
        done()
      },
    }
  }
}

/** One memory going from `before` to `after` (null: absent). */
export interface Change {
  id: string
  ns: string
  before: MemoryDoc | null
  after: MemoryDoc | null
}

export interface Delta {
  docCount: number
  tokenCount: number
  df: Map<string, number>
}

interface Unit {
  ns: string
  /** Chunk documents of a large value: invisible until the memory document points at them. */
  chunkWrites: FsWrite[]
  writes: FsWrite[]
  delta: Delta
  bytes: number
  chunkBytes: number
}

export function deltaOf(before: MemoryDoc | null, after: MemoryDoc | null): Delta {
  const df = new Map<string, number>()
  const old = new Set(before?.terms ?? [])
  const fresh = new Set(after?.terms ?? [])
  for (const term of fresh) if (!old.has(term)) df.set(term, 1)
  for (const term of old) if (!fresh.has(term)) df.set(term, -1)
  return { docCount: (after ? 1 : 0) - (before ? 1 : 0), tokenCount: (after?.docLen ?? 0) - (before?.docLen ?? 0), df }
}

export function addDelta(into: Delta, delta: Delta): void {
  into.docCount += delta.docCount
  into.tokenCount += delta.tokenCount
  for (const [term, n] of delta.df) into.df.set(term, (into.df.get(term) ?? 0) + n)
}

/** Firestore's answers to a precondition that no longer holds: someone wrote in between. */
export const isRace = (error: unknown): boolean =>
  error instanceof FirestoreApiError && (error.status === 'ALREADY_EXISTS' || error.status === 'FAILED_PRECONDITION' || error.status === 'ABORTED') && !/index/i.test(error.message)

const sizeOf = (write: FsWrite): number => utf8Bytes(JSON.stringify(write))
const and = (filters: FsFilter[]): FsFilter => (filters.length === 1 ? filters[0]! : { compositeFilter: { op: 'AND', filters } })
const eq = (fieldPath: string, value: FsValue): FsFilter => ({ fieldFilter: { field: { fieldPath }, op: 'EQUAL', value } })
const cmp = (fieldPath: string, op: string, value: FsValue): FsFilter => ({ fieldFilter: { field: { fieldPath }, op, value } })
const select = (fields: string[]) => ({ fields: fields.map((fieldPath) => ({ fieldPath })) })
const randomVersion = (): string => Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('')
/** Room a statistics write takes in a commit (a term document's name, fields and transform). */
const STATS_WRITE_BYTES = 400

export class FirestoreStore {
  readonly #parent: string
  readonly #ids: { memories: string; namespaces: string; terms: string }
  /** Filter paths Firestore refused for want of an index: those run in the SDK from then on. */
  readonly #unindexed = new Set<string>()
  indexFallbacks = 0

  constructor(
    readonly client: FirestoreClient,
    readonly collections: Collections,
    readonly maxCommitBytes: number,
  ) {
    const slash = collections.memories.lastIndexOf('/')
    this.#parent = slash < 0 ? '' : collections.memories.slice(0, slash)
    const id = (path: string): string => path.slice(path.lastIndexOf('/') + 1)
    this.#ids = { memories: id(collections.memories), namespaces: id(collections.namespaces), terms: id(collections.terms) }
  }

  memoryName(id: string): string {
    return this.client.name(this.collections.memories, id)
  }

  #chunkName(id: string, version: string, index: number): string {
    return `${this.memoryName(id)}/${CHUNKS}/${version}-${index}`
  }

  async #read<T extends { transaction?: string }>(session: ReadSession, run: (consistency: ReadConsistency) => Promise<T>): Promise<T> {
    const { consistency, adopt } = await session.begin()
    let answer: T | undefined
    try {
      answer = await run(consistency)
      return answer
    } finally {
      adopt(answer?.transaction)
    }
  }

  async #query(session: ReadSession, collectionId: string, query: Omit<StructuredQuery, 'from'>): Promise<FsDocument[]> {
    return (await this.#read(session, (c) => this.client.runQuery(this.#parent, { from: [{ collectionId }], ...query }, c))).documents
  }

  /** Memory documents by id (`fields`: a mask), the ones that exist. */
  async memories(ids: string[], fields: string[], session: ReadSession): Promise<Map<string, ServerMemory>> {
    const { found } = await this.#read(session, (c) => this.client.batchGet([...new Set(ids)].map((id) => this.memoryName(id)), { mask: fields, consistency: c }))
    const out = new Map<string, ServerMemory>()
    for (const document of found.values()) out.set(idOf(document.name), fromDocument(document))
    return out
  }

  /** Fills in the values kept in chunk documents, in one request for all of `docs`. */
  async loadValues(docs: MemoryDoc[], session: ReadSession): Promise<void> {
    const pending = docs.filter((doc) => doc.chunks && doc.valueJson === null)
    if (pending.length === 0) return
    const names = pending.flatMap((doc) => Array.from({ length: doc.chunks!.count }, (_, i) => this.#chunkName(doc.id, doc.chunks!.version, i)))
    const { found } = await this.#read(session, (c) => this.client.batchGet(names, { consistency: c }))
    for (const doc of pending) {
      let text = ''
      for (let i = 0; i < doc.chunks!.count; i++) {
        const chunk = readString(found.get(this.#chunkName(doc.id, doc.chunks!.version, i))?.fields?.data)
        if (chunk === null) throw new LtmFailure('backend_error', `firestore: chunk ${i} of the value of ${JSON.stringify(doc.key)} is missing (written by another version, or deleted by hand?)`)
        text += chunk
      }
      doc.valueJson = text
    }
  }

  /** N, total length and df of `terms` in the namespace (one request). */
  async corpus(ns: string, terms: string[], session: ReadSession): Promise<{ docCount: number; tokenCount: number; df: Map<string, number> }> {
    const nsName = this.client.name(this.collections.namespaces, await namespaceId(ns))
    const termNames = await Promise.all(terms.map(async (term) => this.client.name(this.collections.terms, await termId(ns, term))))
    const { found } = await this.#read(session, (c) => this.client.batchGet([nsName, ...termNames], { mask: ['doc_count', 'token_count', 'df'], consistency: c }))
    const nsDoc = found.get(nsName)?.fields ?? {}
    const df = new Map<string, number>()
    terms.forEach((term, i) => df.set(term, readNumber(found.get(termNames[i]!)?.fields?.df) ?? 0))
    return { docCount: readNumber(nsDoc.doc_count) ?? 0, tokenCount: readNumber(nsDoc.token_count) ?? 0, df }
  }

  /** The namespace's terms in [lo, hi) with their df (a `prefix*` query term's expansion). */
  async expand(ns: string, lo: string, hi: string, session: ReadSession): Promise<Map<string, number>> {
    const documents = await this.#query(session, this.#ids.terms, {
      where: and([eq('ns', stringValue(ns)), cmp('term', 'GREATER_THAN_OR_EQUAL', stringValue(lo)), cmp('term', 'LESS_THAN', stringValue(hi))]),
      select: select(['term', 'df']),
    })
    const out = new Map<string, number>()
    for (const document of documents) {
      const term = readString(document.fields?.term)
      const df = readNumber(document.fields?.df) ?? 0
      if (term !== null && df > 0) out.set(term, df)
    }
    return out
  }

  /** How many memories of the namespace hold any of `terms` (expired ones too, as SQL's postings do). */
  async countAny(ns: string, terms: string[], session: ReadSession): Promise<number> {
    const where = (chunk: string[]) => and([eq('ns', stringValue(ns)), cmp('terms', 'ARRAY_CONTAINS_ANY', { arrayValue: { values: chunk.map(stringValue) } })])
    const chunks = anyOfChunks(terms)
    if (chunks.length <= 1) {
      const query: StructuredQuery = { from: [{ collectionId: this.#ids.memories }], where: where(chunks[0] ?? []) }
      return (await this.#read(session, (c) => this.client.count(this.#parent, query, c))).count
    }
    // A memory may hold words of several queries: count distinct documents, not the queries' counts.
    const names = new Set<string>()
    await Promise.all(
      chunks.map(async (chunk) => {
        for (const document of await this.#query(session, this.#ids.memories, { where: where(chunk), select: select(['__name__']) })) names.add(document.name)
      }),
    )
    return names.size
  }

  async #pushed<T>(filters: FsFilter[], run: (filters: FsFilter[]) => Promise<T>): Promise<T> {
    const signature = JSON.stringify(filters.map((f) => ('fieldFilter' in f ? [f.fieldFilter.field.fieldPath, f.fieldFilter.op] : JSON.stringify(f))))
    if (filters.length === 0 || this.#unindexed.has(signature)) return run([])
    try {
      return await run(filters)
    } catch (error) {
      // Production Firestore needs a composite index for some filter combinations; the SDK filters anyway.
      if (!(error instanceof FirestoreApiError && error.status === 'FAILED_PRECONDITION' && /index/i.test(error.message))) throw error
      this.#unindexed.add(signature)
      this.indexFallbacks++
      return run([])
    }
  }

  /**
   * Every memory of the namespace holding any of `anyOf` and passing `pushed`; no limit. Beyond
   * ANY_OF_LIMIT words, one query per ANY_OF_LIMIT of them, in parallel; each memory once.
   */
  async candidates(ns: string, anyOf: string[], pushed: FsFilter[], session: ReadSession): Promise<ServerMemory[]> {
    const byId = new Map<string, ServerMemory>()
    const queries = anyOfChunks(anyOf).map(async (chunk) => {
      const terms =
        chunk.length === 1 ? cmp('terms', 'ARRAY_CONTAINS', stringValue(chunk[0]!)) : cmp('terms', 'ARRAY_CONTAINS_ANY', { arrayValue: { values: chunk.map(stringValue) } })
      const documents = await this.#pushed(pushed, (filters) =>
        this.#query(session, this.#ids.memories, { where: and([eq('ns', stringValue(ns)), terms, ...filters]), select: select(READ_FIELDS) }),
      )
      for (const doc of documents.map(fromDocument)) byId.set(doc.id, doc)
    })
    await Promise.all(queries)
    return [...byId.values()]
  }

  /** A page of the namespace's memories, newest update first, after `cursor`. */
  async listPage(ns: string, pushed: FsFilter[], cursor: MemoryDoc | null, pageSize: number, session: ReadSession): Promise<ServerMemory[]> {
    const documents = await this.#pushed(pushed, (filters) =>
      this.#query(session, this.#ids.memories, {
        where: and([eq('ns', stringValue(ns)), ...filters]),
        orderBy: [
          { field: { fieldPath: 'updated_at' }, direction: 'DESCENDING' },
          { field: { fieldPath: 'ord' }, direction: 'DESCENDING' },
          { field: { fieldPath: '__name__' }, direction: 'DESCENDING' },
        ],
        ...(cursor ? { startAt: { values: [integerValue(cursor.updatedAt), integerValue(cursor.ord), { referenceValue: this.memoryName(cursor.id) }], before: false } } : {}),
        limit: pageSize,
        select: select(READ_FIELDS),
      }),
    )
    return documents.map(fromDocument)
  }

  /** The namespace's memories whose expiry has passed (live ones are never touched). */
  async expired(ns: string, now: number, session: ReadSession): Promise<ServerMemory[]> {
    const documents = await this.#query(session, this.#ids.memories, {
      where: and([eq('ns', stringValue(ns)), cmp('expires_at', 'LESS_THAN_OR_EQUAL', integerValue(now))]),
      select: select(STATE_FIELDS),
    })
    return documents.map(fromDocument)
  }

  /**
   * One page of live memories in (namespace, key) order after the cursor. With descendants, the
   * namespace itself comes first (`a` sorts before every `a/...`), then the range [`a/`, `a0`).
   * Expired memories are skipped, so a page is refilled until it is full or the data ends.
   */
  async page(request: PageRequest, session: ReadSession): Promise<ServerMemory[]> {
    const { namespace, includeDescendants, after, pageSize, now } = request
    const out: ServerMemory[] = []
    const fetchSize = Math.min(Math.max(pageSize, 10), 500)
    const drain = async (where: FsFilter[], orderBy: string[], start: FsValue[] | null): Promise<void> => {
      let cursor = start
      for (;;) {
        const documents = await this.#query(session, this.#ids.memories, {
          ...(where.length > 0 ? { where: and(where) } : {}),
          orderBy: orderBy.map((fieldPath) => ({ field: { fieldPath }, direction: 'ASCENDING' as const })),
          ...(cursor ? { startAt: { values: cursor, before: false } } : {}),
          limit: fetchSize,
          select: select(READ_FIELDS),
        })
        for (const document of documents) {
          const doc = fromDocument(document)
          if (isLive(doc, now)) out.push(doc)
          if (out.length >= pageSize) return
        }
        if (documents.length < fetchSize) return
        const last = fromDocument(documents[documents.length - 1]!)
        cursor = orderBy.length === 1 ? [stringValue(last.key)] : [stringValue(last.ns), stringValue(last.key)]
      }
    }
    if (!includeDescendants || after === null || after.namespace === namespace) {
      if (!includeDescendants || namespace !== '') {
        await drain([eq('ns', stringValue(namespace))], ['key'], after && after.namespace === namespace ? [stringValue(after.key)] : null)
      }
    }
    if (includeDescendants && out.length < pageSize) {
      const where = namespace === '' ? [] : [cmp('ns', 'GREATER_THAN_OR_EQUAL', stringValue(`${namespace}/`)), cmp('ns', 'LESS_THAN', stringValue(`${namespace}0`))]
      const start = after && (namespace === '' || after.namespace !== namespace) ? [stringValue(after.namespace), stringValue(after.key)] : null
      await drain(where, ['ns', 'key'], start)
    }
    return out.slice(0, pageSize)
  }

  /** The writes of one change; `precondition` guards the memory document (none inside a transaction). */
  unit(change: Change, precondition?: { exists: false } | { updateTime: string }): Unit {
    const { id, before, after } = change
    const name = this.memoryName(id)
    const chunkWrites: FsWrite[] = []
    const writes: FsWrite[] = []
    const currentDocument = precondition ? { currentDocument: precondition } : {}
    let stored = after
    if (after) {
      if (after.valueJson !== null && !sizing(after).inline) {
        const parts = splitValue(after.valueJson, 900_000)
        const version = randomVersion()
        // Chunks carry the memory's expire_at too: a TTL policy deletes documents, never their subcollections.
        const expiry: FsFields = after.expiresAt === null ? {} : { expire_at: timestampValue(after.expiresAt) }
        parts.forEach((data, i) => chunkWrites.push({ update: { name: this.#chunkName(id, version, i), fields: { data: stringValue(data), ...expiry } } }))
        stored = { ...after, chunks: { version, count: parts.length } }
      }
      writes.push({ update: { name, fields: memoryFields(stored!) }, ...currentDocument })
    } else {
      writes.push({ delete: name, ...currentDocument })
    }
    if (before?.chunks && before.chunks.version !== stored?.chunks?.version) {
      for (let i = 0; i < before.chunks.count; i++) writes.push({ delete: this.#chunkName(id, before.chunks.version, i) })
    }
    const delta = deltaOf(before, after)
    return {
      ns: change.ns,
      chunkWrites,
      writes,
      delta,
      bytes: writes.reduce((sum, w) => sum + sizeOf(w), 0) + (delta.df.size + 1) * STATS_WRITE_BYTES,
      chunkBytes: chunkWrites.reduce((sum, w) => sum + sizeOf(w), 0),
    }
  }

  async #statsWrites(units: Unit[]): Promise<FsWrite[]> {
    const byNamespace = new Map<string, Delta>()
    for (const unit of units) {
      let delta = byNamespace.get(unit.ns)
      if (!delta) byNamespace.set(unit.ns, (delta = { docCount: 0, tokenCount: 0, df: new Map() }))
      addDelta(delta, unit.delta)
    }
    const writes: FsWrite[] = []
    for (const [ns, delta] of byNamespace) {
      if (delta.docCount !== 0 || delta.tokenCount !== 0) {
        writes.push({
          update: { name: this.client.name(this.collections.namespaces, await namespaceId(ns)), fields: { ns: stringValue(ns) } },
          updateMask: { fieldPaths: ['ns'] },
          updateTransforms: [
            { fieldPath: 'doc_count', increment: integerValue(delta.docCount) },
            { fieldPath: 'token_count', increment: integerValue(delta.tokenCount) },
          ],
        })
      }
      for (const [term, n] of delta.df) {
        if (n === 0) continue
        writes.push({
          update: { name: this.client.name(this.collections.terms, await termId(ns, term)), fields: { ns: stringValue(ns), term: stringValue(term) } },
          updateMask: { fieldPaths: ['ns', 'term'] },
          updateTransforms: [{ fieldPath: 'df', increment: integerValue(n) }],
        })
      }
    }
    return writes
  }

  /** True when the units go in one commit (what a create-first attempt needs to be all-or-nothing). */
  fitsOneCommit(units: Unit[]): boolean {
    return units.reduce((sum, unit) => sum + unit.bytes + unit.chunkBytes, 0) <= this.maxCommitBytes
  }

  /**
   * Commits the units: one commit when they fit Firestore's request limit (10 MiB; `maxCommitBytes`
   * leaves headroom), else several, in order, each atomic with its own statistics. Chunks of a
   * value too large to share a commit are written first under a fresh version (invisible until the
   * memory points at them). Inside a transaction everything must fit one commit.
   */
  async commit(units: Unit[], transaction?: string): Promise<void> {
    if (units.length === 0) return
    const groups: Unit[][] = []
    const detached: FsWrite[] = []
    let current: Unit[] = []
    let size = 0
    for (const unit of units) {
      let unitSize = unit.bytes + unit.chunkBytes
      if (unitSize > this.maxCommitBytes) {
        detached.push(...unit.chunkWrites)
        unit.chunkWrites = []
        unitSize = unit.bytes
      }
      if (current.length > 0 && size + unitSize > this.maxCommitBytes) {
        groups.push(current)
        current = []
        size = 0
      }
      current.push(unit)
      size += unitSize
    }
    groups.push(current)
    if (transaction && groups.length > 1) {
      throw new LtmFailure('invalid_input', `firestore: the transaction writes more than one Firestore commit can carry (${this.maxCommitBytes} bytes of its 10 MiB request limit); split it into smaller transactions`)
    }
    await this.#commitDetached(detached)
    let committed = 0
    for (const [index, group] of groups.entries()) {
      const writes = [...group.flatMap((unit) => [...unit.chunkWrites, ...unit.writes]), ...(await this.#statsWrites(group))]
      try {
        await this.client.commit(writes, transaction)
      } catch (error) {
        if (index === 0 || !(error instanceof LtmFailure)) {
          if (index === 0) await this.#discard(detached)
          throw error
        }
        const note = `${error.message} (the writes were split into ${groups.length} commits to fit Firestore's 10 MiB request limit; the first ${committed} memories were committed, the rest were not)`
        throw Object.assign(new LtmFailure(error.errorType, note, error.retryAfter), { partial: true })
      }
      committed += group.length
    }
  }

  async #commitDetached(writes: FsWrite[]): Promise<void> {
    let batch: FsWrite[] = []
    let size = 0
    for (const write of writes) {
      const bytes = sizeOf(write)
      if (batch.length > 0 && size + bytes > this.maxCommitBytes) {
        await this.client.commit(batch)
        batch = []
        size = 0
      }
      batch.push(write)
      size += bytes
    }
    if (batch.length > 0) await this.client.commit(batch)
  }

  /** Best effort: chunk documents written for a commit that then failed are garbage. */
  async #discard(chunkWrites: FsWrite[]): Promise<void> {
    if (chunkWrites.length === 0) return
    await this.#commitDetached(chunkWrites.map((write) => ({ delete: (write as { update: { name: string } }).update.name }))).catch(() => undefined)
  }
}

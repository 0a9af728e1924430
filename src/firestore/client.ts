import { LtmFailure } from '../core/errors.js'
import type { ErrorType } from '../core/types.js'
import type { Transport } from '../transport/transport.js'
import type { FsFields, FsValue } from './values.js'

/**
 * The Firestore REST API (v1) calls the backend makes, over the SDK's one transport: no Firebase
 * SDK, so it runs wherever fetch does. Reads are marked idempotent (the transport retries them
 * after a 5xx or a dropped connection); commits and transaction starts are not.
 */

export const FIRESTORE_API_BASE = 'https://firestore.googleapis.com/v1'

export interface FsDocument {
  name: string
  fields?: FsFields
  createTime?: string
  updateTime?: string
}

/** A write of `documents:commit`, in the REST shape. */
export type FsWrite =
  | { update: { name: string; fields: FsFields }; updateMask?: { fieldPaths: string[] }; updateTransforms?: FsTransform[]; currentDocument?: FsPrecondition }
  | { delete: string; currentDocument?: FsPrecondition }

export interface FsTransform {
  fieldPath: string
  increment: FsValue
}

export type FsPrecondition = { exists: boolean } | { updateTime: string }

export type FsFilter =
  | { fieldFilter: { field: { fieldPath: string }; op: string; value: FsValue } }
  | { unaryFilter: { field: { fieldPath: string }; op: 'IS_NULL' } }
  | { compositeFilter: { op: 'AND'; filters: FsFilter[] } }

export interface StructuredQuery {
  from: Array<{ collectionId: string }>
  where?: FsFilter
  select?: { fields: Array<{ fieldPath: string }> }
  orderBy?: Array<{ field: { fieldPath: string }; direction: 'ASCENDING' | 'DESCENDING' }>
  startAt?: { values: FsValue[]; before: boolean }
  limit?: number
}

/** How a read joins a transaction: an existing one, or a new read-write one it starts. */
export type ReadConsistency = { transaction: string } | { newTransaction: { readWrite: Record<string, never> } } | Record<string, never>

/** A failure Firestore answered with; `status` is its canonical code (ALREADY_EXISTS, ABORTED, ...). */
export class FirestoreApiError extends LtmFailure {
  constructor(
    errorType: ErrorType,
    message: string,
    readonly status: string,
    readonly httpStatus: number,
  ) {
    super(errorType, message)
  }
}

function errorTypeOf(status: string, message: string): ErrorType {
  switch (status) {
    case 'INVALID_ARGUMENT':
      // Size limits (1 MiB documents, 10 MiB requests, index entries) are the caller's data, not our bug.
      return /longer than|exceed|too (large|big|many)|maximum|limit/i.test(message) ? 'invalid_input' : 'backend_error'
    case 'ALREADY_EXISTS':
    case 'FAILED_PRECONDITION':
      return /index/i.test(message) ? 'backend_error' : 'conflict'
    case 'ABORTED':
      return /lock/i.test(message) ? 'lock_timeout' : 'conflict'
    case 'RESOURCE_EXHAUSTED':
      return 'rate_limited'
    case 'DEADLINE_EXCEEDED':
      return 'connection_timeout'
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return 'auth_failed'
    default:
      return 'backend_error'
  }
}

export class FirestoreClient {
  /** `projects/P/databases/D` */
  readonly database: string
  /** `projects/P/databases/D/documents` */
  readonly documents: string
  #base: string

  constructor(
    baseUrl: string,
    readonly projectId: string,
    readonly databaseId: string,
    readonly transport: Transport,
  ) {
    this.database = `projects/${projectId}/databases/${databaseId}`
    this.documents = `${this.database}/documents`
    this.#base = baseUrl.replace(/\/+$/, '')
  }

  /** The resource name of a document, for request bodies. */
  name(collectionPath: string, id: string): string {
    return `${this.documents}/${collectionPath}/${id}`
  }

  #url(resource: string, method: string): string {
    const path = resource.split('/').map(encodeURIComponent).join('/')
    return `${this.#base}/${path}:${method}`
  }

  async #post(resource: string, method: string, body: unknown, idempotent: boolean): Promise<unknown> {
    const response = await this.transport.request(this.#url(resource, method), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      idempotent,
    })
    let parsed: unknown
    try {
      parsed = response.json()
    } catch {
      throw new LtmFailure('backend_error', `firestore: ${method} answered ${response.status} with a body that is not JSON: ${this.transport.redact(response.text().slice(0, 200))}`)
    }
    if (response.status >= 200 && response.status < 300) {
      const streamed = Array.isArray(parsed) ? parsed.find((item) => (item as { error?: unknown })?.error) : undefined
      if (streamed) throw this.#failure(method, response.status, streamed)
      return parsed
    }
    throw this.#failure(method, response.status, parsed)
  }

  #failure(method: string, httpStatus: number, body: unknown): FirestoreApiError {
    const error = (body as { error?: { message?: unknown; status?: unknown } } | null)?.error
    const status = typeof error?.status === 'string' ? error.status : `HTTP_${httpStatus}`
    const said = typeof error?.message === 'string' ? error.message : JSON.stringify(body).slice(0, 300)
    let message = `firestore: ${method} failed: ${status}: ${said}`
    if (status === 'NOT_FOUND' && /database/i.test(said)) message += ` (does database ${this.databaseId} exist in project ${this.projectId}?)`
    if (status === 'FAILED_PRECONDITION' && /index/i.test(said)) message += ' (deploy firestore.indexes.json or create the index from the link above)'
    return new FirestoreApiError(errorTypeOf(status, said), this.transport.redact(message), status, httpStatus)
  }

  /** Documents by name, in one request; the map holds the ones that exist. */
  async batchGet(names: string[], options: { mask?: string[]; consistency?: ReadConsistency } = {}): Promise<{ found: Map<string, FsDocument>; transaction?: string }> {
    const found = new Map<string, FsDocument>()
    if (names.length === 0) return { found }
    const consistency = options.consistency ?? {}
    const body = { documents: names, ...(options.mask ? { mask: { fieldPaths: options.mask } } : {}), ...consistency }
    const items = (await this.#post(this.documents, 'batchGet', body, !('newTransaction' in consistency))) as Array<{ found?: FsDocument; transaction?: string }>
    let transaction: string | undefined
    for (const item of items) {
      if (item.transaction) transaction = item.transaction
      if (item.found) found.set(item.found.name, item.found)
    }
    return { found, transaction }
  }

  /** Every result of a query, in one request (the REST answer streams them as one JSON array). */
  async runQuery(parentPath: string, query: StructuredQuery, consistency: ReadConsistency = {}): Promise<{ documents: FsDocument[]; transaction?: string }> {
    const parent = parentPath ? `${this.documents}/${parentPath}` : this.documents
    const items = (await this.#post(parent, 'runQuery', { structuredQuery: query, ...consistency }, !('newTransaction' in consistency))) as Array<{ document?: FsDocument; transaction?: string }>
    let transaction: string | undefined
    const documents: FsDocument[] = []
    for (const item of items) {
      if (item.transaction) transaction = item.transaction
      if (item.document) documents.push(item.document)
    }
    return { documents, transaction }
  }

  /** A count over a query, in one request. */
  async count(parentPath: string, query: StructuredQuery, consistency: ReadConsistency = {}): Promise<{ count: number; transaction?: string }> {
    const parent = parentPath ? `${this.documents}/${parentPath}` : this.documents
    const body = { structuredAggregationQuery: { structuredQuery: query, aggregations: [{ alias: 'n', count: {} }] }, ...consistency }
    const items = (await this.#post(parent, 'runAggregationQuery', body, !('newTransaction' in consistency))) as Array<{ result?: { aggregateFields?: Record<string, FsValue> }; transaction?: string }>
    const value = items.find((item) => item.result)?.result?.aggregateFields?.n
    return { count: value && 'integerValue' in value ? Number(value.integerValue) : 0, transaction: items.find((item) => item.transaction)?.transaction }
  }

  async beginTransaction(): Promise<string> {
    const answer = (await this.#post(this.documents, 'beginTransaction', { options: { readWrite: {} } }, false)) as { transaction?: string }
    if (!answer.transaction) throw new LtmFailure('backend_error', 'firestore: beginTransaction answered without a transaction')
    return answer.transaction
  }

  /** Applies the writes atomically (inside `transaction` when given). */
  async commit(writes: FsWrite[], transaction?: string): Promise<{ commitTime?: string; writeResults?: Array<{ updateTime?: string }> }> {
    return (await this.#post(this.documents, 'commit', { writes, ...(transaction ? { transaction } : {}) }, false)) as { commitTime?: string }
  }

  async rollback(transaction: string): Promise<void> {
    await this.#post(this.documents, 'rollback', { transaction }, true)
  }
}

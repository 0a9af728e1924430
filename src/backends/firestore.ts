import { LtmError } from '../core/errors.js'
import type { BackendDefinition, BackendOptions } from '../core/registry.js'
import { authSecrets, resolveAuth, type FirestoreAuth } from '../firestore/auth.js'
import { FirestoreMemoryBackend } from '../firestore/backend.js'
import { FIRESTORE_API_BASE, FirestoreClient } from '../firestore/client.js'
import { DEFAULT_COLLECTION, collectionsFor } from '../firestore/model.js'
import { FirestoreStore } from '../firestore/store.js'
import { isValidId } from '../firestore/values.js'
import { transportFor, type RemoteOptions } from '../transport/transport.js'

/*
 * Deploying: `firestore.indexes.json` (shipped in the package) holds what the queries need for the
 * default collection `ltm_memories`; rename its collection groups if you pass another `collection`,
 * then `firebase deploy --only firestore:indexes`.
 * - Composite indexes: (ns, terms CONTAINS) for search candidates and prefix counts; (ns, updated_at
 *   DESC, ord DESC) for listing without a query; (ns, key) for iterateAll; (ns, expires_at) for
 *   cleanupExpired; (ns, term) on `<collection>_terms` for `prefix*` expansion.
 * - Metadata equality / `$in` filters are pushed into the query. Firestore may serve such a query
 *   by merging indexes, or ask for a composite index on `metadata.<field>` (the listing's ordering
 *   plus a filter does), which cannot be shipped for fields we do not know (the emulator enforces
 *   no indexes, so which combinations production refuses is not tested here):
 *   when Firestore refuses a query for want of an index, the backend runs that filter in the SDK
 *   instead (still before the limit; `stats().index_fallbacks` counts it) and keeps doing so for
 *   that filter shape. Create the index from the link in Firestore's log to get the pushdown back.
 * - Exempted from indexing (no query uses them, and they are large): value, tf, metadata_json,
 *   content_hash, doc_len, created_at, value_chunks, value_version, value_chunks/data, df.
 * - TTL: `expire_at` (a Timestamp on expiring memories and their value chunks) is marked `ttl: true`
 *   for both collection groups; or `gcloud firestore fields ttls update expire_at
 *   --collection-group=ltm_memories --enable-ttl` (and `--collection-group=value_chunks`). Expired
 *   memories are invisible at once either way. Firestore's TTL deletion (within about a day) is a
 *   plain delete: it does not decrement the BM25 statistics, so what it removes keeps counting in N
 *   and df for good. Run `cleanupExpired()` (which keeps them exact) and treat the TTL policy as the
 *   backstop for stores nobody cleans up.
 */

/**
 * Cloud Firestore (Native mode) over its REST API, through the SDK's transport: no Firebase SDK,
 * so it runs in Node, browsers, Web Workers and Cloudflare Workers. Search ranks with BM25 in the
 * SDK over candidates Firestore finds by term (see src/firestore/backend.ts for how, and what it
 * costs). Deploy `firestore.indexes.json` (see above).
 * @example createLTM({ backend: 'firestore', projectId: 'my-app', auth: { serviceAccount: key } })
 */
export interface FirestoreOptions extends BackendOptions, RemoteOptions {
  backend: 'firestore'
  /** The Google Cloud / Firebase project (settings: `ltm_project_id`). */
  projectId: string
  /**
   * The memories collection, or a subcollection path like `tenants/t1/memories`; statistics live
   * beside it in `<collection>_namespaces` and `<collection>_terms` (settings: `ltm_collection`).
   * @default 'ltm_memories'
   */
  collection?: string
  /** @default '(default)' */
  databaseId?: string
  /**
   * A token string (`'owner'` for the emulator), `{ serviceAccount }`, `{ user }` (a Firebase Auth
   * user) or `{ getToken() }`. Optional only when FIRESTORE_EMULATOR_HOST is used (then `'owner'`).
   */
  auth?: FirestoreAuth
  /**
   * REST base, for a proxy or an emulator. When absent and FIRESTORE_EMULATOR_HOST is set (as the
   * official SDKs read it), `http://$FIRESTORE_EMULATOR_HOST/v1`. An explicit baseUrl wins over it.
   * @default 'https://firestore.googleapis.com/v1'
   */
  baseUrl?: string
  /**
   * Request bytes per commit; larger batches are split into several commits (each atomic, the batch
   * as a whole no longer). Firestore accepts 10 MiB per request. @default 9437184 (9 MiB)
   */
  maxCommitBytes?: number
}

function emulatorHost(): string | undefined {
  const host = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FIRESTORE_EMULATOR_HOST
  return host ? host.replace(/^https?:\/\//, '').replace(/\/+$/, '') : undefined
}

export const firestoreBackend: BackendDefinition<FirestoreOptions> = {
  requiredOptions: ['projectId'],
  async open(options) {
    const { projectId } = options
    if (typeof projectId !== 'string' || !/^[a-z0-9][a-z0-9:.-]*$/i.test(projectId)) throw new LtmError('invalid_argument', `firestore: projectId must be a project id like "my-app-123", got ${JSON.stringify(projectId)}`)
    const collection = options.collection ?? DEFAULT_COLLECTION
    const segments = typeof collection === 'string' ? collection.split('/') : []
    if (segments.length % 2 !== 1 || !segments.every(isValidId) || !isValidId(`${segments.at(-1)}_namespaces`)) {
      throw new LtmError('invalid_argument', `firestore: collection must be a collection id or a path collection/doc/collection, got ${JSON.stringify(collection)}`)
    }
    const databaseId = options.databaseId ?? '(default)'
    const maxCommitBytes = options.maxCommitBytes ?? 9 * 1024 * 1024
    if (!Number.isSafeInteger(maxCommitBytes) || maxCommitBytes < 64 * 1024) throw new LtmError('invalid_argument', 'firestore: maxCommitBytes must be a whole number of bytes >= 65536')
    const emulator = options.baseUrl === undefined ? emulatorHost() : undefined
    const baseUrl = options.baseUrl ?? (emulator ? `http://${emulator}/v1` : FIRESTORE_API_BASE)
    const auth = options.auth ?? (emulator ? 'owner' : undefined)
    if (auth === undefined) throw new LtmError('invalid_argument', 'firestore: pass auth: a token, { serviceAccount }, { user } (a Firebase Auth user) or { getToken() }')
    const secrets = authSecrets(auth)
    // The token exchange gets its own transport: the main one asks the provider for a token on every request.
    const provider = await resolveAuth(auth, transportFor('firestore', options, secrets))
    const transport = transportFor('firestore', options, secrets, async () => ({ authorization: `Bearer ${await provider.getToken()}` }))
    const client = new FirestoreClient(baseUrl, projectId, databaseId, transport)
    const store = new FirestoreStore(client, collectionsFor(collection), maxCommitBytes)
    return new FirestoreMemoryBackend(store, transport, { project_id: projectId, database: databaseId, collection })
  },
}

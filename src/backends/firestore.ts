import { LtmError } from '../core/errors.js'
import type { BackendDefinition, BackendOptions } from '../core/registry.js'
import { authSecrets, resolveAuth, type FirestoreAuth } from '../firestore/auth.js'
import { FirestoreMemoryBackend } from '../firestore/backend.js'
import { FIRESTORE_API_BASE, FirestoreClient } from '../firestore/client.js'
import { DEFAULT_COLLECTION, collectionsFor } from '../firestore/model.js'
import { FirestoreStore } from '../firestore/store.js'
import { isValidId } from '../firestore/values.js'
import { transportFor, type RemoteOptions } from '../transport/transport.js'

/**
 * Cloud Firestore (Native mode) over its REST API, through the SDK's transport: no Firebase SDK,
 * so it runs in Node, browsers, Web Workers and Cloudflare Workers. Search ranks with BM25 in the
 * SDK over candidates Firestore finds by term (see src/firestore/). Deploy `firestore.indexes.json`
 * (composite indexes, index exemptions and the TTL field) with the collection names you use.
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

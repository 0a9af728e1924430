/**
 * Runs in Chromium: the shared conformance suite against the remote backends through the BUILT
 * browser bundle: turso (Hrana over HTTP), d1 (Cloudflare's REST API) and supabase (supabase-js
 * against the PostgREST test server, a new signed-in user per store), each against the real
 * test servers the Node side started (e2e/remote.conformance.test.ts) and described in the page's
 * URL fragment. The SDK calls them cross-origin with fetch, as a browser agent would.
 */
import { createLTM, migrate } from '../dist/index.browser.js'
import { runConformance } from '../test/conformance/suite.js'
import { runInPage } from './in-page-run.js'

export interface TursoTarget {
  url: string
  authToken: string
}
export interface D1Target {
  baseUrl: string
  accountId: string
  databaseId: string
  apiToken: string
}
/** A Supabase project; every store opened is a new signed-in user, whose token the page signs with the project's JWT secret. */
export interface SupabaseTarget {
  url: string
  anonKey: string
  jwtSecret: string
  accessToken?: string
}
/** The official Firestore emulator; every store opened is a new project (an empty database). */
export interface FirestoreTarget {
  baseUrl: string
  projectId?: string
}
/** What the Node side passes in the URL fragment: one database per store a test may open at once. */
export interface RemoteTargets {
  turso: TursoTarget[]
  d1: D1Target[]
  supabase: SupabaseTarget[]
  firestore: FirestoreTarget[]
}

/** Referencing tables first: D1 enforces foreign keys. Triggers and indexes go with their tables. */
const DROP_ALL = ['ltm_postings', 'ltm_memories', 'ltm_namespaces', 'ltm_schema'].map((table) => `DROP TABLE IF EXISTS ${table}`)

async function post(url: string, token: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!response.ok) throw new Error(`emptying a test database: ${url} answered ${response.status}: ${await response.text()}`)
}

const emptyTurso = (target: TursoTarget): Promise<void> =>
  post(`${target.url}/v2/pipeline`, target.authToken, { baton: null, requests: [...DROP_ALL.map((sql) => ({ type: 'execute', stmt: { sql } })), { type: 'close' }] })

const emptyD1 = (target: D1Target): Promise<void> =>
  post(`${target.baseUrl}/accounts/${target.accountId}/d1/database/${target.databaseId}/query`, target.apiToken, { batch: DROP_ALL.map((sql) => ({ sql })) })

/** A fresh user for the next store: an access token (HS256, role authenticated) signed with Web Crypto. */
async function newSupabaseUser(target: SupabaseTarget): Promise<void> {
  const encode = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  const part = (value: unknown): string => encode(new TextEncoder().encode(JSON.stringify(value)))
  const now = Math.floor(Date.now() / 1000)
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ aud: 'authenticated', role: 'authenticated', sub: crypto.randomUUID(), iat: now, exp: now + 3600 })}`
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(target.jwtSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  target.accessToken = `${unsigned}.${encode(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(unsigned))))}`
}

let projects = 0
async function newFirestoreProject(target: FirestoreTarget): Promise<void> {
  target.projectId = `e2e-${Date.now().toString(36)}-${projects++}`
}

/** Each open() in a test empties and opens the next database; reopen() opens the last one again. */
function registerSuite<T>(name: string, targets: T[], empty: (target: T) => Promise<void>, options: (target: T) => Parameters<typeof createLTM>[0], transactions: 'interactive' | 'batched'): void {
  let opened = 0
  let last: T | undefined
  runConformance(
    name,
    {
      transactions,
      async open(extra) {
        last = targets[opened++ % targets.length]!
        await empty(last)
        return createLTM({ ...options(last), ...extra } as Parameters<typeof createLTM>[0])
      },
      reopen: (extra) => createLTM({ ...options(last ?? targets[0]!), ...extra } as Parameters<typeof createLTM>[0]),
      async cleanup() {
        opened = 0
      },
    },
    migrate,
  )
}

runInPage(() => {
  const targets = JSON.parse(decodeURIComponent(location.hash.slice(1))) as RemoteTargets
  registerSuite('turso (built browser bundle in Chromium, Hrana over HTTP)', targets.turso, emptyTurso, (t) => ({ backend: 'turso', url: t.url, authToken: t.authToken }), 'interactive')
  registerSuite('d1 (built browser bundle in Chromium, REST API)', targets.d1, emptyD1, (t) => ({ backend: 'd1', baseUrl: t.baseUrl, accountId: t.accountId, databaseId: t.databaseId, apiToken: t.apiToken }), 'batched')
  registerSuite('supabase (built browser bundle in Chromium, supabase-js)', targets.supabase, newSupabaseUser, (t) => ({ backend: 'supabase', url: t.url, key: t.anonKey, accessToken: t.accessToken }), 'batched')
  registerSuite('firestore (built browser bundle in Chromium, REST, official emulator)', targets.firestore, newFirestoreProject, (t) => ({ backend: 'firestore', projectId: t.projectId!, collection: 'memories', auth: 'owner', baseUrl: t.baseUrl }), 'interactive')
})

/**
 * Runs in Chromium: the shared conformance suite against the remote backends through the BUILT
 * browser bundle: turso (Hrana over HTTP), d1 (Cloudflare's REST API), supabase (supabase-js
 * against the PostgREST test server, a new signed-in user per store) and firestore (a new user
 * signed up with the real `firebase` package at the Auth emulator per store, under the shipped
 * security rules), each against the real test servers the Node side started
 * (e2e/remote.conformance.test.ts) and described in the page's URL fragment. The SDK calls them
 * cross-origin with fetch, as a browser agent would.
 */
import { signOut } from 'firebase/auth'
import { describe, expect, it } from 'vitest'
import { createLTM, migrate } from '../dist/index.browser.js'
import { runConformance } from '../test/conformance/suite.js'
import { signUpFirebaseUser, type SignedInUser } from '../test/firebase-user.js'
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
/** The official Firestore emulator enforcing firestore.rules; every store opened is a new Firebase Auth user (an empty users/{uid}/). */
export interface FirestoreTarget {
  baseUrl: string
  authEmulatorUrl: string
  projectId: string
  signedIn?: SignedInUser
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

async function newFirebaseUser(target: FirestoreTarget): Promise<void> {
  target.signedIn = await signUpFirebaseUser(target.authEmulatorUrl, target.projectId)
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

/** What the rules must refuse in a browser: another user's memories, and a user who signed out. */
function registerFirestoreRules(target: FirestoreTarget): void {
  const open = (collection: string, user: SignedInUser['user']) => createLTM({ backend: 'firestore', projectId: target.projectId, collection, auth: { user }, baseUrl: target.baseUrl })
  describe('firestore rules in Chromium (Firebase Auth users)', () => {
    it("another user's memories answer auth_failed and stay as they were", async () => {
      const owner = await signUpFirebaseUser(target.authEmulatorUrl, target.projectId)
      const intruder = await signUpFirebaseUser(target.authEmulatorUrl, target.projectId)
      const mine = await open(owner.collection, owner.user)
      expect(await mine.store('plan', 'launch on Tuesday')).toMatchObject({ success: true })
      const theirs = await open(owner.collection, intruder.user)
      expect(await theirs.store('plan', 'cancelled')).toMatchObject({ success: false, error_type: 'auth_failed' })
      expect(await theirs.retrieve('plan')).toMatchObject({ success: false, error_type: 'auth_failed' })
      expect(await theirs.search('launch')).toMatchObject({ success: false, error_type: 'auth_failed' })
      expect(await mine.retrieve('plan')).toMatchObject({ success: true, found: true, value: 'launch on Tuesday' })
      await Promise.all([mine.close(), theirs.close(), owner.dispose(), intruder.dispose()])
    })

    it('after sign-out the store answers auth_failed', async () => {
      const signed = await signUpFirebaseUser(target.authEmulatorUrl, target.projectId)
      const ltm = await open(signed.collection, signed.user)
      expect(await ltm.store('k', 'v')).toMatchObject({ success: true })
      await signOut(signed.auth)
      expect(await ltm.retrieve('k')).toMatchObject({ success: false, error_type: 'auth_failed' })
      await Promise.all([ltm.close(), signed.dispose()])
    })
  })
}

runInPage(() => {
  const targets = JSON.parse(decodeURIComponent(location.hash.slice(1))) as RemoteTargets
  registerSuite('turso (built browser bundle in Chromium, Hrana over HTTP)', targets.turso, emptyTurso, (t) => ({ backend: 'turso', url: t.url, authToken: t.authToken }), 'interactive')
  registerSuite('d1 (built browser bundle in Chromium, REST API)', targets.d1, emptyD1, (t) => ({ backend: 'd1', baseUrl: t.baseUrl, accountId: t.accountId, databaseId: t.databaseId, apiToken: t.apiToken }), 'batched')
  registerSuite('supabase (built browser bundle in Chromium, supabase-js)', targets.supabase, newSupabaseUser, (t) => ({ backend: 'supabase', url: t.url, key: t.anonKey, accessToken: t.accessToken }), 'batched')
  registerSuite('firestore (built browser bundle in Chromium, REST, Firebase Auth users, official emulators)', targets.firestore, newFirebaseUser, (t) => ({ backend: 'firestore', projectId: t.projectId, collection: t.signedIn!.collection, auth: { user: t.signedIn!.user }, baseUrl: t.baseUrl }), 'interactive')
  registerFirestoreRules(targets.firestore[0]!)
})

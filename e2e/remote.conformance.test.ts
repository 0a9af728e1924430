// The shared conformance suite in Chromium against the remote backends, through the BUILT browser
// bundle: turso against test/servers/hrana-server.ts (Hrana over HTTP on a real libSQL engine), d1
// against test/servers/d1-server.ts (Cloudflare's REST shape on a real D1 in miniflare), supabase
// against test/servers/postgrest-server.ts (PostgREST's subset over a real PostgreSQL) and firestore
// against the official Firestore emulator enforcing the shipped firestore.rules, with users the page
// signs up through the real `firebase` package at the official Auth emulator. The servers run here,
// in Node, on other ports than the page: every call is a cross-origin fetch.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startD1Server, type D1Server } from '../test/servers/d1-server.js'
import { startFirebaseAuthEmulator, type FirebaseAuthEmulator } from '../test/servers/firebase-auth-emulator.js'
import { startFirestoreEmulator, type FirestoreEmulator } from '../test/servers/firestore-emulator.js'
import { startHranaServer, type HranaServer } from '../test/servers/hrana-server.js'
import { startPostgresServer, type PostgresServer } from '../test/servers/postgres-server.js'
import { startPostgrestServer, type PostgrestServer } from '../test/servers/postgrest-server.js'
import { launchChromium, type RunningBrowser } from './browser.js'
import type { E2eState } from './in-page-run.js'
import { PAGES, buildPageBundle, type PageBundle } from './page-bundle.js'
import type { RemoteTargets } from './remote-conformance.page.js'
import { runPage } from './run-page.js'
import { startStaticServer, type StaticServer } from './server.js'

const TOKEN = 'browser-remote-token-5d2c8e'
/** The suite opens at most three stores in one test: one database each. */
const DATABASES = 3
const RUN_TIMEOUT_MS = 400_000

describe('remote backends in Chromium, on the built browser bundle', () => {
  let bundle: PageBundle
  let server: StaticServer | undefined
  let browser: RunningBrowser | undefined
  let hrana: HranaServer[] = []
  let d1: D1Server[] = []
  let postgres: PostgresServer | undefined
  let postgrest: PostgrestServer | undefined
  let firestore: FirestoreEmulator | undefined
  let firebaseAuth: FirebaseAuthEmulator | undefined
  let state: E2eState
  const problems: string[] = []
  let setupError: unknown

  beforeAll(async () => {
    try {
      const startSupabase = async (): Promise<PostgrestServer> => {
        postgres = await startPostgresServer()
        const admin = new URL(postgres.adminUrl)
        admin.pathname = new URL(await postgres.createDatabase()).pathname
        return startPostgrestServer({ adminUrl: admin.toString(), setupSql: readFileSync(new URL('../supabase/agent-ltm.sql', import.meta.url), 'utf8') })
      }
      ;[bundle, hrana, d1, postgrest] = await Promise.all([
        buildPageBundle(),
        Promise.all(Array.from({ length: DATABASES }, () => startHranaServer({ authToken: TOKEN }))),
        Promise.all(Array.from({ length: DATABASES }, () => startD1Server({ apiToken: TOKEN }))),
        startSupabase(),
      ])
      ;[firestore, firebaseAuth] = await Promise.all([startFirestoreEmulator({ rules: fileURLToPath(new URL('../firestore.rules', import.meta.url)) }), startFirebaseAuthEmulator()])
      server = await startStaticServer(bundle.files)
      browser = await launchChromium()
      const targets: RemoteTargets = {
        turso: hrana.map((h) => ({ url: h.url, authToken: TOKEN })),
        d1: d1.map((d) => ({ baseUrl: d.baseUrl, accountId: d.accountId, databaseId: d.databaseId, apiToken: TOKEN })),
        supabase: [{ url: postgrest.url, anonKey: postgrest.anonKey, jwtSecret: postgrest.jwtSecret }],
        firestore: [{ baseUrl: firestore.baseUrl, authEmulatorUrl: firebaseAuth.url, projectId: firebaseAuth.projectId }],
      }
      state = await runPage(browser.context, `${server.url}${PAGES.remoteConformance.path}#${encodeURIComponent(JSON.stringify(targets))}`, problems, RUN_TIMEOUT_MS)
    } catch (error) {
      setupError = error
    }
  }, RUN_TIMEOUT_MS + 60_000)

  beforeEach(() => {
    if (setupError !== undefined) throw setupError
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await Promise.all([...hrana.map((h) => h.close()), ...d1.map((d) => d.close())])
    await postgrest?.close()
    await postgres?.stop()
    await firestore?.stop()
    await firebaseAuth?.stop()
  })

  it('the page bundles the built SDK and the real @libsql/client, nothing from src/', () => {
    const inputs = bundle.inputs.remoteConformance
    expect(inputs).toContain('dist/index.browser.js')
    expect(inputs.some((input) => input.startsWith('node_modules/@libsql/client/'))).toBe(true)
    expect(inputs.some((input) => input.startsWith('node_modules/@supabase/supabase-js/'))).toBe(true)
    expect(inputs.some((input) => input.startsWith('node_modules/@firebase/auth/'))).toBe(true)
    expect(inputs.filter((input) => input.startsWith('src/'))).toEqual([])
  })

  it('runs both suites to the end without page errors', () => {
    expect(state.fatal, state.fatal).toBeUndefined()
    expect(state.phase).toBe('done')
    expect(state.results.length).toBe(state.registered)
    expect(state.results.filter((r) => r.name.startsWith('conformance: turso')).length).toBeGreaterThan(115)
    expect(state.results.filter((r) => r.name.startsWith('conformance: d1')).length).toBeGreaterThan(115)
    expect(state.results.filter((r) => r.name.startsWith('conformance: supabase')).length).toBeGreaterThan(115)
    expect(state.results.filter((r) => r.name.startsWith('conformance: firestore')).length).toBeGreaterThan(115)
    expect(state.results.filter((r) => r.name.startsWith('firestore rules in Chromium')).length).toBe(2)
    expect(state.pageErrors).toEqual([])
    // Chromium logs every refused request. Two kinds are expected: the rules tests make the Firestore
    // emulator refuse some (403; an unexpected 403 elsewhere would fail its conformance test), and the
    // first open of a new D1 database reads the schema version before any table exists (D1 answers
    // 400; the SDK then creates the schema): exactly as many as the D1 servers logged, each one statement.
    const refused = (status: number) => (line: string): boolean => line.includes(`Failed to load resource: the server responded with a status of ${status}`)
    expect(problems.filter((line) => !line.startsWith('[chromium console.warning]') && !refused(403)(line) && !refused(400)(line))).toEqual([])
    expect(problems.some(refused(403))).toBe(true)
    const d1Refused = d1.flatMap((server) => server.log).filter((entry) => entry.status === 400)
    expect(d1Refused.every((entry) => entry.statements === 1)).toBe(true)
    expect(problems.filter(refused(400))).toHaveLength(d1Refused.length)
  })

  it('passes every conformance test for turso, d1, supabase and firestore in Chromium', () => {
    const failed = state.results.filter((result) => result.status !== 'passed')
    console.log(`chromium remote conformance: ${state.results.length - failed.length} passed, ${failed.length} failed, of ${state.results.length}`)
    for (const result of state.results) expect.soft(result.status, `${result.name}\n${result.error ?? ''}`).toBe('passed')
    expect(failed.map((result) => result.name)).toEqual([])
  })

  it('the page really talked to the servers (requests reached both)', () => {
    expect(d1.some((d) => d.log.length > 100)).toBe(true)
    expect(hrana.some((h) => h.log.length > 100)).toBe(true)
    expect(postgrest!.log.filter((entry) => entry.method === 'POST').length).toBeGreaterThan(100)
    // Chromium asked before sending supabase-js's headers cross-origin, and the server allowed them.
    expect(postgrest!.log.some((entry) => entry.method === 'OPTIONS')).toBe(true)
  })
})

// Firestore as browser apps use it: signed-in Firebase Auth users. The real `firebase` package signs
// users up against the official Auth emulator (firebase-tools), and the official Firestore emulator
// enforces the SHIPPED firestore.rules on their ID tokens, so every request here goes user -> ID token
// -> rules -> data. The shared suite runs the same way in Chromium (e2e/remote.conformance.test.ts).
import { fileURLToPath } from 'node:url'
import { signOut } from 'firebase/auth'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createLTM, migrate, type LTM } from '../src/index.node.js'
import { runConformance, type ConformanceHarness } from './conformance/suite.js'
import { ok } from './conformance/harness.js'
import { signUpFirebaseUser, type SignedInUser } from './firebase-user.js'
import { recordingFetch } from './support/recording-fetch.js'
import { startFirebaseAuthEmulator, type FirebaseAuthEmulator } from './servers/firebase-auth-emulator.js'
import { startFirestoreEmulator, type FirestoreEmulator } from './servers/firestore-emulator.js'

const RULES = fileURLToPath(new URL('../firestore.rules', import.meta.url))

let authEmulator: FirebaseAuthEmulator
let firestore: FirestoreEmulator
const signedIn: SignedInUser[] = []

beforeAll(async () => {
  ;[authEmulator, firestore] = await Promise.all([startFirebaseAuthEmulator(), startFirestoreEmulator({ rules: RULES })])
}, 120_000)
afterAll(async () => {
  await Promise.all(signedIn.splice(0).map((s) => s.dispose()))
  await Promise.all([authEmulator?.stop(), firestore?.stop()])
})

async function newUser(): Promise<SignedInUser> {
  const user = await signUpFirebaseUser(authEmulator.url, authEmulator.projectId)
  signedIn.push(user)
  return user
}

type Extra = Record<string, unknown>
const open = (collection: string, auth: unknown, extra: Extra = {}): Promise<LTM> =>
  createLTM({ backend: 'firestore', projectId: authEmulator.projectId, collection, auth, baseUrl: firestore.baseUrl, ...extra } as Parameters<typeof createLTM>[0])

/** Each open() is a new user with an empty users/{uid}/memories; reopen() is the last user again. */
function harness(): ConformanceHarness {
  let last: SignedInUser | undefined
  return {
    async open(extra) {
      last = await newUser()
      return open(last.collection, { user: last.user }, extra)
    },
    reopen: (extra) => open(last!.collection, { user: last!.user }, extra),
  }
}

runConformance('firestore (Firebase Auth users, shipped security rules, official emulators)', harness(), migrate)

describe('firestore with Firebase Auth users: the rules hold', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it("another user's memories: every operation answers auth_failed, typed, and nothing changes", async () => {
    const owner = await newUser()
    const intruder = await newUser()
    const mine = await open(owner.collection, { user: owner.user })
    ok(await mine.store('plan', 'launch on Tuesday', { topic: 'work' }))
    ok(await mine.namespace('n2').store('other', 'kept too'))

    const theirs = await open(owner.collection, { user: intruder.user })
    const refused = [
      await theirs.store('plan', 'launch cancelled'),
      await theirs.store('new', 'planted'),
      await theirs.retrieve('plan'),
      await theirs.delete('plan'),
      await theirs.search('launch'),
      await theirs.search(null, { topic: 'work' }),
      await theirs.storeBatch([{ key: 'a', value: 1 }]),
      await theirs.retrieveBatch(['plan']),
      await theirs.cleanupExpired(),
      await theirs.transaction(async (tx) => {
        await tx.store('plan', 'inside a transaction')
      }),
    ]
    for (const result of refused) expect(result).toMatchObject({ success: false, error_type: 'auth_failed', error: expect.stringMatching(/403|PERMISSION_DENIED/) })
    // The intruder's ID token never appears in what the SDK reports.
    const token = await intruder.user.getIdToken()
    for (const result of refused) expect(JSON.stringify(result)).not.toContain(token)

    expect(ok(await mine.retrieve('plan')).value).toBe('launch on Tuesday')
    expect(ok(await mine.retrieve('new')).found).toBe(false)
    expect(ok(await mine.search('launch')).results.map((r) => r.key)).toEqual(['plan'])
    // The admin view (rules do not apply to `owner`): exactly what the owner wrote, where the rules put it.
    const admin = await open(owner.collection, 'owner')
    expect((await collect(admin)).map((m) => `${m.key}=${JSON.stringify(m.value)}`)).toEqual(['plan="launch on Tuesday"'])
    await Promise.all([mine.close(), theirs.close(), admin.close()])
  })

  it("a user's memories outside users/{uid}/ are refused too (the rules allow nothing else)", async () => {
    const { user } = await newUser()
    const ltm = await open('ltm_memories', { user })
    expect(await ltm.store('k', 'v')).toMatchObject({ success: false, error_type: 'auth_failed' })
    await ltm.close()
  })

  it('the bearer token is the signed-in user\'s ID token, asked of firebase on every request', async () => {
    const signed = await newUser()
    const recorder = recordingFetch()
    const ltm = await open(signed.collection, { user: signed.user }, { fetch: recorder.fetch })
    ok(await ltm.store('k', 'v'))
    ok(await ltm.retrieve('k'))
    const token = await signed.user.getIdToken()
    expect(recorder.auth).toEqual([`Bearer ${token}`, `Bearer ${token}`])
    // It is a Firebase ID token for this user (what the rules read as request.auth.uid).
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { user_id: string; aud: string }
    expect(claims).toMatchObject({ user_id: signed.user.uid, aud: authEmulator.projectId })
    await ltm.close()
  })

  it('an expired ID token: firebase refreshes it at the emulator and the handle keeps working', async () => {
    const signed = await newUser()
    const recorder = recordingFetch()
    const ltm = await open(signed.collection, { user: signed.user }, { fetch: recorder.fetch })
    ok(await ltm.store('k', 'before the hour'))
    // Only Date moves: firebase sees its token expired and refreshes it (securetoken at the emulator).
    await new Promise((resolve) => setTimeout(resolve, 1100)) // the new token's iat differs by a second
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 2 * 3600_000 })
    ok(await ltm.store('k', 'after the hour'))
    vi.useRealTimers()
    expect(ok(await ltm.retrieve('k')).value).toBe('after the hour')
    expect(new Set(recorder.auth).size).toBeGreaterThan(1)
    await ltm.close()
  })

  it('a signed-out user: calls answer auth_failed instead of using a token nobody holds', async () => {
    const signed = await newUser()
    const ltm = await open(signed.collection, { user: signed.user })
    ok(await ltm.store('k', 'v'))
    await signOut(signed.auth)
    const result = await ltm.store('k', 'after sign-out')
    expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
    await ltm.close()
    const admin = await open(signed.collection, 'owner')
    expect(ok(await admin.retrieve('k')).value).toBe('v')
    await admin.close()
  })

  it('auth: { user: null } (nobody signed in yet) is a clear invalid_argument at open', async () => {
    await expect(open('users/x/memories', { user: null })).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument', message: expect.stringMatching(/no user is signed in/) })
  })
})

async function collect(ltm: LTM): Promise<Array<{ key: string; value: unknown }>> {
  const all: Array<{ key: string; value: unknown }> = []
  for await (const memory of ltm.iterateAll()) all.push({ key: memory.key, value: memory.value })
  return all
}

/**
 * Firebase Auth users for tests, from the real `firebase` package against the official Auth emulator
 * (test/servers/firebase-auth-emulator.ts). Runs in Node and, bundled into a page, in Chromium.
 */
import { deleteApp, initializeApp } from 'firebase/app'
import { connectAuthEmulator, createUserWithEmailAndPassword, inMemoryPersistence, initializeAuth, type Auth, type User } from 'firebase/auth'

export interface SignedInUser {
  user: User
  auth: Auth
  /** Where this user's memories live under the shipped firestore.rules. */
  collection: string
  dispose(): Promise<void>
}

let accounts = 0

/** Signs up a new account, in a Firebase app of its own so that any number stay signed in at once. */
export async function signUpFirebaseUser(emulatorUrl: string, projectId: string): Promise<SignedInUser> {
  const name = `ltm-user-${Date.now().toString(36)}-${++accounts}-${Math.random().toString(36).slice(2, 8)}`
  const app = initializeApp({ apiKey: 'demo-api-key', projectId, authDomain: `${projectId}.firebaseapp.com` }, name)
  const auth = initializeAuth(app, { persistence: inMemoryPersistence })
  connectAuthEmulator(auth, emulatorUrl, { disableWarnings: true })
  const { user } = await createUserWithEmailAndPassword(auth, `${name}@example.com`, 'correct-horse-battery')
  return { user, auth, collection: `users/${user.uid}/memories`, dispose: () => deleteApp(app) }
}

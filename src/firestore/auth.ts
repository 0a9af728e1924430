import { LtmError, LtmFailure } from '../core/errors.js'
import type { Transport } from '../transport/transport.js'

/**
 * Where the Firestore backend gets its bearer tokens. Three kinds ship: a service account (signs an
 * RS256 JWT with Web Crypto and trades it for an access token at the key's token_uri, cached until
 * a minute before it expires), a signed-in Firebase Auth user (its ID token; security rules apply),
 * and a static token (`'owner'` for the emulator, or one you refresh yourself).
 */
export interface TokenProvider {
  /** A bearer token valid now. */
  getToken(): Promise<string>
}

/** A service account key file as Google issues it (snake_case), or as settings camel-case it. */
export interface ServiceAccountKey {
  client_email?: string
  private_key?: string
  private_key_id?: string
  token_uri?: string
  clientEmail?: string
  privateKey?: string
  privateKeyId?: string
  tokenUri?: string
}

/** The part of a Firebase Auth `User` (from the `firebase` package) this uses. */
export interface FirebaseUserLike {
  getIdToken(forceRefresh?: boolean): Promise<string>
  uid?: string
}

/** What a `User` from the `firebase` package also carries at run time (not in its public type): its Auth instance. */
interface SignedInUser {
  uid: string
  auth: { currentUser: { uid: string } | null }
}

const hasAuthInstance = (user: FirebaseUserLike): user is FirebaseUserLike & SignedInUser => {
  const auth = (user as { auth?: unknown }).auth
  return typeof user.uid === 'string' && typeof auth === 'object' && auth !== null && 'currentUser' in auth
}

/**
 * How to authenticate:
 * - a string: a bearer token (`'owner'` for the emulator), or a service account key's JSON text;
 * - `{ serviceAccount }`: a key object or its JSON text (server-side: never ship a key to a browser);
 * - `{ user }`: a Firebase Auth user, e.g. `getAuth().currentUser` (browser apps; rules apply);
 * - any `{ getToken() }` provider.
 * @example auth: { serviceAccount: JSON.parse(process.env.FIREBASE_SA!) }
 */
export type FirestoreAuth = string | TokenProvider | { serviceAccount: ServiceAccountKey | string } | { user: FirebaseUserLike }

export const DATASTORE_SCOPE = 'https://www.googleapis.com/auth/datastore'
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token'
/** Refresh this long before a token's stated expiry. */
const EXPIRY_MARGIN_MS = 60_000

export function staticTokenAuth(token: string): TokenProvider {
  return { getToken: async () => token }
}

/**
 * The user's ID token; the firebase SDK caches it and refreshes it when it is about to expire.
 * Once that user is no longer the signed-in user of its Auth instance (signed out, or another user
 * signed in), requests fail with auth_failed, as the firebase SDKs stop using a signed-out user's
 * token: an ID token stays valid for up to an hour after sign-out, so it must not be sent.
 */
export function firebaseUserAuth(user: FirebaseUserLike): TokenProvider {
  return {
    async getToken() {
      if (hasAuthInstance(user) && user.auth.currentUser?.uid !== user.uid) {
        throw new LtmFailure('auth_failed', 'firestore: the Firebase user of this store is no longer signed in (signed out, or another user signed in): open a store for the current user')
      }
      try {
        return await user.getIdToken()
      } catch (error) {
        throw new LtmFailure('auth_failed', `firestore: the Firebase user could not give an ID token: ${error instanceof Error ? error.message : String(error)}`)
      }
    },
  }
}

const base64url = (bytes: Uint8Array): string => {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
const encodeJson = (value: unknown): string => base64url(new TextEncoder().encode(JSON.stringify(value)))

function parseKey(input: ServiceAccountKey | string): { email: string; pem: string; keyId?: string; tokenUri: string } {
  let key: ServiceAccountKey
  if (typeof input === 'string') {
    try {
      key = JSON.parse(input) as ServiceAccountKey
    } catch {
      throw new LtmError('invalid_argument', 'firestore: serviceAccount is not valid JSON (pass the key file contents or the parsed object)')
    }
  } else key = input
  const email = key.client_email ?? key.clientEmail
  const pem = key.private_key ?? key.privateKey
  if (typeof email !== 'string' || typeof pem !== 'string') throw new LtmError('invalid_argument', 'firestore: serviceAccount needs client_email and private_key')
  return { email, pem, keyId: key.private_key_id ?? key.privateKeyId, tokenUri: key.token_uri ?? key.tokenUri ?? DEFAULT_TOKEN_URI }
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  if (/BEGIN RSA PRIVATE KEY/.test(pem)) throw new LtmError('invalid_argument', 'firestore: the service account key is PKCS#1; Web Crypto needs PKCS#8 ("BEGIN PRIVATE KEY", as Google issues keys)')
  const body = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\\n/g, '').replace(/\s+/g, '')
  try {
    const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0))
    return await crypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign'])
  } catch {
    throw new LtmError('invalid_argument', 'firestore: the service account private_key is not a PKCS#8 RSA key in PEM form')
  }
}

/**
 * A service account: the JWT bearer grant (RFC 7523) at the key's token_uri, through `transport`
 * (the backend's transport without the auth header, so the exchange gets the same timeouts, retries
 * and redaction). One exchange at a time; the token is reused until a minute before it expires.
 */
export async function serviceAccountAuth(input: ServiceAccountKey | string, transport: Transport): Promise<TokenProvider> {
  const { email, pem, keyId, tokenUri } = parseKey(input)
  const key = await importPrivateKey(pem)
  let cached: { token: string; expiresAt: number } | null = null
  let pending: Promise<string> | null = null

  async function exchange(): Promise<string> {
    const issuedAt = Math.floor(Date.now() / 1000)
    const header = { alg: 'RS256', typ: 'JWT', ...(keyId ? { kid: keyId } : {}) }
    const claims = { iss: email, sub: email, aud: tokenUri, scope: DATASTORE_SCOPE, iat: issuedAt, exp: issuedAt + 3600 }
    const unsigned = `${encodeJson(header)}.${encodeJson(claims)}`
    const signature = new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, new TextEncoder().encode(unsigned)))
    const assertion = `${unsigned}.${base64url(signature)}`
    const response = await transport.request(tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
      idempotent: true, // asking for a token twice is harmless
    })
    let body: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {}
    try {
      body = response.json() as typeof body
    } catch {
      // described below
    }
    if (response.status !== 200 || typeof body.access_token !== 'string') {
      const said = [body.error, body.error_description].filter((part) => typeof part === 'string').join(': ') || `HTTP ${response.status}`
      throw new LtmFailure('auth_failed', transport.redact(`firestore: the service account token exchange at ${new URL(tokenUri).host} failed: ${said}`))
    }
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 3600
    cached = { token: body.access_token, expiresAt: Date.now() + lifetime * 1000 - EXPIRY_MARGIN_MS }
    return body.access_token
  }

  return {
    getToken() {
      if (cached && Date.now() < cached.expiresAt) return Promise.resolve(cached.token)
      pending ??= exchange().finally(() => (pending = null))
      return pending
    },
  }
}

/** The provider for an `auth` option; `exchange` is the transport a service account uses for its token exchange. */
export async function resolveAuth(auth: FirestoreAuth, exchange: Transport): Promise<TokenProvider> {
  if (typeof auth === 'string') {
    if (auth.trimStart().startsWith('{')) return serviceAccountAuth(auth, exchange)
    if (auth === '') throw new LtmError('invalid_argument', 'firestore: auth is an empty string')
    return staticTokenAuth(auth)
  }
  if (auth && typeof auth === 'object') {
    if ('getToken' in auth && typeof auth.getToken === 'function') return auth
    if ('serviceAccount' in auth) return serviceAccountAuth(auth.serviceAccount, exchange)
    if ('user' in auth) {
      if (auth.user === null || auth.user === undefined) {
        throw new LtmError('invalid_argument', 'firestore: auth.user is null: no user is signed in yet (open the store once onAuthStateChanged gives a user, or after await auth.authStateReady())')
      }
      if (typeof auth.user.getIdToken === 'function') return firebaseUserAuth(auth.user)
    }
  }
  throw new LtmError('invalid_argument', 'firestore: auth must be a token string, { serviceAccount }, { user } (a Firebase Auth user) or { getToken() }')
}

/** Secret values inside an `auth` option, for redaction. */
export function authSecrets(auth: FirestoreAuth | undefined): string[] {
  if (typeof auth === 'string') return auth.trimStart().startsWith('{') ? [auth, ...keySecrets(auth)] : [auth]
  if (auth && typeof auth === 'object' && 'serviceAccount' in auth) return keySecrets(auth.serviceAccount)
  return []
}

function keySecrets(input: ServiceAccountKey | string): string[] {
  try {
    const { pem } = parseKey(input)
    return [pem, pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\\n/g, '').replace(/\s+/g, '')]
  } catch {
    return []
  }
}

/** Headers whose values are credentials: learned as secrets whenever a request carries them. */
export const CREDENTIAL_HEADERS = ['authorization', 'apikey', 'x-api-key', 'x-auth-key', 'x-goog-api-key', 'cookie', 'x-turso-encryption-key'] as const

/** Query parameters that carry signatures or tokens in signed URLs (S3, GCS, Azure SAS) and APIs that take keys in URLs. */
const SECRET_QUERY_PARAMS = [
  'sig',
  'signature',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'x-goog-signature',
  'x-goog-credential',
  'token',
  'access_token',
  'authtoken',
  'auth_token',
  'key',
  'apikey',
  'api_key',
]

const REDACTED = '[REDACTED]'
const QUERY_SECRET = new RegExp(`([?&](?:${SECRET_QUERY_PARAMS.join('|')})=)[^&#\\s"'<>]+`, 'gi')
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g

/**
 * Removes credentials from text meant for people (error messages, logs): known secret values,
 * bearer and basic credentials, JWTs, and signature or token parameters of URLs.
 */
export class Redactor {
  #secrets = new Set<string>()

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) this.add(secret)
  }

  /** Values shorter than 4 characters are ignored: redacting them would mangle ordinary text. */
  add(secret: string | undefined | null): void {
    if (!secret || secret.length < 4) return
    this.#secrets.add(secret)
    // `Bearer abc`: the token alone is the secret too.
    const token = /^(?:Bearer|Basic)\s+(.+)$/i.exec(secret)?.[1]
    if (token && token.length >= 4) this.#secrets.add(token)
  }

  /** Learns the credentials a request carries in its headers. */
  learnFrom(headers: Headers): void {
    for (const name of CREDENTIAL_HEADERS) this.add(headers.get(name))
  }

  redact(text: string): string {
    let out = text
    // Longest first, so a secret that contains another is replaced whole.
    for (const secret of [...this.#secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join(REDACTED)
    return out.replace(QUERY_SECRET, `$1${REDACTED}`).replace(BEARER, `$1 ${REDACTED}`).replace(JWT, REDACTED)
  }
}

import type { PageRequest, PreparedWrite } from '../core/backend.js'
import { invalidInput } from '../core/errors.js'
import type { PgStatement } from './executor.js'

/** SQL for the plain operations (search lives in search.ts): one statement each, every value a parameter. */

export const MEMORY_COLUMNS = `m.key AS key, m.value AS value, m.metadata::text AS metadata, m.content_hash AS content_hash,
  m.created_at AS created_at, m.updated_at AS updated_at, m.expires_at AS expires_at`

/** `$n` for the parameter holding `now`. */
export const live = (now: string): string => `(m.expires_at IS NULL OR m.expires_at > ${now})`

/** Pushes a parameter and returns its placeholder. */
export function param(values: unknown[], value: unknown, cast?: string): string {
  values.push(value)
  return cast ? `$${values.length}::${cast}` : `$${values.length}`
}

/**
 * PostgreSQL text cannot hold U+0000, and jsonb neither that nor an unpaired surrogate (JSON
 * escapes of either are refused). Checked before sending, so the message says what to change.
 */
export function assertStorableText(text: string, what: string): void {
  if (text.includes('\u0000')) throw invalidInput(`postgres: ${what} contains the character U+0000, which PostgreSQL text cannot store`)
}

// A JSON escape of U+0000 or of a lone surrogate, not itself escaped (an even number of backslashes before it).
const UNSTORABLE_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i
const PAIRED_SURROGATES = /\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}/gi

export function assertStorableJson(json: string, what: string): void {
  if (json.includes('\\u') && UNSTORABLE_ESCAPE.test(json.replace(PAIRED_SURROGATES, 'xx'))) {
    throw invalidInput(`postgres: ${what} contains U+0000 or an unpaired surrogate in a string, which PostgreSQL jsonb cannot store`)
  }
}

/**
 * PostgreSQL refuses a tsvector over 1 MB (lexemes plus positions). Each term is repeated as many
 * times as it occurs (at most 256: PostgreSQL keeps no more positions per lexeme), so ts_rank_cd
 * sees term frequencies; a memory too large for that is indexed once per term, and a memory too
 * large even so is not in the GIN index at all (tokens NULL) and searched by its terms alone.
 * The estimate is generous: a term PostgreSQL's parser splits (can't -> can, t) costs an entry per part.
 */
const TSVECTOR_BUDGET = 900_000
const MAX_POSITIONS = 256
const PART_BREAK = /[^\p{L}\p{N}\p{M}]/gu

export function tokensFor(termsJson: string): string | null {
  const terms = Object.entries(JSON.parse(termsJson) as Record<string, number>)
  let repeated = 0
  let once = 0
  for (const [term, frequency] of terms) {
    const parts = 1 + (term.match(PART_BREAK)?.length ?? 0)
    const bytes = Buffer.byteLength(term)
    repeated += bytes + parts * (8 + 2 * Math.min(frequency, MAX_POSITIONS))
    once += bytes + parts * 10
  }
  if (repeated <= TSVECTOR_BUDGET) {
    return terms.map(([term, frequency]) => (frequency === 1 ? term : `${term} `.repeat(Math.min(frequency, MAX_POSITIONS)).trimEnd())).join(' ')
  }
  return once <= TSVECTOR_BUDGET ? terms.map(([term]) => term).join(' ') : null
}

/** One entry of ltm_write's JSON array; value, metadata and terms are embedded as they are. */
function entryJson(write: PreparedWrite): string {
  assertStorableText(write.namespace, 'the namespace name')
  assertStorableText(write.key, 'the key')
  assertStorableJson(write.metadataJson, 'the metadata')
  return `{"ns":${JSON.stringify(write.namespace)},"key":${JSON.stringify(write.key)},"value":${JSON.stringify(write.valueJson)},` +
    `"metadata":${write.metadataJson},"content_hash":${JSON.stringify(write.contentHash)},"terms":${write.termsJson},` +
    `"doc_len":${write.length},"tokens":${JSON.stringify(tokensFor(write.termsJson))},"expires_at":${write.expiresAt ?? 'null'},"explicit":${write.explicitExpiry}}`
}

/** The whole batch in one statement; rows come back in entry order with each entry's outcome. */
export function writeMemories(entries: PreparedWrite[], now: number): PgStatement {
  return {
    text: `SELECT out_status AS status, out_expires_at AS expires_at FROM ltm_write($1::json, $2::bigint) ORDER BY ord`,
    values: [`[${entries.map(entryJson).join(',')}]`, now],
  }
}

export function selectMemories(namespace: string, keys: string[], now: number): PgStatement {
  assertStorableText(namespace, 'the namespace name')
  for (const key of keys) assertStorableText(key, 'a key')
  return {
    text: `SELECT ${MEMORY_COLUMNS} FROM ltm_memories m WHERE m.ns = $1 AND m.key = ANY($2::text[]) AND ${live('$3')}`,
    values: [namespace, keys, now],
  }
}

/** Returns the removed row's expiry, so the caller can tell whether a live memory was removed. */
export function deleteMemory(namespace: string, key: string): PgStatement {
  assertStorableText(namespace, 'the namespace name')
  assertStorableText(key, 'the key')
  return { text: `DELETE FROM ltm_memories WHERE ns = $1 AND key = $2 RETURNING expires_at`, values: [namespace, key] }
}

export function deleteExpired(namespace: string, now: number): PgStatement {
  assertStorableText(namespace, 'the namespace name')
  return {
    text: `WITH gone AS (DELETE FROM ltm_memories WHERE ns = $1 AND expires_at IS NOT NULL AND expires_at <= $2 RETURNING 1)
      SELECT count(*) AS n FROM gone`,
    values: [namespace, now],
  }
}

/** Keyset pagination over (namespace, key) in byte order; descendants are the namespaces below `namespace/`. */
export function pageMemories(request: PageRequest): PgStatement {
  const { namespace, includeDescendants, after, pageSize, now } = request
  assertStorableText(namespace, 'the namespace name')
  const values: unknown[] = []
  let scope: string
  if (!includeDescendants) scope = `m.ns = ${param(values, namespace)}`
  else if (namespace === '') scope = 'TRUE'
  else {
    // Every name that starts with `namespace/` sorts between `namespace/` and `namespace0` ('0' follows '/').
    scope = `(m.ns = ${param(values, namespace)} OR (m.ns > ${param(values, `${namespace}/`)} AND m.ns < ${param(values, `${namespace}0`)}))`
  }
  let cursor = 'TRUE'
  if (after) {
    const ns = param(values, after.namespace)
    cursor = `(m.ns > ${ns} OR (m.ns = ${ns} AND m.key > ${param(values, after.key)}))`
  }
  const nowParam = param(values, now)
  return {
    text: `SELECT m.ns AS namespace, ${MEMORY_COLUMNS} FROM ltm_memories m
      WHERE ${scope} AND ${cursor} AND ${live(nowParam)} ORDER BY m.ns, m.key LIMIT ${param(values, pageSize)}`,
    values,
  }
}

export const STATS: PgStatement = {
  text: `SELECT count(*) AS namespaces, COALESCE(sum(doc_count), 0) AS memories, pg_database_size(current_database()) AS database_bytes FROM ltm_namespaces`,
  values: [],
}

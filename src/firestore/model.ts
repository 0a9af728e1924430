/**
 * The Firestore data model of agent-ltm. With `collection: C` (default `ltm_memories`):
 *
 * - `C/{memoryId}`: one document per memory. `memoryId` is `m.` + base64url(UTF-8 namespace) + `.` +
 *   base64url(UTF-8 key): injective (`.` is not a base64url character), never `/`, never `__x__`.
 *   When that would pass Firestore's 1500-byte id limit (long namespace + long key), it is `mh.` +
 *   hex SHA-256 of `[namespace, key]` as JSON, and every read checks the stored `ns`/`key` fields.
 *   Fields:
 *   - `ns`, `key` (strings);
 *   - `value`: the value's JSON text as given (exact round trip: key order, number spelling);
 *     values too large for one document live in `C/{memoryId}/value_chunks/{version}-{i}` (`data`)
 *     and `value_chunks` / `value_version` point at them (a new version per write, so a reader
 *     never sees a half-written value);
 *   - `metadata`: the metadata as a Firestore map, for `where` clauses (arrays are stored as their
 *     JSON text, keys Firestore refuses (`__x__`, empty) are left out, nesting is capped), and
 *     `metadata_json`: the canonical JSON text, which is what reads return and filters decide on;
 *   - `content_hash`; `terms`: the distinct search terms (array, for `array-contains-any`);
 *     `tf`: JSON text `{term: frequency}` and `doc_len`: the BM25 inputs (text, not a map: map keys
 *     cannot be `__x__` and each would cost index entries);
 *   - `created_at`, `updated_at`, `expires_at` (epoch ms; `expires_at` null when it never expires)
 *     and `expire_at` (a Timestamp, only on expiring memories: the field a TTL policy deletes by);
 *   - `ord`: creation order (ms x 1000 + position in the batch), the tie-break SQLite's rowid gives.
 * - `C_namespaces/n.{b64 ns}`: `doc_count`, `token_count` of the namespace (BM25's N and avgdl).
 * - `C_terms/t.{b64 ns}.{b64 term}`: `ns`, `term`, `df` (documents of the namespace holding the term).
 *   Both stats documents change only through `increment` transforms in the same commit as the
 *   memory, so concurrent writers add up instead of overwriting each other; a memory's own change is
 *   guarded by a precondition (its `updateTime`, or `exists: false`) so the decrements of an
 *   overwrite or delete always match the version that was really replaced.
 */
import { sha256Hex } from '../core/hash.js'
import type { JsonValue } from '../core/types.js'
import { canonicalJson } from '../core/json.js'
import type { FsDocument } from './client.js'
import {
  arrayValue,
  integerValue,
  isValidFieldName,
  isWellFormed,
  nullValue,
  numberValue,
  readNumber,
  readString,
  readStrings,
  stringValue,
  timestampValue,
  utf8Bytes,
  wellFormed,
  type FsFields,
  type FsValue,
} from './values.js'

export const DEFAULT_COLLECTION = 'ltm_memories'
export const CHUNKS = 'value_chunks'
/** Firestore refuses ids over 1500 bytes. */
const MAX_ID_BYTES = 1500
/** A memory document stays below Firestore's 1 MiB with room for names and overhead. */
export const MAX_DOC_BYTES = 900_000
/** Firestore caps nesting at 20 levels; the metadata map keeps this many below `metadata`. */
export const MAX_METADATA_DEPTH = 12

/** A memory as this backend keeps it. `valueJson` is null while a chunked value is not loaded. */
export interface MemoryDoc {
  id: string
  ns: string
  key: string
  valueJson: string | null
  chunks: { version: string; count: number } | null
  metadataJson: string
  contentHash: string
  tfJson: string
  /** Distinct indexed terms (the `terms` array). */
  terms: string[]
  docLen: number
  createdAt: number
  updatedAt: number
  expiresAt: number | null
  ord: number
}

/** A memory read from the server, with the version a precondition can name. */
export interface ServerMemory extends MemoryDoc {
  updateTime: string
}

export interface Collections {
  /** Path of the memories collection (may be a subcollection path `a/b/c`). */
  memories: string
  namespaces: string
  terms: string
}

export function collectionsFor(collection: string): Collections {
  return { memories: collection, namespaces: `${collection}_namespaces`, terms: `${collection}_terms` }
}

const encoder = new TextEncoder()

function base64url(text: string): string {
  let binary = ''
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

async function idFor(prefix: string, parts: string[]): Promise<string> {
  const readable = `${prefix}.${parts.map(base64url).join('.')}`
  if (readable.length <= MAX_ID_BYTES) return readable
  const hash = (await sha256Hex(JSON.stringify(parts))).replace(/^sha256:/, '')
  return `${prefix}h.${hash}`
}

export const memoryId = (ns: string, key: string): Promise<string> => idFor('m', [ns, key])
export const namespaceId = (ns: string): Promise<string> => idFor('n', [ns])
export const termId = (ns: string, term: string): Promise<string> => idFor('t', [ns, term])

/** The id part of a document's resource name. */
export const idOf = (name: string): string => name.slice(name.lastIndexOf('/') + 1)

/** The distinct terms a memory is indexed under, from its `{term: frequency}` JSON. */
export function indexTerms(tfJson: string): string[] {
  return [...new Set(Object.keys(JSON.parse(tfJson) as Record<string, number>).map(wellFormed))]
}

/**
 * The metadata as a Firestore map for `where` clauses. Only scalars reached through objects are ever
 * filtered on in Firestore (the SDK decides the rest), so arrays become their JSON text, keys
 * Firestore refuses are dropped, and nesting below MAX_METADATA_DEPTH becomes JSON text.
 */
export function metadataMap(value: JsonValue, depth = 0): FsValue {
  if (value === null) return nullValue()
  if (typeof value === 'boolean') return { booleanValue: value }
  if (typeof value === 'number') return numberValue(value)
  if (typeof value === 'string') return stringValue(wellFormed(value))
  if (Array.isArray(value) || depth >= MAX_METADATA_DEPTH) return stringValue(wellFormed(canonicalJson(value)))
  const fields: FsFields = {}
  for (const [key, item] of Object.entries(value)) if (isValidFieldName(key)) fields[key] = metadataMap(item, depth + 1)
  return { mapValue: { fields } }
}

/** The fields of a memory document (the value inline unless it is chunked). */
export function memoryFields(doc: MemoryDoc): FsFields {
  const fields: FsFields = {
    ns: stringValue(doc.ns),
    key: stringValue(doc.key),
    metadata: metadataMap(JSON.parse(doc.metadataJson) as JsonValue),
    metadata_json: stringValue(doc.metadataJson),
    content_hash: stringValue(doc.contentHash),
    terms: arrayValue(doc.terms.map(stringValue)),
    tf: stringValue(doc.tfJson),
    doc_len: integerValue(doc.docLen),
    created_at: integerValue(doc.createdAt),
    updated_at: integerValue(doc.updatedAt),
    expires_at: doc.expiresAt === null ? nullValue() : integerValue(doc.expiresAt),
    ord: integerValue(doc.ord),
  }
  if (doc.expiresAt !== null) fields.expire_at = timestampValue(doc.expiresAt)
  if (doc.chunks) {
    fields.value_chunks = integerValue(doc.chunks.count)
    fields.value_version = stringValue(doc.chunks.version)
  } else fields.value = stringValue(doc.valueJson ?? '')
  return fields
}

/** Every field but `value` and the filter map: what a write needs to know about the version it replaces. */
export const STATE_FIELDS = ['ns', 'key', 'metadata_json', 'content_hash', 'terms', 'tf', 'doc_len', 'created_at', 'updated_at', 'expires_at', 'ord', 'value_chunks', 'value_version']
/** What reads and search results need. */
export const READ_FIELDS = [...STATE_FIELDS, 'value']

export function fromDocument(document: FsDocument): ServerMemory {
  const f = document.fields ?? {}
  const chunkCount = readNumber(f.value_chunks) ?? 0
  const tfJson = readString(f.tf) ?? '{}'
  return {
    id: idOf(document.name),
    ns: readString(f.ns) ?? '',
    key: readString(f.key) ?? '',
    valueJson: chunkCount > 0 ? null : readString(f.value),
    chunks: chunkCount > 0 ? { version: readString(f.value_version) ?? '', count: chunkCount } : null,
    metadataJson: readString(f.metadata_json) ?? '{}',
    contentHash: readString(f.content_hash) ?? '',
    tfJson,
    terms: f.terms ? readStrings(f.terms) : indexTerms(tfJson),
    docLen: readNumber(f.doc_len) ?? 0,
    createdAt: readNumber(f.created_at) ?? 0,
    updatedAt: readNumber(f.updated_at) ?? 0,
    expiresAt: readNumber(f.expires_at),
    ord: readNumber(f.ord) ?? 0,
    updateTime: document.updateTime ?? '',
  }
}

export const isLive = (doc: Pick<MemoryDoc, 'expiresAt'>, now: number): boolean => doc.expiresAt === null || doc.expiresAt > now

/**
 * Splits a value's JSON text into chunks of at most `maxBytes` UTF-8 bytes, never inside a
 * character (the text is well-formed: JSON.stringify escapes lone surrogates).
 */
export function splitValue(valueJson: string, maxBytes: number): string[] {
  const bytes = encoder.encode(valueJson)
  const decoder = new TextDecoder()
  const chunks: string[] = []
  let start = 0
  while (start < bytes.length) {
    let end = Math.min(start + maxBytes, bytes.length)
    while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end-- // a continuation byte: back to the character's start
    chunks.push(decoder.decode(bytes.subarray(start, end)))
    start = end
  }
  return chunks
}

/**
 * Whether the value goes inline: the document (value, tf, terms and metadata twice) must stay under
 * MAX_DOC_BYTES. Returns the byte size of everything but the value too, to refuse documents whose
 * index alone is too large for Firestore.
 */
export function sizing(doc: Pick<MemoryDoc, 'valueJson' | 'tfJson' | 'terms' | 'metadataJson' | 'key'>): { inline: boolean; restBytes: number } {
  const restBytes = utf8Bytes(doc.tfJson) + 2 * utf8Bytes(doc.metadataJson) + doc.terms.reduce((sum, term) => sum + utf8Bytes(term) + 8, 0) + utf8Bytes(doc.key) + 512
  return { inline: utf8Bytes(doc.valueJson ?? '') + restBytes <= MAX_DOC_BYTES, restBytes }
}

export { isWellFormed }

/**
 * Firestore's typed Value JSON (REST v1) to and from JavaScript, and field paths. Integers travel as
 * decimal strings (`integerValue: "42"`), so only safe integers are written as integers; every
 * other number is a double, which Firestore compares equal to an integer of the same value.
 */

export type FsValue =
  | { nullValue: null }
  | { booleanValue: boolean }
  | { integerValue: string }
  | { doubleValue: number | string }
  | { stringValue: string }
  | { timestampValue: string }
  | { referenceValue: string }
  | { arrayValue: { values?: FsValue[] } }
  | { mapValue: { fields?: Record<string, FsValue> } }

export type FsFields = Record<string, FsValue>

export const nullValue = (): FsValue => ({ nullValue: null })
export const stringValue = (text: string): FsValue => ({ stringValue: text })
export const integerValue = (n: number): FsValue => ({ integerValue: String(Math.trunc(n)) })
export const numberValue = (n: number): FsValue => (Number.isSafeInteger(n) ? { integerValue: String(n) } : { doubleValue: n })
export const timestampValue = (ms: number): FsValue => ({ timestampValue: new Date(ms).toISOString() })
export const arrayValue = (values: FsValue[]): FsValue => ({ arrayValue: values.length > 0 ? { values } : {} })

/** A number field (integer or double); null when absent, null or not a number. */
export function readNumber(value: FsValue | undefined): number | null {
  if (!value) return null
  if ('integerValue' in value) return Number(value.integerValue)
  if ('doubleValue' in value) return Number(value.doubleValue)
  return null
}

export function readString(value: FsValue | undefined): string | null {
  return value && 'stringValue' in value ? value.stringValue : null
}

export function readStrings(value: FsValue | undefined): string[] {
  if (!value || !('arrayValue' in value)) return []
  return (value.arrayValue.values ?? []).map(readString).filter((s): s is string => s !== null)
}

// Names of the form __x__ are reserved by Firestore (documents, collections and fields alike).
const RESERVED = /^__.*__$/
const SIMPLE_SEGMENT = /^[A-Za-z_][A-Za-z_0-9]*$/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** True when `text` has no lone surrogate: Firestore stores UTF-8, which cannot carry one. */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text)
}

/** Lone surrogates replaced by U+FFFD, as TextEncoder would. */
export function wellFormed(text: string): string {
  return isWellFormed(text) ? text : text.replace(new RegExp(LONE_SURROGATE.source, 'g'), '\ufffd')
}

const encoder = new TextEncoder()
export const utf8Bytes = (text: string): number => encoder.encode(text).length

/** A map key Firestore accepts as a field name (and so may appear in a field path). */
export function isValidFieldName(name: string): boolean {
  return name !== '' && !RESERVED.test(name) && isWellFormed(name) && utf8Bytes(name) <= 1500
}

/** One field path from its segments: `a.b`, or backtick-quoted where needed (`` `x.y`.`z\`` ``). */
export function fieldPath(segments: readonly string[]): string {
  return segments.map((segment) => (SIMPLE_SEGMENT.test(segment) ? segment : `\`${segment.replace(/[\\`]/g, (c) => `\\${c}`)}\``)).join('.')
}

/** A collection id or document id Firestore accepts. */
export function isValidId(id: string): boolean {
  return id !== '' && id !== '.' && id !== '..' && !id.includes('/') && !RESERVED.test(id) && isWellFormed(id) && utf8Bytes(id) <= 1500
}

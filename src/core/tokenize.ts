/**
 * The one tokeniser: every backend indexes and queries these tokens, so the same text gives the
 * same terms in Node, browsers and remote engines. Unicode word segmentation (Intl.Segmenter, so
 * CJK and Thai split into words), lower case, Latin/Greek/Cyrillic diacritics folded.
 */

/** Longer tokens are cut to this many UTF-16 code units (index and query alike). */
export const MAX_TOKEN_LENGTH = 64

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' })
// Only the combining marks that act as accents on alphabetic scripts: Thai or Devanagari vowel
// signs are marks too, and removing them would merge different words.
const ACCENTS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g
const LIGATURES: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', þ: 'th', ı: 'i' }
const LIGATURE_PATTERN = /[ßæœøłđþı]/g
const NEEDS_FOLDING = /[^\x00-\x7f]/

// V8's Intl.Segmenter iterates in time quadratic in the string's length (1 MB of text takes minutes),
// so long text is segmented in chunks that end at white space, where a word boundary always is.
const CHUNK = 512
const WHITESPACE_LOOKBACK = 128

function* segmentsOf(text: string): Generator<Intl.SegmentData> {
  if (text.length <= CHUNK) {
    yield* segmenter.segment(text)
    return
  }
  let start = 0
  while (start < text.length) {
    let end = Math.min(start + CHUNK, text.length)
    if (end < text.length) {
      const space = text.slice(end - WHITESPACE_LOOKBACK, end).search(/\s(?=\S*$)/)
      if (space >= 0) end = end - WHITESPACE_LOOKBACK + space + 1
      else if (/[\ud800-\udbff]/.test(text[end - 1]!)) end-- // a run without spaces (CJK): cut, but not inside a surrogate pair
    }
    yield* segmenter.segment(text.slice(start, end))
    start = end
  }
}

export function normalizeTerm(word: string): string {
  let term = word.toLowerCase()
  if (NEEDS_FOLDING.test(term)) {
    term = term.normalize('NFKD').replace(ACCENTS, '').replace(LIGATURE_PATTERN, (c) => LIGATURES[c] ?? c).normalize('NFC')
  }
  if (term.length <= MAX_TOKEN_LENGTH) return term
  // Never cut between the two halves of a surrogate pair.
  const cut = /[\ud800-\udbff]/.test(term[MAX_TOKEN_LENGTH - 1]!) ? MAX_TOKEN_LENGTH - 1 : MAX_TOKEN_LENGTH
  return term.slice(0, cut)
}

// Fast path: a space-delimited run that is plain ASCII letters and digits, with only sentence
// punctuation at its edges, is exactly one word for UAX #29 (the segmenter agrees; a property test
// checks it), so it skips Intl.Segmenter, which costs about 2 µs a word.
const ASCII_SPACE = /[ \t\n\r]+/
const PLAIN_WORD = /^[.,;:!?"'()[\]{}]*([A-Za-z0-9]+)[.,;:!?"'()[\]{}]*$/
const EDGE_PUNCTUATION_ONLY = /^[.,;:!?"'()[\]{}]*$/

/** The terms of `text`, in order, duplicates kept. */
export function tokenize(text: string): string[] {
  const terms: string[] = []
  for (const run of text.split(ASCII_SPACE)) {
    const plain = PLAIN_WORD.exec(run)
    if (plain) {
      const word = plain[1]!
      terms.push(word.length > MAX_TOKEN_LENGTH ? word.slice(0, MAX_TOKEN_LENGTH).toLowerCase() : word.toLowerCase())
      continue
    }
    if (EDGE_PUNCTUATION_ONLY.test(run)) continue
    for (const segment of segmentsOf(run)) {
      if (!segment.isWordLike) continue
      const term = normalizeTerm(segment.segment)
      if (term) terms.push(term)
    }
  }
  return terms
}

/** What a memory contributes to the index: every string and number inside its value, not keys. */
export function searchableText(value: unknown): string {
  const parts: string[] = []
  collect(value, parts)
  return parts.join('\n')
}

function collect(value: unknown, parts: string[]): void {
  if (typeof value === 'string') parts.push(value)
  else if (typeof value === 'number') parts.push(String(value))
  else if (Array.isArray(value)) for (const item of value) collect(item, parts)
  else if (value && typeof value === 'object') for (const item of Object.values(value)) collect(item, parts)
}

export interface DocumentTerms {
  /** term -> occurrences */
  frequencies: Map<string, number>
  /** Number of tokens, the BM25 document length. */
  length: number
}

export function documentTerms(value: unknown): DocumentTerms {
  const tokens = tokenize(searchableText(value))
  const frequencies = new Map<string, number>()
  for (const token of tokens) frequencies.set(token, (frequencies.get(token) ?? 0) + 1)
  return { frequencies, length: tokens.length }
}

export interface QueryTerm {
  term: string
  /** Matches every indexed term that starts with `term`. */
  prefix: boolean
  /** raw syntax: `+term` must be present. */
  required: boolean
  /** raw syntax: `-term` must be absent. */
  excluded: boolean
}

export interface ParsedQuery {
  terms: QueryTerm[]
  /** Every positive term must match (`match: 'all'`). */
  matchAll: boolean
}

/**
 * Any user text becomes a valid query: words are words, `word*` is a prefix. With `raw` syntax a
 * leading `+` requires a word and a leading `-` excludes it. Nothing here can be a syntax error.
 */
export function parseQuery(text: string, options: { syntax?: 'safe' | 'raw'; matchAll?: boolean } = {}): ParsedQuery {
  const raw = options.syntax === 'raw'
  const terms: QueryTerm[] = []
  const seen = new Map<string, QueryTerm>()
  let operator = ''
  // An operator counts only at the start of a word: `e-mail` and `a+b` are plain words.
  let atBoundary = true
  let pending: QueryTerm | undefined
  for (const { segment, isWordLike } of segmentsOf(text)) {
    if (isWordLike) {
      const term = normalizeTerm(segment)
      pending = undefined
      if (term) {
        const key = `${term}\u0000${operator}`
        const existing = seen.get(key)
        if (existing) pending = existing
        else {
          const candidate: QueryTerm = { term, prefix: false, required: operator === '+', excluded: operator === '-' }
          seen.set(key, candidate)
          terms.push(candidate)
          pending = candidate
        }
      }
      operator = ''
      atBoundary = false
    } else {
      if (segment === '*' && pending) pending.prefix = true
      pending = undefined
      operator = raw && atBoundary && (segment === '+' || segment === '-') ? segment : ''
      atBoundary = segment.trim() === ''
    }
  }
  return { terms, matchAll: options.matchAll === true }
}

/** The smallest string greater than every string that starts with `prefix` (code point order = UTF-8 byte order). */
export function prefixUpperBound(prefix: string): string {
  const codePoints = Array.from(prefix)
  const last = codePoints.pop()
  if (last === undefined) return '\u{10ffff}'
  let next = (last.codePointAt(0) ?? 0) + 1
  if (next >= 0xd800 && next <= 0xdfff) next = 0xe000
  if (next > 0x10ffff) return prefixUpperBound(codePoints.join('')) // all of this prefix's range
  return codePoints.join('') + String.fromCodePoint(next)
}

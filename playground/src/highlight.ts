/**
 * Marks the words of a value that a query matched, with the SDK's own tokenizer: a word is marked
 * when its normalized form equals a query term, or starts with a prefix term (`word*`).
 */
import { parseQuery, tokenize, type JsonValue } from 'agent-ltm'

export interface QueryMatcher {
  exact: ReadonlySet<string>
  prefixes: readonly string[]
}

/** The positive terms of `query`; null when it has none (an empty query lists, it does not match). */
export function queryMatcher(query: string): QueryMatcher | null {
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const term of parseQuery(query).terms) {
    if (term.excluded) continue
    if (term.prefix) prefixes.push(term.term)
    else exact.add(term.term)
  }
  return exact.size > 0 || prefixes.length > 0 ? { exact, prefixes } : null
}

/** Whether one word of text matches: normalized with `tokenize`, as the index does. */
export function wordMatches(word: string, matcher: QueryMatcher): boolean {
  return tokenize(word).some((term) => matcher.exact.has(term) || matcher.prefixes.some((prefix) => term.startsWith(prefix)))
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' })

/** Appends `text` to `parent`, matched words wrapped in <mark>. Returns how many words were marked. */
export function appendHighlighted(parent: HTMLElement, text: string, matcher: QueryMatcher | null): number {
  if (!matcher) {
    parent.append(text)
    return 0
  }
  let plain = ''
  let marked = 0
  for (const { segment, isWordLike } of segmenter.segment(text)) {
    if (isWordLike && wordMatches(segment, matcher)) {
      if (plain) parent.append(plain)
      plain = ''
      const mark = document.createElement('mark')
      mark.textContent = segment
      parent.append(mark)
      marked++
    } else {
      plain += segment
    }
  }
  if (plain) parent.append(plain)
  return marked
}

/**
 * Appends `value` as indented JSON. Only strings and numbers are highlighted: they are what the
 * index holds; object keys are not searchable, so they are never marked.
 */
export function appendJsonHighlighted(parent: HTMLElement, value: JsonValue, matcher: QueryMatcher | null, indent = ''): void {
  if (typeof value === 'string') {
    parent.append('"')
    appendHighlighted(parent, JSON.stringify(value).slice(1, -1), matcher)
    parent.append('"')
  } else if (typeof value === 'number') {
    appendHighlighted(parent, String(value), matcher)
  } else if (value === null || typeof value === 'boolean') {
    parent.append(String(value))
  } else {
    const entries: Array<[string | null, JsonValue]> = Array.isArray(value) ? value.map((item) => [null, item]) : Object.entries(value)
    const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}']
    if (entries.length === 0) {
      parent.append(open + close)
      return
    }
    parent.append(open)
    entries.forEach(([key, item], index) => {
      parent.append(`\n${indent}  `)
      if (key !== null) {
        const keySpan = document.createElement('span')
        keySpan.className = 'json-key'
        keySpan.textContent = JSON.stringify(key)
        parent.append(keySpan, ': ')
      }
      appendJsonHighlighted(parent, item, matcher, `${indent}  `)
      if (index < entries.length - 1) parent.append(',')
    })
    parent.append(`\n${indent}${close}`)
  }
}

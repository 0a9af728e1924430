import { describe, expect, it } from 'vitest'
import {
  MAX_TOKEN_LENGTH,
  documentTerms,
  normalizeTerm,
  parseQuery,
  prefixUpperBound,
  searchableText,
  tokenize,
  type QueryTerm,
} from '../../src/core/tokenize.js'
import { prng as rng } from '../support/prng.js'

/** A query term with defaults, for exact comparisons. */
function term(text: string, flags: Partial<Omit<QueryTerm, 'term'>> = {}): QueryTerm {
  return { term: text, prefix: false, required: false, excluded: false, ...flags }
}

/** True when `text` has no unpaired UTF-16 surrogate (what String#isWellFormed checks). */
function isWellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)
}

describe('tokenize', () => {
  it('lower-cases and splits on whitespace and punctuation', () => {
    expect(tokenize('Hello World')).toEqual(['hello', 'world'])
    expect(tokenize('HELLO, world! (foo) [bar] {baz} -- ... ?! ;:')).toEqual(['hello', 'world', 'foo', 'bar', 'baz'])
    expect(tokenize('  spaced\tout\nlines\r\n')).toEqual(['spaced', 'out', 'lines'])
  })

  it('returns no terms for empty, whitespace-only or punctuation-only text', () => {
    expect(tokenize('')).toEqual([])
    expect(tokenize('   \n\t ')).toEqual([])
    expect(tokenize('!?.,;:()[]{}<>"\'-+*/\\')).toEqual([])
  })

  it('keeps duplicates, in order', () => {
    expect(tokenize('b a b A')).toEqual(['b', 'a', 'b', 'a'])
  })

  it('folds Latin accents', () => {
    expect(tokenize('Café Crème')).toEqual(['cafe', 'creme'])
    expect(tokenize('naïve résumé Ångström über señor façade')).toEqual(['naive', 'resume', 'angstrom', 'uber', 'senor', 'facade'])
  })

  it('folds precomposed and decomposed accents to the same term', () => {
    const precomposed = 'caf\u00e9'
    const decomposed = 'cafe\u0301'
    expect(tokenize(precomposed)).toEqual(['cafe'])
    expect(tokenize(decomposed)).toEqual(['cafe'])
  })

  it('expands ß and other ligature-like letters', () => {
    expect(tokenize('Straße')).toEqual(['strasse'])
    expect(tokenize('STRASSE')).toEqual(['strasse'])
    expect(tokenize('Ærø Łódź œuvre þorn')).toEqual(['aero', 'lodz', 'oeuvre', 'thorn'])
  })

  it('applies compatibility folding (ligatures, full-width, half-width)', () => {
    expect(tokenize('ﬁne')).toEqual(['fine'])
    expect(tokenize('ＡＢＣ')).toEqual(['abc'])
    expect(tokenize('ｶﾀｶﾅ')).toEqual(['カタカナ'])
  })

  it('folds Greek and Cyrillic diacritics', () => {
    expect(tokenize('Ωμέγα ΆΈΉ')).toEqual(['ωμεγα', 'αεη'])
    expect(tokenize('Привет Ёлка')).toEqual(['привет', 'елка'])
  })

  it('segments Chinese into words', () => {
    const terms = tokenize('我喜欢喝咖啡')
    expect(terms).toContain('咖啡')
    expect(terms.join('')).toBe('我喜欢喝咖啡')
    expect(terms.length).toBeGreaterThan(1)
  })

  it('segments Japanese into words', () => {
    const terms = tokenize('私はコーヒーが好きです')
    expect(terms).toContain('コーヒー')
    expect(terms).toContain('私')
    expect(terms.join('')).toBe('私はコーヒーが好きです')
  })

  it('keeps Korean words', () => {
    expect(tokenize('한국어 텍스트')).toEqual(['한국어', '텍스트'])
  })

  it('keeps Thai vowel and tone marks (not treated as accents)', () => {
    const terms = tokenize('ฉันชอบกินกาแฟ')
    expect(terms).toContain('กาแฟ')
    expect(terms.join('')).toBe('ฉันชอบกินกาแฟ')
    // ที่ carries a vowel sign (U+0E35) and a tone mark (U+0E48): both must survive.
    expect(tokenize('ที่นี่')).toEqual(['ที่', 'นี่'])
    expect(normalizeTerm('ที่')).toBe('ที่')
    expect(normalizeTerm('ที่')).not.toBe('ท')
    // กิน and กน differ only by a vowel sign
    expect(normalizeTerm('กิน')).not.toBe(normalizeTerm('กน'))
  })

  it('keeps Devanagari vowel signs and virama', () => {
    expect(tokenize('नमस्ते दुनिया')).toEqual(['नमस्ते', 'दुनिया'])
  })

  it('keeps numbers, including decimals and thousands separators', () => {
    expect(tokenize('version 3.14 and 42, 1,000 items')).toEqual(['version', '3.14', 'and', '42', '1,000', 'items'])
    expect(tokenize('-42 +7')).toEqual(['42', '7'])
    expect(tokenize('0x1F')).toEqual(['0x1f'])
  })

  it('ignores emoji', () => {
    expect(tokenize('hello 😀 world 🎉')).toEqual(['hello', 'world'])
    expect(tokenize('I ❤️ coffee ☕ 👍🏽 👨‍👩‍👧')).toEqual(['i', 'coffee'])
    expect(tokenize('😀🎉')).toEqual([])
  })

  it('cuts long tokens to MAX_TOKEN_LENGTH', () => {
    expect(MAX_TOKEN_LENGTH).toBe(64)
    const [long] = tokenize('a'.repeat(100))
    expect(long).toBe('a'.repeat(MAX_TOKEN_LENGTH))
    expect(tokenize('b'.repeat(MAX_TOKEN_LENGTH))).toEqual(['b'.repeat(MAX_TOKEN_LENGTH)])
    expect(tokenize('c'.repeat(MAX_TOKEN_LENGTH + 1))).toEqual(['c'.repeat(MAX_TOKEN_LENGTH)])
    // folding happens before the cut: 70 × é is 70 × e, cut to 64
    expect(tokenize('é'.repeat(70))).toEqual(['e'.repeat(64)])
  })

  it('cuts long tokens without leaving half a surrogate pair', () => {
    // Gothic letters are astral (two UTF-16 code units each) and alphabetic: 'a' + 40 of them is
    // 81 code units; cutting at 64 code units in the middle of a pair leaves a lone surrogate.
    const gothic = '𐌰𐌱𐌲𐌳𐌴𐌵𐌶𐌷𐌸𐌹'.repeat(4)
    const terms = tokenize('a' + gothic)
    expect(terms).toHaveLength(1)
    expect(isWellFormed(terms[0]!)).toBe(true)
    expect(terms[0]!.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH)
  })

  it('keeps whole astral tokens that fit', () => {
    const gothic = '𐌰𐌱𐌲𐌳𐌴𐌵𐌶𐌷𐌸𐌹'.repeat(4) // 80 code units, 40 letters
    const [cut] = tokenize(gothic)
    expect(cut).toBe(gothic.slice(0, 64))
    expect(isWellFormed(cut!)).toBe(true)
  })
})

describe('normalizeTerm', () => {
  it('leaves plain ASCII lower case untouched', () => {
    expect(normalizeTerm('Coffee')).toBe('coffee')
    expect(normalizeTerm('abc123')).toBe('abc123')
  })

  it('handles dotless and dotted i', () => {
    expect(normalizeTerm('ı')).toBe('i')
    expect(normalizeTerm('İstanbul')).toBe('istanbul')
  })
})

describe('searchableText', () => {
  it('collects strings and numbers from nested values, not object keys', () => {
    expect(searchableText({ title: 'x', nested: { deep: ['y', 3] }, flag: false, none: null })).toBe('x\ny\n3')
  })

  it('handles scalars', () => {
    expect(searchableText('just text')).toBe('just text')
    expect(searchableText(42)).toBe('42')
    expect(searchableText(2.5)).toBe('2.5')
    expect(searchableText(true)).toBe('')
    expect(searchableText(null)).toBe('')
    expect(searchableText([])).toBe('')
    expect(searchableText({})).toBe('')
  })

  it('never indexes keys', () => {
    expect(tokenize(searchableText({ secretkeyname: 'visible', anotherkey: { innerkey: 'deep' } }))).toEqual(['visible', 'deep'])
  })

  it('walks arrays of objects in order', () => {
    expect(searchableText([{ a: 'one' }, ['two', [3, { b: 'four' }]]])).toBe('one\ntwo\n3\nfour')
  })
})

describe('documentTerms', () => {
  it('counts frequencies and the token length', () => {
    const terms = documentTerms({ a: 'Hello hello', b: [1, 2.5, { c: 'world' }], key: true, n: null })
    expect(Object.fromEntries(terms.frequencies)).toEqual({ hello: 2, '1': 1, '2.5': 1, world: 1 })
    expect(terms.length).toBe(5)
  })

  it('counts folded variants as the same term', () => {
    const terms = documentTerms(['Café', 'CAFE', 'cafe\u0301'])
    expect(Object.fromEntries(terms.frequencies)).toEqual({ cafe: 3 })
    expect(terms.length).toBe(3)
  })

  it('does not join adjacent strings into one token', () => {
    const terms = documentTerms(['abc', 'def'])
    expect(Object.fromEntries(terms.frequencies)).toEqual({ abc: 1, def: 1 })
    expect(terms.length).toBe(2)
  })

  it('is empty for values without text', () => {
    const terms = documentTerms({ a: true, b: null, c: [false] })
    expect(terms.frequencies.size).toBe(0)
    expect(terms.length).toBe(0)
  })

  it('length equals the sum of frequencies', () => {
    const terms = documentTerms({ text: 'the cat and the hat and the bat', n: [1, 1, 2] })
    let sum = 0
    for (const count of terms.frequencies.values()) sum += count
    expect(sum).toBe(terms.length)
    expect(terms.length).toBe(11)
    expect(terms.frequencies.get('the')).toBe(3)
    expect(terms.frequencies.get('1')).toBe(2)
  })
})

describe('parseQuery (safe syntax)', () => {
  it('turns words into terms, normalised like the index', () => {
    expect(parseQuery('Café CRÈME')).toEqual({ terms: [term('cafe'), term('creme')], matchAll: false })
  })

  it('treats `word*` as a prefix', () => {
    expect(parseQuery('caf*')).toEqual({ terms: [term('caf', { prefix: true })], matchAll: false })
    expect(parseQuery('Café* CRÈME').terms).toEqual([term('cafe', { prefix: true }), term('creme')])
    expect(parseQuery('coffee*tea').terms).toEqual([term('coffee', { prefix: true }), term('tea')])
    expect(parseQuery('咖啡*').terms).toEqual([term('咖啡', { prefix: true })])
  })

  it('does not make a prefix of a word separated from its `*`', () => {
    expect(parseQuery('caf *').terms).toEqual([term('caf')])
    expect(parseQuery('* coffee').terms).toEqual([term('coffee')])
    expect(parseQuery('**').terms).toEqual([])
  })

  it('treats FTS operators as plain words', () => {
    expect(parseQuery('coffee OR tea AND NOT milk NEAR sugar').terms).toEqual([
      term('coffee'),
      term('or'),
      term('tea'),
      term('and'),
      term('not'),
      term('milk'),
      term('near'),
      term('sugar'),
    ])
  })

  it('ignores quotes, parentheses, + and - in safe mode', () => {
    expect(parseQuery('"quoted phrase" (paren) -x +y').terms).toEqual([term('quoted'), term('phrase'), term('paren'), term('x'), term('y')])
    expect(parseQuery('col:value ^boost {a} NEAR(a b)').terms).toEqual([
      term('col:value'),
      term('boost'),
      term('a'),
      term('near'),
      term('b'),
    ])
  })

  it('dedupes repeated words', () => {
    expect(parseQuery('coffee Coffee COFFEE café cafe').terms).toEqual([term('coffee'), term('cafe')])
  })

  it('merges `x` and `x*` into one prefix term', () => {
    expect(parseQuery('caf caf*').terms).toEqual([term('caf', { prefix: true })])
    expect(parseQuery('caf* caf').terms).toEqual([term('caf', { prefix: true })])
  })

  it('cuts long query words like the index does', () => {
    expect(parseQuery('a'.repeat(100)).terms).toEqual([term('a'.repeat(64))])
    expect(parseQuery('é'.repeat(70) + '*').terms).toEqual([term('e'.repeat(64), { prefix: true })])
  })

  it('returns no terms for text without words', () => {
    expect(parseQuery('')).toEqual({ terms: [], matchAll: false })
    expect(parseQuery('  !!! ??? 😀 ')).toEqual({ terms: [], matchAll: false })
  })

  it('sets matchAll only when asked', () => {
    expect(parseQuery('a b', { matchAll: true })).toEqual({ terms: [term('a'), term('b')], matchAll: true })
    expect(parseQuery('a b', { matchAll: false }).matchAll).toBe(false)
    expect(parseQuery('a b').matchAll).toBe(false)
  })

  it('is the default syntax', () => {
    expect(parseQuery('+a -b', { syntax: 'safe' })).toEqual(parseQuery('+a -b'))
    expect(parseQuery('+a -b').terms).toEqual([term('a'), term('b')])
  })
})

describe('parseQuery (raw syntax)', () => {
  const raw = { syntax: 'raw' as const }

  it('`+word` is required and `-word` is excluded', () => {
    expect(parseQuery('+word -bad plain', raw).terms).toEqual([term('word', { required: true }), term('bad', { excluded: true }), term('plain')])
  })

  it('an operator at the start of the text counts', () => {
    expect(parseQuery('-x', raw).terms).toEqual([term('x', { excluded: true })])
    expect(parseQuery('+x', raw).terms).toEqual([term('x', { required: true })])
  })

  it('a required prefix', () => {
    expect(parseQuery('+caf* tea', raw).terms).toEqual([term('caf', { prefix: true, required: true }), term('tea')])
  })

  it('`e-mail` is two plain words, not an exclusion', () => {
    expect(parseQuery('e-mail', raw).terms).toEqual([term('e'), term('mail')])
  })

  it('`a+b` is two plain words, not a requirement', () => {
    expect(parseQuery('a+b', raw).terms).toEqual([term('a'), term('b')])
  })

  it('a dash standing alone is not an operator', () => {
    expect(parseQuery('x - y', raw).terms).toEqual([term('x'), term('y')])
    expect(parseQuery('x + y', raw).terms).toEqual([term('x'), term('y')])
  })

  it('quotes between the operator and the word cancel it', () => {
    expect(parseQuery('-"y"', raw).terms).toEqual([term('y')])
  })

  it('keeps the same word with different operators as different terms', () => {
    expect(parseQuery('coffee +coffee -coffee', raw).terms).toEqual([
      term('coffee'),
      term('coffee', { required: true }),
      term('coffee', { excluded: true }),
    ])
  })

  it('dedupes the same word with the same operator', () => {
    expect(parseQuery('+a +A +á -b -B', raw).terms).toEqual([term('a', { required: true }), term('b', { excluded: true })])
  })

  it('combines with matchAll', () => {
    expect(parseQuery('a -b', { syntax: 'raw', matchAll: true })).toEqual({ terms: [term('a'), term('b', { excluded: true })], matchAll: true })
  })
})

// ---------------------------------------------------------------------------------------------
// prefixUpperBound: ordering under UTF-8 byte order (= code point order)

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

function codePoints(text: string): number[] {
  return Array.from(text, (c) => c.codePointAt(0)!)
}


/** Code points from ranges that stress the boundaries: ASCII, 2/3/4-byte UTF-8, around surrogates and the top. */
const RANGES: [number, number][] = [
  [0x61, 0x63],
  [0x7e, 0x81],
  [0x7fe, 0x801],
  [0xd7fe, 0xd7ff],
  [0xe000, 0xe001],
  [0xfffe, 0xffff],
  [0x10000, 0x10001],
  [0x10fffe, 0x10ffff],
  [0x20, 0x10ffff],
]

function randomCodePoint(random: () => number): number {
  const [lo, hi] = RANGES[Math.floor(random() * RANGES.length)]!
  let cp = lo + Math.floor(random() * (hi - lo + 1))
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000 + (cp - 0xd800) // scalar values only
  return cp
}

function randomString(random: () => number, min: number, max: number): string {
  const length = min + Math.floor(random() * (max - min + 1))
  let out = ''
  for (let i = 0; i < length; i++) out += String.fromCodePoint(randomCodePoint(random))
  return out
}

describe('prefixUpperBound', () => {
  it('increments the last code point', () => {
    expect(prefixUpperBound('a')).toBe('b')
    expect(prefixUpperBound('az')).toBe('a{')
    expect(prefixUpperBound('caf')).toBe('cag')
    expect(prefixUpperBound('é')).toBe('ê')
    expect(prefixUpperBound('咖')).toBe(String.fromCodePoint('咖'.codePointAt(0)! + 1))
  })

  it('crosses UTF-8 length boundaries', () => {
    expect(codePoints(prefixUpperBound('\u007f'))).toEqual([0x80])
    expect(codePoints(prefixUpperBound('\u07ff'))).toEqual([0x800])
    expect(codePoints(prefixUpperBound('a\uffff'))).toEqual([0x61, 0x10000])
  })

  it('skips the surrogate range', () => {
    expect(codePoints(prefixUpperBound('\ud7ff'))).toEqual([0xe000])
    expect(codePoints(prefixUpperBound('x\ud7ff'))).toEqual([0x78, 0xe000])
  })

  it('handles astral code points as one unit', () => {
    expect(codePoints(prefixUpperBound('😀'))).toEqual([0x1f601])
    expect(codePoints(prefixUpperBound('a\u{1ffff}'))).toEqual([0x61, 0x20000])
  })

  it('carries past U+10FFFF to the previous code point', () => {
    expect(prefixUpperBound('a\u{10ffff}')).toBe('b')
    expect(prefixUpperBound('ab\u{10ffff}\u{10ffff}')).toBe('ac')
  })

  it('returns the U+10FFFF sentinel when no finite bound exists', () => {
    // No string is greater than every string starting with '' or with only U+10FFFF; the function
    // returns U+10FFFF. Such prefixes never come out of tokenize (U+10FFFF is not word-like).
    expect(prefixUpperBound('')).toBe('\u{10ffff}')
    expect(prefixUpperBound('\u{10ffff}')).toBe('\u{10ffff}')
    expect(tokenize('x\u{10ffff}y')).toEqual(['x', 'y'])
  })

  it('the bound is greater than the prefix and does not start with it', () => {
    const random = rng(7)
    for (let i = 0; i < 2000; i++) {
      const prefix = randomString(random, 1, 4)
      if (codePoints(prefix).every((cp) => cp === 0x10ffff)) continue
      const bound = prefixUpperBound(prefix)
      expect(utf8Compare(prefix, bound), JSON.stringify(prefix)).toBeLessThan(0)
      expect(bound.startsWith(prefix)).toBe(false)
      expect(isWellFormed(bound)).toBe(true)
    }
  })

  it('p <= s < bound for every s starting with p (UTF-8 byte order)', () => {
    const random = rng(42)
    for (let i = 0; i < 3000; i++) {
      const prefix = randomString(random, 1, 4)
      if (codePoints(prefix).every((cp) => cp === 0x10ffff)) continue
      const bound = prefixUpperBound(prefix)
      for (let j = 0; j < 5; j++) {
        const s = prefix + randomString(random, 0, 4)
        const context = JSON.stringify({ prefix: codePoints(prefix), s: codePoints(s), bound: codePoints(bound) })
        expect(utf8Compare(prefix, s), context).toBeLessThanOrEqual(0)
        expect(utf8Compare(s, bound), context).toBeLessThan(0)
      }
      // the worst case: the prefix followed by the highest code points
      expect(utf8Compare(prefix + '\u{10ffff}\u{10ffff}\u{10ffff}', bound)).toBeLessThan(0)
    }
  })

  it('is tight: strings between p and the bound all start with p', () => {
    const random = rng(99)
    let between = 0
    for (let i = 0; i < 3000; i++) {
      const prefix = randomString(random, 1, 3)
      if (codePoints(prefix).every((cp) => cp === 0x10ffff)) continue
      const bound = prefixUpperBound(prefix)
      // candidates near the prefix: change, drop or extend its last code point
      const cps = codePoints(prefix)
      const head = String.fromCodePoint(...cps.slice(0, -1))
      const last = cps[cps.length - 1]!
      const candidates = [head, head + String.fromCodePoint(randomCodePoint(random)), prefix + randomString(random, 1, 2)]
      if (last > 0) candidates.push(head + String.fromCodePoint(last === 0xe000 ? 0xd7ff : last - 1) + randomString(random, 0, 2))
      candidates.push(bound, bound + randomString(random, 1, 2))
      for (const t of candidates) {
        if (utf8Compare(prefix, t) <= 0 && utf8Compare(t, bound) < 0) {
          between++
          expect(t.startsWith(prefix), JSON.stringify({ prefix: codePoints(prefix), t: codePoints(t) })).toBe(true)
        }
      }
    }
    expect(between).toBeGreaterThan(1000)
  })

  it('code point order differs from JavaScript UTF-16 order exactly where the bound needs it', () => {
    // In UTF-16 '\u{10000}' sorts before '\uffff'; in UTF-8 and code point order it sorts after.
    const bound = prefixUpperBound('a\uffff')
    expect(utf8Compare('a\uffff\uffff', bound)).toBeLessThan(0)
    expect('a\uffff\uffff' < bound).toBe(false)
  })
})

// tokenize() skips Intl.Segmenter for plain ASCII words; it must give exactly the segmenter's terms.
import { describe, expect, it } from 'vitest'
import { normalizeTerm, tokenize } from '../../src/core/tokenize.js'
import { prng } from '../support/prng.js'

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' })
const reference = (text: string): string[] =>
  [...segmenter.segment(text)].filter((s) => s.isWordLike).map((s) => normalizeTerm(s.segment)).filter(Boolean)

const PIECES = [
  'coffee', 'Tea', 'ABC123', '42', '3.14', "don't", "it's", 'e-mail', 'a_b', '_x', 'U.S.A.', 'café', 'Crème', 'naïve',
  '我喜欢喝咖啡', 'コーヒー', 'ภาษาไทย', '😀', '👍🏽', '🇫🇷', 'x:y', '(paren)', '"quoted"', "'single'", '[b]', '{c}', 'end.',
  'wow!!!', '?', '...', '—', '-', '+', '*', 'a*', '#tag', '@user', 'foo/bar', 'v1.2.3', '1,000', '$5', '50%', 'naïve.',
  'Straße', 'İstanbul', 'Ærø', 'I\u0307', 'e\u0301', '\u0301', 'tab\there', 'ok,', ',ok', "'tis", 'rock\'n\'roll',
]
const SEPARATORS = [' ', '  ', '\n', '\t', ' \n ', ', ', '. ', '']


describe('tokenize fast path', () => {
  it('gives exactly the segmenter terms on 5,000 random texts', () => {
    const random = prng(7)
    for (let n = 0; n < 5000; n++) {
      const parts: string[] = []
      const count = 1 + Math.floor(random() * 12)
      for (let i = 0; i < count; i++) {
        parts.push(PIECES[Math.floor(random() * PIECES.length)]!, SEPARATORS[Math.floor(random() * SEPARATORS.length)]!)
      }
      const text = parts.join('')
      expect(tokenize(text), JSON.stringify(text)).toEqual(reference(text))
    }
  })

  it('handles the plain-word cases it is built for', () => {
    expect(tokenize('Prefers a FLAT white (coffee), before noon!')).toEqual(['prefers', 'a', 'flat', 'white', 'coffee', 'before', 'noon'])
    expect(tokenize('x'.repeat(100))).toEqual(['x'.repeat(64)])
  })
})

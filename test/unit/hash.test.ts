import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../src/core/hash.js'

function nodeSha256(text: string): string {
  return 'sha256:' + createHash('sha256').update(text, 'utf8').digest('hex')
}

describe('sha256Hex', () => {
  it('hashes the empty string to the well-known digest', async () => {
    expect(await sha256Hex('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('hashes "abc" to the FIPS 180-2 test vector', async () => {
    expect(await sha256Hex('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it.each([
    '',
    'a',
    'hello world',
    '{"a":1,"b":[true,null]}',
    'café crème',
    '我喜欢喝咖啡',
    'ฉันชอบกินกาแฟ',
    '😀👍🏽👨‍👩‍👧',
    'e\u0301 vs é',
    '\u0000\u0001\n\t\u2028',
    'x'.repeat(100_000),
  ])('matches node:crypto for %j', async (text) => {
    const hex = await sha256Hex(text)
    expect(hex).toBe(nodeSha256(text))
    expect(hex).toMatch(/^sha256:[0-9a-f]{64}$/)
  })

  it('hashes UTF-8 bytes (composed and decomposed forms differ)', async () => {
    expect(await sha256Hex('é')).not.toBe(await sha256Hex('e\u0301'))
    expect(await sha256Hex('é')).toBe('sha256:' + createHash('sha256').update(Buffer.from([0xc3, 0xa9])).digest('hex'))
  })
})

describe('the Node digest equals Web Crypto byte for byte', () => {
  it('agrees on random strings, unicode and lone surrogates', async () => {
    const { createHash } = await import('node:crypto')
    const { webCryptoSha256 } = await import('../../src/core/hash.js')
    const node = (text: string): string => `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`
    const samples = ['', 'a', 'Café 你好 😀', '\ud800', 'x\udc00y', '\u0000', 'é'.repeat(10000)]
    let seed = 3
    for (let i = 0; i < 300; i++) {
      let text = ''
      for (let j = 0; j < i % 40; j++) {
        seed = (seed * 1103515245 + 12345) % 2147483648
        text += String.fromCharCode(seed % 0xffff)
      }
      samples.push(text)
    }
    for (const text of samples) expect(node(text), JSON.stringify(text)).toBe(await webCryptoSha256(text))
  })
})

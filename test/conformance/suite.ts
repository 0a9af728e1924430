/**
 * The shared conformance suite of agent-ltm: every backend must pass it unchanged.
 *
 * Browser-safe on purpose: only vitest and web-standard APIs (crypto.subtle, TextEncoder,
 * setTimeout), no node: imports. Runtime pieces of the SDK (migrate) come in as arguments;
 * everything from src is imported as types only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type {
  BatchEntry,
  JsonValue,
  LTM,
  MemoryRecord,
  Metadata,
  MetadataFilter,
  SearchOptions,
  StoreOptions,
} from '../../src/core/types.js'
import {
  CONTENT_HASH,
  SEC,
  T0,
  closeQuietly,
  collect,
  contentHashOf,
  expectFound,
  expectInvalid,
  expectIsoAt,
  expectLtmError,
  expectLtmErrorSync,
  ok,
  sha256,
  show,
  sleep,
  utf8Bytes,
} from './harness.js'

export interface ConformanceHarness {
  /** Opens a handle on a fresh, empty store. `now` is an injectable clock (ms since epoch). */
  open(options?: { now?: () => number }): Promise<LTM>
  /** Opens a second handle on the same store as the last open() (persistence); absent for in-memory stores. */
  reopen?(options?: { now?: () => number }): Promise<LTM>
  /** Called after each test to release resources. */
  cleanup?(): Promise<void>
  /**
   * `batched`: the engine has no interactive transactions (D1); a transaction's writes are sent as
   * one atomic batch at commit, and reads inside it see the state before it. @default 'interactive'
   */
  transactions?: 'interactive' | 'batched'
}

/** The shape of `migrate` the suite relies on (the real export is assignable to it). */
export type MigrateFn = (
  from: LTM,
  to: LTM,
  options?: { onProgress?: (progress: { copied: number }) => void },
) => Promise<{ success: boolean }>

const MiB = 1024 * 1024

export function runConformance(name: string, harness: ConformanceHarness, migrateFn: MigrateFn): void {
  describe(`conformance: ${name}`, () => {
    let clock = T0
    const now = (): number => clock
    /** Advances the injected clock (whole seconds keep timestamps exact at any precision). */
    const tick = (ms: number = SEC): void => {
      clock += ms
    }

    let ltm: LTM
    let extraHandles: LTM[] = []

    /** Opens another fresh, independent store, closed automatically after the test. */
    async function openExtra(): Promise<LTM> {
      const handle = await harness.open({ now })
      extraHandles.push(handle)
      return handle
    }

    beforeEach(async () => {
      clock = T0
      extraHandles = []
      ltm = await harness.open({ now })
    })

    afterEach(async () => {
      for (const handle of extraHandles) await closeQuietly(handle)
      await closeQuietly(ltm)
      await harness.cleanup?.()
    })

    // ---------------------------------------------------------------- helpers over `ltm`

    async function put(key: string, value: JsonValue, metadata?: Metadata | null, options?: StoreOptions, on: LTM = ltm) {
      return ok(await on.store(key, value, metadata, options))
    }

    async function get(key: string, on: LTM = ltm) {
      return expectFound(await on.retrieve(key))
    }

    async function expectMissing(key: string, on: LTM = ltm): Promise<void> {
      const result = await on.retrieve(key)
      expect(result, show(result)).toMatchObject({ success: true, found: false, key, metadata: null })
    }

    async function hits(query?: string | null, filter?: MetadataFilter | null, limit = 1000, options?: SearchOptions, on: LTM = ltm) {
      const result = ok(await on.search(query, filter, limit, options))
      expect(Array.isArray(result.results)).toBe(true)
      expect(result.count).toBe(result.results.length)
      return result.results
    }

    async function searchKeys(query?: string | null, filter?: MetadataFilter | null, limit = 1000, options?: SearchOptions, on: LTM = ltm) {
      return (await hits(query, filter, limit, options, on)).map((hit) => hit.key)
    }

    /** Keys matching a filter-only listing, sorted for set comparison. */
    async function filterKeys(filter: MetadataFilter, on: LTM = ltm): Promise<string[]> {
      return (await searchKeys(null, filter, 1000, undefined, on)).sort()
    }

    /** Stores `[key, value, metadata?]` rows one clock second apart. */
    async function seed(rows: Array<[string, JsonValue, Metadata?]>, on: LTM = ltm): Promise<void> {
      for (const [key, value, metadata] of rows) {
        await put(key, value, metadata, undefined, on)
        tick()
      }
    }

    /** Equal-length (4 word) documents with words no test queries for. */
    async function seedFiller(count: number, on: LTM = ltm): Promise<void> {
      await seed(
        Array.from({ length: count }, (_, i): [string, JsonValue] => [`filler-${i}`, `zz${i} quiet padding text`]),
        on,
      )
    }

    // ================================================================ store / retrieve / delete

    describe('store', () => {
      it('returns the exact store shape for a new key', async () => {
        const result = await ltm.store('k', { hello: 'world' })
        expect(result).toEqual({
          success: true,
          stored: true,
          key: 'k',
          created: true,
          content_hash: expect.stringMatching(CONTENT_HASH),
          expires_at: null,
        })
      })

      it('reports created: false when overwriting with a different value, keeping created_at', async () => {
        await put('k', 'first')
        tick(5 * SEC)
        const result = await ltm.store('k', 'second')
        expect(result).toEqual({
          success: true,
          stored: true,
          key: 'k',
          created: false,
          content_hash: await contentHashOf('second'),
          expires_at: null,
        })
        const row = await get('k')
        expect(row.value).toBe('second')
        expect(Date.parse(row.created_at)).toBe(T0)
        expect(Date.parse(row.updated_at)).toBe(T0 + 5 * SEC)
      })

      it('deduplicates an identical value and metadata without touching updated_at', async () => {
        const first = await put('k', { a: 1 }, { tag: 'x' })
        tick(10 * SEC)
        const again = await ltm.store('k', { a: 1 }, { tag: 'x' })
        expect(again).toEqual({
          success: true,
          stored: false,
          key: 'k',
          content_hash: first.content_hash,
          deduplicated: true,
          expires_at: null,
        })
        const row = await get('k')
        expect(Date.parse(row.updated_at)).toBe(T0)
        expect(Date.parse(row.created_at)).toBe(T0)
      })

      it('deduplicates when no metadata is given either time', async () => {
        await put('k', 'same')
        tick()
        expect(await ltm.store('k', 'same')).toMatchObject({ success: true, stored: false, deduplicated: true })
      })

      it('writes when the value is the same but the metadata differs', async () => {
        await put('k', 'same', { v: 1 })
        tick(3 * SEC)
        const result = await ltm.store('k', 'same', { v: 2 })
        expect(result).toMatchObject({ success: true, stored: true, key: 'k', created: false })
        const row = await get('k')
        expect(row.metadata).toEqual({ v: 2 })
        expect(Date.parse(row.updated_at)).toBe(T0 + 3 * SEC)
      })

      it('writes (refreshing the expiry) when the same value is stored with a ttl', async () => {
        await put('k', 'same', undefined, { ttl: 60 })
        tick(30 * SEC)
        const result = await ltm.store('k', 'same', undefined, { ttl: 60 })
        expect(result).toMatchObject({ success: true, stored: true, key: 'k', created: false })
        expectIsoAt((result as { expires_at: unknown }).expires_at, T0 + 90 * SEC)
        expectIsoAt((await get('k')).expires_at, T0 + 90 * SEC)
        tick(45 * SEC) // past the original expiry, before the refreshed one
        expect((await get('k')).value).toBe('same')
      })
    })

    describe('content_hash', () => {
      it('is sha256 of the canonical JSON, independent of key order', async () => {
        const a = { b: 1, a: [1, 'x', { d: null, c: true }] }
        const b = { a: [1, 'x', { c: true, d: null }], b: 1 }
        const expected = await sha256('{"a":[1,"x",{"c":true,"d":null}],"b":1}')
        const ra = await put('a', a)
        const rb = await put('b', b)
        expect(ra.content_hash).toBe(expected)
        expect(rb.content_hash).toBe(expected)
        expect((await get('a')).content_hash).toBe(expected)
        const [hit] = await hits(null, null, 10)
        expect(hit?.content_hash).toBe(expected)
      })

      it('sorts keys with the default JS sort and formats numbers like JSON.stringify', async () => {
        const value = { b: 3, '9': 1, '10': 2, B: 4, é: 5, n: 1.5e300, f: 0.1, neg: -7, s: 'line\nbreak "q"' }
        const text = '{"10":2,"9":1,"B":4,"b":3,"f":0.1,"n":1.5e+300,"neg":-7,"s":"line\\nbreak \\"q\\"","é":5}'
        expect((await put('k', value)).content_hash).toBe(await sha256(text))
      })

      it('hashes unicode strings over their UTF-8 JSON text', async () => {
        const value = 'héllo wörld 世界 🎉'
        expect((await put('u', value)).content_hash).toBe(await sha256(JSON.stringify(value)))
        expect((await put('n', 42)).content_hash).toBe(await sha256('42'))
        expect((await put('z', null)).content_hash).toBe(await sha256('null'))
      })

      it('differs for different values', async () => {
        const one = await put('one', { x: 1 })
        const two = await put('two', { x: '1' })
        expect(one.content_hash).not.toBe(two.content_hash)
      })
    })

    describe('retrieve', () => {
      it('returns the exact retrieve shape', async () => {
        await put('k', { v: [1, 2] }, { source: 'test', n: 3 })
        expect(await ltm.retrieve('k')).toEqual({
          success: true,
          found: true,
          key: 'k',
          value: { v: [1, 2] },
          metadata: { source: 'test', n: 3 },
          content_hash: await contentHashOf({ v: [1, 2] }),
          created_at: expect.any(String),
          updated_at: expect.any(String),
          expires_at: null,
        })
        const row = await get('k')
        expectIsoAt(row.created_at, T0)
        expectIsoAt(row.updated_at, T0)
      })

      it('defaults metadata to {} when none or null is given', async () => {
        await put('none', 1)
        await put('nul', 2, null)
        expect((await get('none')).metadata).toEqual({})
        expect((await get('nul')).metadata).toEqual({})
      })

      it('round-trips values exactly', async () => {
        const values: Record<string, JsonValue> = {
          nested: { a: { b: { c: [1, { d: 'e' }, [null, true]] } }, list: [] , obj: {} },
          array: [1, 'two', 3.5, false, null, { six: 6 }, [7]],
          unicode: 'Grüße, 你好, こんにちは, مرحبا, Привет',
          emoji: '👩‍👩‍👧‍👦 🎉 🇫🇷 ❤️',
          empty: '',
          zero: 0,
          negative: -42.25,
          f: false,
          t: true,
          nul: null,
          maxSafe: Number.MAX_SAFE_INTEGER,
          minSafe: Number.MIN_SAFE_INTEGER,
          maxValue: Number.MAX_VALUE,
          tiny: Number.MIN_VALUE,
          big: 1e21,
          precise: 0.1 + 0.2,
          escapes: 'quote " backslash \\ newline \n tab \t nul \u0000 end',
          sqlish: "'; DROP TABLE memories; --",
          deep: Array.from({ length: 40 }).reduce<JsonValue>((inner) => ({ inner }), 'bottom'),
        }
        for (const [key, value] of Object.entries(values)) await put(key, value)
        for (const [key, value] of Object.entries(values)) {
          const row = await get(key)
          expect(row.value, key).toStrictEqual(value)
        }
      })

      it('returns found: false with the default value for a missing key', async () => {
        expect(await ltm.retrieve('nope')).toEqual({ success: true, found: false, key: 'nope', value: undefined, metadata: null })
        const missing = await ltm.retrieve('nope')
        expect(missing.success && missing.value).toBeUndefined()
        expect(await ltm.retrieve('nope', { fallback: true })).toEqual({
          success: true,
          found: false,
          key: 'nope',
          value: { fallback: true },
          metadata: null,
        })
      })
    })

    describe('delete', () => {
      it('deletes once, then reports deleted: false', async () => {
        await put('gone', 'unique-delete-word here')
        expect(await ltm.delete('gone')).toEqual({ success: true, deleted: true, key: 'gone' })
        expect(await ltm.delete('gone')).toEqual({ success: true, deleted: false, key: 'gone' })
        await expectMissing('gone')
      })

      it('removes the memory from search', async () => {
        await put('gone', 'zebracorn sighting report')
        await put('stays', 'zebracorn second report')
        expect((await searchKeys('zebracorn')).sort()).toEqual(['gone', 'stays'])
        ok(await ltm.delete('gone'))
        expect(await searchKeys('zebracorn')).toEqual(['stays'])
        expect(await searchKeys(null)).toEqual(['stays'])
      })

      it('deletes a missing key without error', async () => {
        expect(await ltm.delete('never')).toEqual({ success: true, deleted: false, key: 'never' })
      })
    })

    describe('keys', () => {
      const validKeys = [
        'simple',
        'with spaces in it',
        ' leading and trailing ',
        `quotes ' and " and \``,
        "'; DROP TABLE x; --",
        "Robert'); DROP TABLE memories;--",
        '%',
        '_',
        'a%b',
        'a_b',
        '/',
        'path/to/key',
        'back\\slash',
        'tab\tnewline\n',
        'ünïcödé 日本語 🔑',
        'null',
        'undefined',
        'constructor',
        'x'.repeat(1024),
        'é'.repeat(512), // exactly 1024 UTF-8 bytes
      ]

      it('accepts any non-empty string up to 1024 UTF-8 bytes', async () => {
        expect(utf8Bytes('é'.repeat(512))).toBe(1024)
        for (const [i, key] of validKeys.entries()) {
          expect(await ltm.store(key, { i }), key).toMatchObject({ success: true, stored: true, key, created: true })
        }
        for (const [i, key] of validKeys.entries()) {
          const row = await get(key)
          expect(row.key).toBe(key)
          expect(row.value).toEqual({ i })
        }
        expect((await searchKeys(null)).sort()).toEqual([...validKeys].sort())
      })

      it('treats % and _ literally (no LIKE wildcards)', async () => {
        await put('a_c', 1)
        await put('abc', 2)
        await put('a%', 3)
        await put('a-anything', 4)
        expect((await get('a_c')).value).toBe(1)
        expect((await get('a%')).value).toBe(3)
        expect(await ltm.delete('a_c')).toMatchObject({ deleted: true })
        expect(await ltm.delete('a%')).toMatchObject({ deleted: true })
        expect((await get('abc')).value).toBe(2)
        expect((await get('a-anything')).value).toBe(4)
        await expectMissing('a_c')
      })

      it('rejects invalid keys with invalid_input results (store, retrieve, delete)', async () => {
        const invalidKeys: unknown[] = ['', 5, null, undefined, {}, 'x'.repeat(1025), 'é'.repeat(512) + 'x']
        for (const key of invalidKeys) {
          const k = key as string
          expectInvalid(await ltm.store(k, 'v'))
          expectInvalid(await ltm.retrieve(k))
          expectInvalid(await ltm.delete(k))
        }
        expect(await searchKeys(null)).toEqual([])
      })

      it('retrieveBatch handles keys that are also Object.prototype names', async () => {
        await put('__proto__', 'p')
        await put('toString', 't')
        expect((await get('__proto__')).value).toBe('p')
        const batch = ok(await ltm.retrieveBatch(['__proto__', 'toString', 'hasOwnProperty']))
        expect(batch.found_count).toBe(2)
        expect(Object.keys(batch.entries).sort()).toEqual(['__proto__', 'hasOwnProperty', 'toString'])
        expect(Object.getOwnPropertyDescriptor(batch.entries, '__proto__')?.value).toMatchObject({ found: true, value: 'p' })
        expect(batch.entries['toString']).toMatchObject({ found: true, value: 't' })
        expect(batch.entries['hasOwnProperty']).toMatchObject({ found: false })
      })
    })

    describe('value validation', () => {
      const cyclicObject: Record<string, unknown> = { a: 1 }
      cyclicObject['self'] = cyclicObject
      const cyclicArray: unknown[] = [1]
      cyclicArray.push(cyclicArray)
      class Point {
        x = 1
        y = 2
      }
      const invalidValues: Array<[string, unknown]> = [
        ['undefined', undefined],
        ['a function', () => 1],
        ['a Symbol', Symbol('s')],
        ['a BigInt', 10n],
        ['a cyclic object', cyclicObject],
        ['a cyclic array', cyclicArray],
        ['NaN', Number.NaN],
        ['Infinity', Number.POSITIVE_INFINITY],
        ['-Infinity', Number.NEGATIVE_INFINITY],
        ['NaN in an object', { ok: 1, bad: Number.NaN }],
        ['Infinity in an array', [1, Number.POSITIVE_INFINITY]],
        ['a BigInt deep inside', { a: { b: [{ c: 1n }] } }],
        ['a function in an object', { fn: () => 1 }],
        ['a Symbol in an array', [Symbol('s')]],
        ['undefined in an array', [1, undefined, 3]],
        ['a Date', new Date(T0)],
        ['a Date in an object', { when: new Date(T0) }],
        ['a Map', new Map([['a', 1]])],
        ['a Set', new Set([1])],
        ['a class instance', new Point()],
      ]

      for (const [label, value] of invalidValues) {
        it(`rejects ${label} and stores nothing`, async () => {
          await put('existing', 'original')
          expectInvalid(await ltm.store('fresh', value as JsonValue))
          expectInvalid(await ltm.store('existing', value as JsonValue))
          await expectMissing('fresh')
          const row = await get('existing')
          expect(row.value).toBe('original')
          expect(row.content_hash).toBe(await contentHashOf('original'))
        })
      }

      it('drops undefined object properties like JSON does', async () => {
        const result = await put('k', { a: 1, b: undefined } as unknown as JsonValue)
        expect(result.content_hash).toBe(await contentHashOf({ a: 1 }))
        const row = await get('k')
        expect(row.value).toStrictEqual({ a: 1 })
        expect(Object.keys(row.value as object)).toEqual(['a'])
      })

      it('rejects metadata that is not a plain object', async () => {
        for (const metadata of [[1, 2], 'meta', 42, true]) {
          expectInvalid(await ltm.store('k', 'v', metadata as unknown as Metadata))
        }
        expectInvalid(await ltm.store('k', 'v', { n: 5n } as unknown as Metadata))
        expectInvalid(await ltm.store('k', 'v', { d: new Date(T0) } as unknown as Metadata))
        expectInvalid(await ltm.store('k', 'v', { n: Number.NaN }))
        await expectMissing('k')
      })

      it('stores and retrieves a 1 MB string exactly', async () => {
        const unit = 'Lorem ipsum é 你好 😀 "q" \\ \n'
        const big = unit.repeat(Math.ceil(MiB / unit.length))
        expect(big.length).toBeGreaterThanOrEqual(MiB)
        const result = await put('big', big)
        expect(result.content_hash).toBe(await sha256(JSON.stringify(big)))
        const row = await get('big')
        expect(typeof row.value).toBe('string')
        expect((row.value as string).length).toBe(big.length)
        expect(row.value === big).toBe(true)
      })

      it('rejects a value over the default 16 MiB limit', async () => {
        const huge = 'x'.repeat(17 * MiB)
        expectInvalid(await ltm.store('huge', huge))
        await expectMissing('huge')
      })
    })

    // ================================================================ TTL

    describe('ttl and expiry', () => {
      it('sets expires_at = now + ttl and hides the memory once it passes', async () => {
        const result = await put('t', 'ephemeral kiwifruit', undefined, { ttl: 60 })
        expectIsoAt(result.expires_at, T0 + 60 * SEC)
        expectIsoAt((await get('t')).expires_at, T0 + 60 * SEC)
        tick(59 * SEC)
        expect((await get('t')).value).toBe('ephemeral kiwifruit')
        expect(await searchKeys('kiwifruit')).toEqual(['t'])
        tick(2 * SEC)
        await expectMissing('t')
        expect(await searchKeys('kiwifruit')).toEqual([])
        expect(await searchKeys(null)).toEqual([])
        const batch = ok(await ltm.retrieveBatch(['t']))
        expect(batch.found_count).toBe(0)
        expect(batch.entries['t']).toMatchObject({ success: true, found: false })
      })

      it('accepts expiresAt as a Date or an ISO string', async () => {
        const asDate = await put('d', 1, undefined, { expiresAt: new Date(T0 + 3600 * SEC) })
        expectIsoAt(asDate.expires_at, T0 + 3600 * SEC)
        const asString = await put('s', 2, undefined, { expiresAt: new Date(T0 + 7200 * SEC).toISOString() })
        expectIsoAt(asString.expires_at, T0 + 7200 * SEC)
        expectIsoAt((await get('d')).expires_at, T0 + 3600 * SEC)
        expectIsoAt((await get('s')).expires_at, T0 + 7200 * SEC)
        tick(3601 * SEC)
        await expectMissing('d')
        expect((await get('s')).value).toBe(2)
      })

      it('lets expiresAt win over ttl', async () => {
        const result = await put('k', 1, undefined, { ttl: 10, expiresAt: new Date(T0 + 500 * SEC) })
        expectIsoAt(result.expires_at, T0 + 500 * SEC)
      })

      it('rejects invalid ttl and expiresAt values', async () => {
        const bad: unknown[] = [
          { expiresAt: 'not a date' },
          { expiresAt: new Date(Number.NaN) },
          { ttl: 0 },
          { ttl: -5 },
          { ttl: Number.NaN },
          { ttl: '10' },
        ]
        for (const options of bad) {
          expectInvalid(await ltm.store('k', 'v', undefined, options as StoreOptions))
        }
        await expectMissing('k')
      })

      it('takes the expiry from metadata._cache_expires_at when no ttl is given', async () => {
        const expiry = new Date(T0 + 30 * SEC).toISOString()
        await put('cached', 'cached answer', { _cache_expires_at: expiry, other: 1 })
        const row = await get('cached')
        expectIsoAt(row.expires_at, T0 + 30 * SEC)
        expect(row.metadata).toEqual({ _cache_expires_at: expiry, other: 1 })
        tick(29 * SEC)
        expect((await get('cached')).value).toBe('cached answer')
        tick(2 * SEC)
        await expectMissing('cached')
      })

      it('understands Python isoformat() timestamps in _cache_expires_at', async () => {
        const pythonIso = new Date(T0 + 45 * SEC).toISOString().replace('.000Z', '+00:00')
        await put('py', 'v', { _cache_expires_at: pythonIso })
        expectIsoAt((await get('py')).expires_at, T0 + 45 * SEC)
        tick(46 * SEC)
        await expectMissing('py')
      })

      it('prefers an explicit ttl over metadata._cache_expires_at', async () => {
        const expiry = new Date(T0 + 10 * SEC).toISOString()
        await put('k', 'v', { _cache_expires_at: expiry }, { ttl: 100 })
        expectIsoAt((await get('k')).expires_at, T0 + 100 * SEC)
      })

      it('cleanupExpired deletes only expired rows and counts them', async () => {
        for (const key of ['e1', 'e2', 'e3']) await put(key, key, undefined, { ttl: 10 })
        for (const key of ['l1', 'l2']) await put(key, key, undefined, { ttl: 1000 })
        for (const key of ['p1', 'p2']) await put(key, key)
        expect(await ltm.cleanupExpired()).toEqual({ success: true, deleted_count: 0 })
        tick(11 * SEC)
        expect(await ltm.cleanupExpired()).toEqual({ success: true, deleted_count: 3 })
        expect(await ltm.cleanupExpired()).toEqual({ success: true, deleted_count: 0 })
        for (const key of ['l1', 'l2', 'p1', 'p2']) expect((await get(key)).value).toBe(key)
        for (const key of ['e1', 'e2', 'e3']) await expectMissing(key)
        expect((await searchKeys(null)).sort()).toEqual(['l1', 'l2', 'p1', 'p2'])
      })
    })

    // ================================================================ search

    describe('search: results and ranking', () => {
      it('returns the exact hit shape with a positive finite score', async () => {
        await put('k1', 'I like coffee in the morning', { m: 1 }, { ttl: 600 })
        await put('k2', 'nothing relevant')
        const result = ok(await ltm.search('coffee'))
        expect(result.count).toBe(1)
        expect(result.results).toEqual([
          {
            key: 'k1',
            value: 'I like coffee in the morning',
            metadata: { m: 1 },
            score: expect.any(Number),
            content_hash: await contentHashOf('I like coffee in the morning'),
            created_at: expect.any(String),
            updated_at: expect.any(String),
            expires_at: expect.any(String),
          },
        ])
        const hit = result.results[0]!
        expect(Number.isFinite(hit.score)).toBe(true)
        expect(hit.score).toBeGreaterThan(0)
        expectIsoAt(hit.created_at, T0)
        expectIsoAt(hit.updated_at, T0)
        expectIsoAt(hit.expires_at, T0 + 600 * SEC)
      })

      it('ORs the query words and ranks memories with more of them higher', async () => {
        await seedFiller(20)
        await seed([
          ['one', 'coffee delta echo foxtrot'],
          ['three', 'coffee tea milk alpha'],
          ['two', 'coffee tea bravo charlie'],
          ['none', 'water juice soda lemon'],
        ])
        const results = await hits('coffee tea milk')
        expect(results.map((h) => h.key)).toEqual(['three', 'two', 'one'])
        for (const hit of results) {
          expect(Number.isFinite(hit.score)).toBe(true)
          expect(hit.score).toBeGreaterThan(0)
        }
        expect(results[0]!.score).toBeGreaterThan(results[1]!.score)
        expect(results[1]!.score).toBeGreaterThan(results[2]!.score)
      })

      it('weighs a rare word more than a common one (BM25 idf)', async () => {
        await seedFiller(10)
        await seed(Array.from({ length: 10 }, (_, i): [string, JsonValue] => [`coffee-${i}`, `coffee cup number w${i}`]))
        await put('espresso', 'espresso cup number wx')
        const results = await hits('coffee espresso')
        expect(results).toHaveLength(11)
        expect(results[0]!.key).toBe('espresso')
        expect(results[0]!.score).toBeGreaterThan(results[1]!.score)
      })

      it('sorts results by score descending', async () => {
        await seedFiller(10)
        await seed([
          ['a', 'apple'],
          ['b', 'apple banana apple'],
          ['c', 'banana cherry'],
          ['d', 'apple banana cherry durian'],
          ['e', 'cherry durian elderberry fig grape'],
        ])
        const results = await hits('apple banana cherry')
        expect(results.length).toBeGreaterThanOrEqual(4)
        for (let i = 1; i < results.length; i++) expect(results[i - 1]!.score).toBeGreaterThanOrEqual(results[i]!.score)
      })

      it("match: 'all' returns only memories containing every word", async () => {
        await seedFiller(5)
        await seed([
          ['three', 'coffee tea milk alpha'],
          ['two', 'coffee tea bravo charlie'],
          ['one', 'coffee delta echo foxtrot'],
        ])
        expect((await searchKeys('coffee tea', null, 10, { match: 'all' })).sort()).toEqual(['three', 'two'])
        expect(await searchKeys('coffee milk', null, 10, { match: 'all' })).toEqual(['three'])
        expect(await searchKeys('milk foxtrot', null, 10, { match: 'all' })).toEqual([])
        expect((await searchKeys('coffee tea', null, 10, { match: 'any' })).sort()).toEqual(['one', 'three', 'two'])
      })
    })

    describe('search: text matching', () => {
      it('is case- and accent-insensitive', async () => {
        await seed([
          ['c1', 'Café au lait'],
          ['c2', 'cafe noir'],
          ['c4', 'CAFÉ BAR'],
          ['other', 'tea room'],
        ])
        expect((await searchKeys('cafe')).sort()).toEqual(['c1', 'c2', 'c4'])
        expect((await searchKeys('CAFÉ')).sort()).toEqual(['c1', 'c2', 'c4'])
        expect((await searchKeys('Café')).sort()).toEqual(['c1', 'c2', 'c4'])
      })

      it('supports prefix queries with word*', async () => {
        await seed([
          ['c1', 'Café au lait'],
          ['c3', 'cafeteria lunch'],
          ['other', 'tea room'],
        ])
        expect((await searchKeys('caf*')).sort()).toEqual(['c1', 'c3'])
        expect((await searchKeys('CAFET*')).sort()).toEqual(['c3'])
      })

      it('finds words inside CJK text', async () => {
        await seed([
          ['zh', '我喜欢喝咖啡'],
          ['zh-tea', '我喜欢喝茶'],
          ['ja', '東京でコーヒーを飲みました'],
          ['en', 'plain english text'],
        ])
        expect(await searchKeys('咖啡')).toContain('zh')
        expect(await searchKeys('咖啡')).not.toContain('en')
        expect(await searchKeys('コーヒー')).toContain('ja')
        expect(await searchKeys('東京')).toContain('ja')
      })

      it('searches text inside object values, including arrays', async () => {
        await put('obj', { text: 'likes green tea', tags: ['beverage'], nested: { deep: ['kombucha'] } })
        await put('other', { text: 'unrelated' })
        expect(await searchKeys('tea')).toEqual(['obj'])
        expect(await searchKeys('beverage')).toEqual(['obj'])
        expect(await searchKeys('kombucha')).toEqual(['obj'])
      })

      it('does not search metadata text', async () => {
        await put('k', 'plain thing', { topic: 'zebra', tags: ['giraffe'] })
        expect(await searchKeys('zebra')).toEqual([])
        expect(await searchKeys('giraffe')).toEqual([])
        expect(await searchKeys('plain')).toEqual(['k'])
      })

      it('lists newest first (by updated_at) with score 0 when there is no query', async () => {
        await seed([
          ['a', 'first'],
          ['b', 'second'],
          ['c', 'third'],
        ])
        await put('a', 'first, updated') // newest update
        for (const query of [undefined, null, '', '   ']) {
          const results = await hits(query, null, 10)
          expect(results.map((h) => h.key), show(query)).toEqual(['a', 'c', 'b'])
          for (const hit of results) expect(hit.score).toBe(0)
        }
        expect(await searchKeys(undefined, { }, 2)).toEqual(['a', 'c'])
      })

      it('returns success with no results for a punctuation-only query', async () => {
        await put('k', 'question ??? marks')
        const result = ok(await ltm.search('???'))
        expect(result).toEqual({ success: true, results: [], count: 0 })
      })

      it('treats query operators as plain words', async () => {
        await seed([
          ['or', 'salt or pepper'],
          ['and', 'bread and butter'],
          ['not', 'do not disturb'],
          ['near', 'near the station'],
          ['plain', 'nothing else here'],
        ])
        expect(await searchKeys('OR')).toEqual(['or'])
        expect(await searchKeys('AND')).toEqual(['and'])
        expect(await searchKeys('NOT')).toEqual(['not'])
        expect(await searchKeys('NEAR')).toEqual(['near'])
      })

      const hostileQueries = [
        '"',
        '""',
        '"unbalanced',
        '*',
        '**',
        'NEAR(',
        'NEAR(a b)',
        '-x',
        'a OR b',
        'a AND b',
        'NOT a',
        '^a',
        'a:b',
        '(a',
        'a)',
        "'; DROP TABLE memories; --",
        '%',
        '_',
        '\\',
        'word '.repeat(2000),
        'x'.repeat(10_000),
        '🎉🔥 emoji 😀',
        '\u0000',
        'a\u0000b',
        '{}[]<>|&!~@#$',
        'key:value*',
        '"known"',
      ]

      it('never fails or throws on hostile queries, and the store keeps working', async () => {
        await put('known', 'known value for hostile a b x word tests')
        for (const query of hostileQueries) {
          for (const options of [undefined, { match: 'all' as const }]) {
            const result = await ltm.search(query, null, 10, options)
            expect(result, `query ${show(query.slice(0, 40))}`).toMatchObject({ success: true })
            if (result.success) expect(result.count).toBe(result.results.length)
          }
        }
        expect((await get('known')).value).toBe('known value for hostile a b x word tests')
        expect(await searchKeys('known')).toEqual(['known'])
        await put('after', 'still writable')
        expect((await get('after')).value).toBe('still writable')
      })

      it('treats a quoted-looking or SQL-looking query as words', async () => {
        await put('known', 'known value')
        expect(await searchKeys('"known"')).toEqual(['known'])
        expect(await searchKeys("known'; DROP TABLE memories; --")).toEqual(['known'])
      })
    })

    describe('search: limit', () => {
      async function seedMatching(count: number): Promise<void> {
        await seed(Array.from({ length: count }, (_, i): [string, JsonValue] => [`m${i}`, `matching document ${i}`]))
      }

      it('returns nothing for limit 0', async () => {
        await seedMatching(3)
        expect(ok(await ltm.search('matching', null, 0))).toEqual({ success: true, results: [], count: 0 })
      })

      it('defaults to 10', async () => {
        await seedMatching(15)
        const result = ok(await ltm.search('matching'))
        expect(result.results).toHaveLength(10)
        expect(result.count).toBe(10)
        expect(ok(await ltm.search())).toMatchObject({ count: 10 })
      })

      it('accepts a huge limit and returns all matches', async () => {
        await seedMatching(15)
        expect(await searchKeys('matching', null, 1e9)).toHaveLength(15)
        expect(await searchKeys(null, null, 1e9)).toHaveLength(15)
      })

      it('rejects invalid limits', async () => {
        await seedMatching(2)
        for (const limit of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
          expectInvalid(await ltm.search('matching', null, limit as number))
        }
      })

      it('applies the metadata filter before the limit', async () => {
        const teamA = new Set([5, 17, 33])
        await seed(
          Array.from({ length: 40 }, (_, i): [string, JsonValue, Metadata] => [
            `doc${i}`,
            `shared topic words ${i}`,
            { team: teamA.has(i) ? 'a' : 'b' },
          ]),
        )
        const two = await hits('shared', { team: 'a' }, 2)
        expect(two).toHaveLength(2)
        for (const hit of two) expect(hit.metadata).toEqual({ team: 'a' })
        const all = await searchKeys('shared', { team: 'a' }, 10)
        expect(all.sort()).toEqual(['doc17', 'doc33', 'doc5'])
        expect(await searchKeys(null, { team: 'a' }, 2)).toEqual(['doc33', 'doc17'])
      })
    })

    describe('search: metadata filters', () => {
      it('equality is type-strict', async () => {
        await seed([
          ['num', 'v', { n: 1 }],
          ['str', 'v', { n: '1' }],
          ['bool', 'v', { n: true }],
          ['flagTrue', 'v', { flag: true }],
          ['flagOne', 'v', { flag: 1 }],
          ['flagStr', 'v', { flag: 'true' }],
        ])
        expect(await filterKeys({ n: 1 })).toEqual(['num'])
        expect(await filterKeys({ n: '1' })).toEqual(['str'])
        expect(await filterKeys({ n: true })).toEqual(['bool'])
        expect(await filterKeys({ flag: true })).toEqual(['flagTrue'])
        expect(await filterKeys({ flag: 1 })).toEqual(['flagOne'])
        expect(await filterKeys({ n: { $eq: 1 } })).toEqual(['num'])
      })

      it('matches null by equality', async () => {
        await seed([
          ['nul', 'v', { v: null }],
          ['zero', 'v', { v: 0 }],
          ['text', 'v', { v: 'null' }],
          ['false', 'v', { v: false }],
        ])
        const keys = await filterKeys({ v: null })
        expect(keys).toContain('nul')
        expect(keys).not.toContain('zero')
        expect(keys).not.toContain('text')
        expect(keys).not.toContain('false')
      })

      it('compares nested objects regardless of key order', async () => {
        await seed([
          ['a', 'v', { user: { id: 1, name: 'x' } }],
          ['b', 'v', { user: { name: 'x', id: 1 } }],
          ['partial', 'v', { user: { id: 1 } }],
          ['extra', 'v', { user: { id: 1, name: 'x', admin: true } }],
          ['other', 'v', { user: { id: 2, name: 'x' } }],
        ])
        expect(await filterKeys({ user: { name: 'x', id: 1 } })).toEqual(['a', 'b'])
        expect(await filterKeys({ user: { id: 1, name: 'x' } })).toEqual(['a', 'b'])
      })

      describe('operators', () => {
        beforeEach(async () => {
          await seed([
            ['red', 'v', { color: 'red', priority: 1, n: 1, at: '2024-01-01T00:00:00.000Z' }],
            ['blue', 'v', { color: 'blue', priority: 2, n: '1', at: '2024-06-15T12:00:00.000Z' }],
            ['green', 'v', { color: 'green', priority: 2.5, at: '2025-01-01T00:00:00.000Z' }],
            ['black', 'v', { color: 'black', priority: 4 }],
            ['white', 'v', { color: 'white', priority: 5 }],
            ['bare', 'v', {}],
          ])
        })

        it('$in and $nin', async () => {
          expect(await filterKeys({ color: { $in: ['red', 'green', 'purple'] } })).toEqual(['green', 'red'])
          expect(await filterKeys({ n: { $in: [1] } })).toEqual(['red'])
          expect(await filterKeys({ color: { $in: [] } })).toEqual([])
          const nin = await filterKeys({ color: { $nin: ['red', 'blue'] } })
          expect(nin).toEqual(expect.arrayContaining(['black', 'green', 'white']))
          expect(nin).not.toContain('red')
          expect(nin).not.toContain('blue')
        })

        it('$ne also matches memories lacking the key', async () => {
          expect(await filterKeys({ color: { $ne: 'red' } })).toEqual(['bare', 'black', 'blue', 'green', 'white'])
          expect(await filterKeys({ n: { $ne: 1 } })).toEqual(['bare', 'black', 'blue', 'green', 'white'])
        })

        it('$gt, $gte, $lt, $lte on numbers', async () => {
          expect(await filterKeys({ priority: { $gt: 2 } })).toEqual(['black', 'green', 'white'])
          expect(await filterKeys({ priority: { $gte: 2 } })).toEqual(['black', 'blue', 'green', 'white'])
          expect(await filterKeys({ priority: { $lt: 2.5 } })).toEqual(['blue', 'red'])
          expect(await filterKeys({ priority: { $lte: 2.5 } })).toEqual(['blue', 'green', 'red'])
          expect(await filterKeys({ priority: { $gt: 1, $lt: 5 } })).toEqual(['black', 'blue', 'green'])
        })

        it('$gt, $gte, $lt, $lte on ISO date strings', async () => {
          expect(await filterKeys({ at: { $gte: '2024-06-01T00:00:00.000Z' } })).toEqual(['blue', 'green'])
          expect(await filterKeys({ at: { $gt: '2024-06-15T12:00:00.000Z' } })).toEqual(['green'])
          expect(await filterKeys({ at: { $lt: '2024-06-15T12:00:00.000Z' } })).toEqual(['red'])
          expect(await filterKeys({ at: { $lte: '2024-06-15T12:00:00.000Z' } })).toEqual(['blue', 'red'])
        })

        it('$exists true and false', async () => {
          expect(await filterKeys({ at: { $exists: true } })).toEqual(['blue', 'green', 'red'])
          expect(await filterKeys({ at: { $exists: false } })).toEqual(['bare', 'black', 'white'])
          expect(await filterKeys({ color: { $exists: false } })).toEqual(['bare'])
        })

        it('ANDs several conditions', async () => {
          expect(await filterKeys({ priority: { $gte: 2 }, color: { $in: ['blue', 'white', 'red'] } })).toEqual(['blue', 'white'])
          expect(await filterKeys({ color: 'red', priority: 2 })).toEqual([])
          expect(await filterKeys({ at: { $exists: true }, priority: { $lt: 2, $gte: 1 } })).toEqual(['red'])
        })
      })

      it('supports dotted paths', async () => {
        await seed([
          ['seven', 'v', { user: { id: 7, profile: { lang: 'fr' } } }],
          ['eight', 'v', { user: { id: 8, profile: { lang: 'de' } } }],
          ['flat', 'v', { id: 7 }],
        ])
        expect(await filterKeys({ 'user.id': 7 })).toEqual(['seven'])
        expect(await filterKeys({ 'user.id': { $gt: 7 } })).toEqual(['eight'])
        expect(await filterKeys({ 'user.profile.lang': { $in: ['fr', 'it'] } })).toEqual(['seven'])
        expect(await filterKeys({ 'user.profile.lang': { $exists: false } })).toEqual(['flat'])
      })

      it('combines a query with a filter', async () => {
        await seed([
          ['a1', 'coffee brewing notes', { team: 'a' }],
          ['a2', 'tea brewing notes', { team: 'a' }],
          ['b1', 'coffee roasting notes', { team: 'b' }],
        ])
        expect(await searchKeys('coffee', { team: 'a' })).toEqual(['a1'])
        expect((await searchKeys('notes', { team: 'a' })).sort()).toEqual(['a1', 'a2'])
        expect(await searchKeys('coffee', { team: 'c' })).toEqual([])
      })

      it('rejects malformed filters', async () => {
        await put('k', 'v', { n: 1, c: 'red' })
        const bad: unknown[] = [
          { n: { $regex: 'x' } },
          { n: { $where: '1=1' } },
          [{ n: 1 }],
          'n = 1',
          42,
          { c: { $in: 'red' } },
          { c: { $nin: 'red' } },
        ]
        for (const filter of bad) {
          expectInvalid(await ltm.search(null, filter as MetadataFilter))
          expectInvalid(await ltm.search('v', filter as MetadataFilter))
        }
      })

      it('treats SQL-looking filter values as plain strings', async () => {
        const tricky = "x' OR '1'='1"
        await seed([
          ['tricky', 'v', { name: tricky }],
          ['normal', 'v', { name: 'normal' }],
        ])
        expect(await filterKeys({ name: "' OR 1=1 --" })).toEqual([])
        expect(await filterKeys({ name: "x'); DROP TABLE memories; --" })).toEqual([])
        expect(await filterKeys({ name: tricky })).toEqual(['tricky'])
        expect(await filterKeys({ name: { $in: ["') OR 1=1 --", 'normal'] } })).toEqual(['normal'])
        expect((await get('normal')).value).toBe('v')
      })
    })

    // ================================================================ batches

    describe('storeBatch and retrieveBatch', () => {
      it('stores a batch and returns store-shaped results', async () => {
        const entries: BatchEntry[] = [
          { key: 'a', value: 'alpha' },
          { key: 'b', value: { n: 2 }, metadata: { tag: 'b' } },
          { key: 'c', value: [3], ttl: 60 },
        ]
        const result = ok(await ltm.storeBatch(entries))
        expect(result.stored_count).toBe(3)
        expect(result.results).toHaveLength(3)
        for (const [i, entry] of entries.entries()) {
          expect(result.results[i]).toMatchObject({
            success: true,
            stored: true,
            key: entry.key,
            created: true,
            content_hash: await contentHashOf(entry.value),
          })
        }
        expect(result.results[0]).toMatchObject({ expires_at: null })
        expectIsoAt((result.results[2] as { expires_at: unknown }).expires_at, T0 + 60 * SEC)
        expect((await get('b')).metadata).toEqual({ tag: 'b' })
        expectIsoAt((await get('c')).expires_at, T0 + 60 * SEC)
      })

      it('stores 500 entries', async () => {
        const entries = Array.from({ length: 500 }, (_, i): BatchEntry => ({ key: `bulk-${i}`, value: { i, text: `bulk entry ${i}` }, metadata: { i } }))
        const result = ok(await ltm.storeBatch(entries))
        expect(result.stored_count).toBe(500)
        expect(result.results).toHaveLength(500)
        const batch = ok(await ltm.retrieveBatch(entries.map((e) => e.key)))
        expect(batch.found_count).toBe(500)
        for (const entry of entries) {
          expect(batch.entries[entry.key]).toMatchObject({ found: true, value: entry.value, metadata: entry.metadata })
        }
        expect(await searchKeys('bulk', null, 1000)).toHaveLength(500)
      })

      it('is atomic: one invalid entry stores nothing', async () => {
        await put('existing', 'original')
        const attempts: BatchEntry[][] = [
          [{ key: 'new1', value: 1 }, { key: 'existing', value: 'changed' }, { key: 'bad', value: Number.NaN }],
          [{ key: 'new1', value: 1 }, { key: '', value: 2 }],
          [{ key: 'new1', value: 1 }, { key: 'existing', value: 'changed' }, { key: 'new2', value: 2, ttl: -1 }],
          [{ key: 'new1', value: 1 }, { key: 'new2', value: 2, metadata: [] as unknown as Metadata }],
          [{ key: 'new1', value: 1 }, { key: 'new2', value: undefined as unknown as JsonValue }],
        ]
        for (const entries of attempts) {
          const result = await ltm.storeBatch(entries)
          expectInvalid(result)
          expect(result).toMatchObject({ success: false, error_type: 'invalid_input', stored_count: 0 })
          await expectMissing('new1')
          await expectMissing('new2')
          await expectMissing('bad')
          expect((await get('existing')).value).toBe('original')
        }
        expect(await searchKeys(null)).toEqual(['existing'])
      })

      it('accepts an empty batch', async () => {
        const result = ok(await ltm.storeBatch([]))
        expect(result.stored_count).toBe(0)
        expect(result.results).toEqual([])
      })

      it('counts only real writes when an entry deduplicates', async () => {
        await put('same', 'v')
        tick()
        const result = ok(await ltm.storeBatch([
          { key: 'same', value: 'v' },
          { key: 'fresh', value: 'f' },
        ]))
        expect(result.stored_count).toBe(1)
        expect(result.results[0]).toMatchObject({ success: true, stored: false, deduplicated: true, key: 'same' })
        expect(result.results[1]).toMatchObject({ success: true, stored: true, created: true, key: 'fresh' })
        expect(Date.parse((await get('same')).updated_at)).toBe(T0)
      })

      it('retrieveBatch returns every key, missing ones as found: false', async () => {
        await put('a', 'alpha', { m: 'a' })
        await put('b', { beta: true })
        const result = ok(await ltm.retrieveBatch(['a', 'missing', 'b']))
        expect(result.found_count).toBe(2)
        expect(Object.keys(result.entries).sort()).toEqual(['a', 'b', 'missing'])
        expect(result.entries['a']).toEqual({
          success: true,
          found: true,
          key: 'a',
          value: 'alpha',
          metadata: { m: 'a' },
          content_hash: await contentHashOf('alpha'),
          created_at: expect.any(String),
          updated_at: expect.any(String),
          expires_at: null,
        })
        expect(result.entries['b']).toMatchObject({ success: true, found: true, value: { beta: true }, metadata: {} })
        expect(result.entries['missing']).toEqual({ success: true, found: false, key: 'missing', value: undefined, metadata: null })
      })

      it('retrieveBatch of no keys', async () => {
        expect(ok(await ltm.retrieveBatch([]))).toEqual({ success: true, entries: {}, found_count: 0 })
      })
    })

    // ================================================================ transactions

    describe('transaction', () => {
      const batched = harness.transactions === 'batched'

      it(batched ? 'commits and returns the callback value; reads inside see the state before it' : 'commits and returns the callback value; reads see own writes', async () => {
        await put('pre', 'existing')
        const result = await ltm.transaction(async (tx) => {
          expect(ok(await tx.store('t1', 'transactional quokka', { in: 'tx' }))).toMatchObject({ stored: true, created: true })
          if (batched) {
            expect(await tx.retrieve('t1')).toMatchObject({ success: true, found: false })
            expect(ok(await tx.search('quokka')).results).toEqual([])
          } else {
            const inside = expectFound(await tx.retrieve('t1'))
            expect(inside.value).toBe('transactional quokka')
            expect(inside.metadata).toEqual({ in: 'tx' })
            const found = ok(await tx.search('quokka'))
            expect(found.results.map((h) => h.key)).toEqual(['t1'])
          }
          expect(await tx.delete('pre')).toEqual({ success: true, deleted: true, key: 'pre' })
          if (batched) expect(expectFound(await tx.retrieve('pre')).value).toBe('existing')
          else expect(await tx.retrieve('pre')).toMatchObject({ success: true, found: false })
          return 42
        })
        expect(result).toEqual({ success: true, committed: true, rolled_back: false, value: 42 })
        expect((await get('t1')).value).toBe('transactional quokka')
        expect(await searchKeys('quokka')).toEqual(['t1'])
        await expectMissing('pre')
      })

      it('rollback() discards every write and restores overwritten and deleted values', async () => {
        await put('keep', 'original')
        await put('gone', 'still here')
        const result = await ltm.transaction(async (tx) => {
          ok(await tx.store('keep', 'changed'))
          ok(await tx.delete('gone'))
          ok(await tx.store('new', 'temporary'))
          expect(expectFound(await tx.retrieve('keep')).value).toBe(batched ? 'original' : 'changed')
          tx.rollback()
        })
        expect(result).toEqual({ success: true, committed: false, rolled_back: true, value: undefined })
        expect((await get('keep')).value).toBe('original')
        expect((await get('gone')).value).toBe('still here')
        await expectMissing('new')
        expect((await searchKeys(null)).sort()).toEqual(['gone', 'keep'])
      })

      it('rethrows the same error when the callback throws, keeping nothing', async () => {
        await put('keep', 'original')
        const error = new Error('boom')
        await expect(
          ltm.transaction(async (tx) => {
            ok(await tx.store('t', 'v'))
            ok(await tx.store('keep', 'changed'))
            throw error
          }),
        ).rejects.toBe(error)
        await expectMissing('t')
        expect((await get('keep')).value).toBe('original')
        // the handle is usable afterwards
        await put('after', 1)
        expect((await get('after')).value).toBe(1)
      })

      it('commits nothing when an operation inside failed, and reports that failure', async () => {
        await put('keep', 'original')
        let seen: unknown
        const result = await ltm.transaction(async (tx) => {
          ok(await tx.store('keep', 'changed'))
          ok(await tx.store('t', 'v'))
          seen = await tx.store('', 'an empty key is refused')
          ok(await tx.store('after', 'the callback may go on, but the transaction will not commit'))
          return 'callback value'
        })
        expect(seen).toMatchObject({ success: false, error_type: 'invalid_input' })
        expect(result).toMatchObject({ success: false, error_type: 'invalid_input', committed: false, rolled_back: true })
        expect((result as { error: string }).error).toMatch(/rolled back.*key must not be empty/)
        expect((await get('keep')).value).toBe('original')
        await expectMissing('t')
        await expectMissing('after')
        // the handle is usable afterwards
        await put('later', 1)
        expect((await get('later')).value).toBe(1)
      })

      it('does not interleave concurrent operations on the handle into the transaction', async () => {
        const txPromise = ltm.transaction(async (tx) => {
          ok(await tx.store('tx-a', 1))
          await sleep(50)
          ok(await tx.store('tx-b', 2))
          tx.rollback()
        })
        const outsideNow = ltm.store('outside-now', 'o')
        await sleep(10)
        const outsideLater = ltm.store('outside-later', 'o')
        const [txResult, nowResult, laterResult] = await Promise.all([txPromise, outsideNow, outsideLater])
        expect(txResult).toMatchObject({ success: true, committed: false, rolled_back: true })
        expect(nowResult).toMatchObject({ success: true, stored: true })
        expect(laterResult).toMatchObject({ success: true, stored: true })
        expect((await get('outside-now')).value).toBe('o')
        expect((await get('outside-later')).value).toBe('o')
        await expectMissing('tx-a')
        await expectMissing('tx-b')
      })

      it('runs sequential transactions', async () => {
        for (let i = 0; i < 5; i++) {
          const result = await ltm.transaction(async (tx) => {
            ok(await tx.store(`seq-${i}`, i))
            return i
          })
          expect(result).toMatchObject({ success: true, committed: true, value: i })
        }
        expect(await searchKeys(null)).toHaveLength(5)
      })
    })

    // ================================================================ iterateAll

    describe('iterateAll', () => {
      it('yields every live memory exactly once, across pages', async () => {
        for (let i = 0; i < 50; i++) await put(`it-${i}`, { i }, { even: i % 2 === 0 })
        for (let i = 0; i < 3; i++) await put(`exp-${i}`, 'soon gone', undefined, { ttl: 10 })
        tick(11 * SEC)
        const records = await collect(ltm.iterateAll({ pageSize: 7 }))
        expect(records).toHaveLength(50)
        const keys = records.map((r) => r.key)
        expect(new Set(keys).size).toBe(50)
        expect([...keys].sort()).toEqual(Array.from({ length: 50 }, (_, i) => `it-${i}`).sort())
        const first = records.find((r) => r.key === 'it-4') as MemoryRecord
        expect(first).toEqual({
          namespace: '',
          key: 'it-4',
          value: { i: 4 },
          metadata: { even: true },
          content_hash: await contentHashOf({ i: 4 }),
          created_at: expect.any(String),
          updated_at: expect.any(String),
          expires_at: null,
        })
        expectIsoAt(first.created_at, T0)
      })

      it('yields expires_at for expiring memories and works with the default page size', async () => {
        await put('ttl', 'x', undefined, { ttl: 100 })
        await put('plain', 'y')
        const records = await collect(ltm.iterateAll())
        expect(records.map((r) => r.key).sort()).toEqual(['plain', 'ttl'])
        expectIsoAt(records.find((r) => r.key === 'ttl')?.expires_at, T0 + 100 * SEC)
      })

      it('yields nothing for an empty store', async () => {
        expect(await collect(ltm.iterateAll({ pageSize: 3 }))).toEqual([])
      })

      it('throws LtmError for an invalid page size', async () => {
        await put('k', 'v')
        for (const pageSize of [0, -1]) {
          await expect(async () => {
            for await (const _ of ltm.iterateAll({ pageSize })) {
              // drain
            }
          }).rejects.toThrow()
          await expectLtmError(async () => {
            for await (const _ of ltm.iterateAll({ pageSize })) {
              // drain
            }
          })
        }
      })
    })

    // ================================================================ migrate

    describe('migrate', () => {
      async function seedNamespaces(): Promise<void> {
        await put('root-1', 'root memory', { r: 1 })
        await put('root-ttl', { kept: true }, { r: 2 }, { ttl: 3600 })
        await put('a-1', 'in a', { ns: 'a' }, undefined, ltm.namespace('a'))
        await put('ab-1', 'in a/b', { ns: 'a/b' }, { expiresAt: new Date(T0 + 7200 * SEC) }, ltm.namespace('a').namespace('b'))
        await put('sibling', 'in ab', { ns: 'ab' }, undefined, ltm.namespace('ab'))
        await put('other', 'in other', undefined, undefined, ltm.namespace('other'))
      }

      it('copies every memory with metadata and expiry, reporting progress', async () => {
        await seedNamespaces()
        for (let i = 0; i < 30; i++) await put(`bulk-${i}`, { i })
        const target = await openExtra()
        const progress: number[] = []
        const result = await migrateFn(ltm, target, { onProgress: (p) => progress.push(p.copied) })
        expect(result, show(result)).toEqual({ success: true, migrated_count: 36 })
        expect(progress.length).toBeGreaterThan(0)
        for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]!)
        for (const copied of progress) expect(typeof copied).toBe('number')
        expect(progress[progress.length - 1]).toBe(36)

        const source = await collect(ltm.iterateAll({ includeDescendants: true }))
        const copied = await collect(target.iterateAll({ includeDescendants: true }))
        const comparable = (records: MemoryRecord[]) =>
          records
            .map((r) => ({ namespace: r.namespace, key: r.key, value: r.value, metadata: r.metadata, content_hash: r.content_hash, expires_at: r.expires_at }))
            .sort((x, y) => `${x.namespace}\u0000${x.key}`.localeCompare(`${y.namespace}\u0000${y.key}`))
        expect(source).toHaveLength(36)
        expect(comparable(copied)).toEqual(comparable(source))
        expect(copied).toHaveLength(36)

        const rootTtl = await get('root-ttl', target)
        expect(rootTtl.value).toEqual({ kept: true })
        expect(rootTtl.metadata).toEqual({ r: 2 })
        expectIsoAt(rootTtl.expires_at, T0 + 3600 * SEC)
        const ab = await get('ab-1', target.namespace('a').namespace('b'))
        expect(ab.metadata).toEqual({ ns: 'a/b' })
        expectIsoAt(ab.expires_at, T0 + 7200 * SEC)
        expect(await searchKeys('memory', null, 10, undefined, target)).toEqual(['root-1'])
      })

      it('copies a namespace with its descendants, namespaces relative to each handle', async () => {
        await seedNamespaces()
        const target = await openExtra()
        const result = await migrateFn(ltm.namespace('a'), target.namespace('a'))
        expect(result, show(result)).toEqual({ success: true, migrated_count: 2 })
        expect((await get('a-1', target.namespace('a'))).value).toBe('in a')
        expect((await get('ab-1', target.namespace('a').namespace('b'))).value).toBe('in a/b')
        await expectMissing('root-1', target)
        await expectMissing('sibling', target.namespace('ab'))
        await expectMissing('other', target.namespace('other'))
        await expectMissing('a-1', target)

        // Into another store's root: 'a' becomes the root and 'a/b' becomes 'b'.
        const rooted = await openExtra()
        expect(await migrateFn(ltm.namespace('a'), rooted)).toEqual({ success: true, migrated_count: 2 })
        expect((await get('a-1', rooted)).value).toBe('in a')
        expect((await get('ab-1', rooted.namespace('b'))).value).toBe('in a/b')
      })

      it('migrates an empty store', async () => {
        const target = await openExtra()
        expect(await migrateFn(ltm, target)).toEqual({ success: true, migrated_count: 0 })
      })
    })

    // ================================================================ namespaces

    describe('namespaces', () => {
      it('names views and nests them with /', async () => {
        expect(ltm.namespaceName).toBe('')
        expect(ltm.namespace('user-42').namespaceName).toBe('user-42')
        expect(ltm.namespace('a').namespace('b').namespaceName).toBe('a/b')
        expect(typeof ltm.backend).toBe('string')
        expect(ltm.namespace('a').backend).toBe(ltm.backend)
      })

      it('rejects invalid namespace names with LtmError', async () => {
        for (const bad of ['', 'a//b', '/a', 'a/']) {
          expectLtmErrorSync(() => ltm.namespace(bad))
        }
      })

      it('keeps the same key independent across namespaces', async () => {
        const user = ltm.namespace('user-42')
        await put('k', 'root value')
        await put('k', 'user value', { who: 42 }, undefined, user)
        expect((await get('k')).value).toBe('root value')
        expect((await get('k', user)).value).toBe('user value')
        expect((await get('k', user)).metadata).toEqual({ who: 42 })
        expect(await user.delete('k')).toEqual({ success: true, deleted: true, key: 'k' })
        expect((await get('k')).value).toBe('root value')
        await expectMissing('k', user)
      })

      it('isolates every operation to the view', async () => {
        const a = ltm.namespace('a')
        const ab = a.namespace('b')
        await put('root-only', 'shared pangolin word')
        await put('a-only', 'shared pangolin word', { x: 1 }, undefined, a)
        await put('ab-only', 'shared pangolin word', { x: 1 }, undefined, ab)

        expect(await searchKeys('pangolin')).toEqual(['root-only'])
        expect(await searchKeys('pangolin', null, 10, undefined, a)).toEqual(['a-only'])
        expect(await searchKeys(null, { x: 1 }, 10, undefined, a)).toEqual(['a-only'])
        expect(await searchKeys(null, null, 10, undefined, ab)).toEqual(['ab-only'])
        await expectMissing('a-only')
        await expectMissing('ab-only', a)
        await expectMissing('root-only', a)

        ok(await a.storeBatch([{ key: 'batch', value: 'in a' }]))
        await expectMissing('batch')
        const rb = ok(await ltm.retrieveBatch(['a-only', 'batch', 'root-only']))
        expect(rb.found_count).toBe(1)
        const rbA = ok(await a.retrieveBatch(['a-only', 'batch', 'root-only']))
        expect(rbA.found_count).toBe(2)
        expect(rbA.entries['root-only']).toMatchObject({ found: false })

        const rootRecords = await collect(ltm.iterateAll())
        expect(rootRecords.map((r) => r.key)).toEqual(['root-only'])
        const aRecords = await collect(a.iterateAll({ pageSize: 1 }))
        expect(aRecords.map((r) => r.key).sort()).toEqual(['a-only', 'batch'])
        for (const record of aRecords) expect(record.namespace).toBe('a')

        expect(await ltm.delete('a-only')).toMatchObject({ deleted: false })
        expect((await get('a-only', a)).value).toBe('shared pangolin word')
      })

      it('iterateAll includeDescendants yields child namespaces only', async () => {
        await put('r', 1)
        await put('a', 2, undefined, undefined, ltm.namespace('a'))
        await put('ab', 3, undefined, undefined, ltm.namespace('a').namespace('b'))
        await put('sib', 4, undefined, undefined, ltm.namespace('ab'))
        await put('u', 5, undefined, undefined, ltm.namespace('a_x').namespace('c'))
        await put('v', 6, undefined, undefined, ltm.namespace('abx').namespace('c'))
        const fromA = await collect(ltm.namespace('a').iterateAll({ includeDescendants: true }))
        expect(fromA.map((r) => `${r.namespace}:${r.key}`).sort()).toEqual(['a/b:ab', 'a:a'])
        const fromAx = await collect(ltm.namespace('a_x').iterateAll({ includeDescendants: true }))
        expect(fromAx.map((r) => `${r.namespace}:${r.key}`)).toEqual(['a_x/c:u'])
        const all = await collect(ltm.iterateAll({ includeDescendants: true, pageSize: 2 }))
        expect(all).toHaveLength(6)
      })

      it('cleanupExpired only touches the view', async () => {
        const a = ltm.namespace('a')
        await put('root-exp', 1, undefined, { ttl: 5 })
        await put('a-exp-1', 1, undefined, { ttl: 5 }, a)
        await put('a-exp-2', 1, undefined, { ttl: 5 }, a)
        await put('a-live', 1, undefined, undefined, a)
        tick(6 * SEC)
        expect(await a.cleanupExpired()).toEqual({ success: true, deleted_count: 2 })
        expect(await ltm.cleanupExpired()).toEqual({ success: true, deleted_count: 1 })
        expect((await get('a-live', a)).value).toBe(1)
      })

      it('keeps BM25 statistics per namespace', async () => {
        const nsA = ltm.namespace('stats-a')
        const nsB = ltm.namespace('stats-b')
        await seedFiller(5, nsA)
        await seed(
          [
            ['a1', 'coffee morning routine now'],
            ['a2', 'tea afternoon break now'],
            ['a3', 'coffee evening treat now'],
          ],
          nsA,
        )
        await seedFiller(5)
        await seed([['r1', 'coffee in the root']])
        const snapshot = async (view: LTM) => (await hits('coffee tea', null, 100, undefined, view)).map((h) => [h.key, h.score])
        const beforeA = await snapshot(nsA)
        const beforeRoot = await snapshot(ltm)
        expect(beforeA.length).toBe(3)
        await seed(
          Array.from({ length: 30 }, (_, i): [string, JsonValue] => [`b${i}`, `coffee coffee everywhere ${i}`]),
          nsB,
        )
        expect(await snapshot(nsA)).toEqual(beforeA)
        expect(await snapshot(ltm)).toEqual(beforeRoot)
      })

      it('gives namespace views their own stats() namespace', async () => {
        const stats = await ltm.namespace('user-42').stats()
        if (!stats.success) throw new Error(stats.error)
        expect(stats.namespace).toBe('user-42')
      })

      it('transactions on a view write into the view', async () => {
        const a = ltm.namespace('a')
        const result = await a.transaction(async (tx) => {
          ok(await tx.store('txk', 'in a'))
          return 'done'
        })
        expect(result).toEqual({ success: true, committed: true, rolled_back: false, value: 'done' })
        expect((await get('txk', a)).value).toBe('in a')
        await expectMissing('txk')
      })
    })

    // ================================================================ concurrency & lifecycle

    describe('concurrency', () => {
      it('handles 200 concurrent stores', async () => {
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => ltm.store(`c-${i}`, `concurrent item ${i}`, { i })),
        )
        for (const [i, result] of results.entries()) {
          expect(result, show(result)).toMatchObject({ success: true, stored: true, key: `c-${i}`, created: true })
        }
        const reads = await Promise.all(Array.from({ length: 200 }, (_, i) => ltm.retrieve(`c-${i}`)))
        for (const [i, read] of reads.entries()) expect(read).toMatchObject({ success: true, found: true, value: `concurrent item ${i}`, metadata: { i } })
        const found = await searchKeys('concurrent', null, 500)
        expect(found).toHaveLength(200)
        expect(new Set(found).size).toBe(200)
      })

      it('handles concurrent mixed reads and writes on the same key', async () => {
        const ops = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? ltm.store('hot', i) : ltm.retrieve('hot')))
        const results = await Promise.all(ops)
        for (const result of results) expect(result.success).toBe(true)
        expect((await get('hot')).value).toBe(48)
      })
    })

    describe('lifecycle', () => {
      it('stats() reports backend, namespace and operations', async () => {
        await put('k', 'v')
        await ltm.retrieve('k')
        const stats = await ltm.stats()
        if (!stats.success) throw new Error(stats.error)
        expect(typeof stats.backend).toBe('string')
        expect(stats.backend.length).toBeGreaterThan(0)
        expect(stats.namespace).toBe('')
        expect(typeof stats.operations).toBe('object')
        expect(stats.operations).not.toBeNull()
        for (const count of Object.values(stats.operations)) expect(typeof count).toBe('number')
      })

      it('close() makes every call fail with LtmError code closed; closing twice is fine', async () => {
        await put('k', 'v')
        await ltm.close()
        await ltm.close()
        const calls: Array<[string, () => unknown]> = [
          ['store', () => ltm.store('k2', 'v')],
          ['retrieve', () => ltm.retrieve('k')],
          ['delete', () => ltm.delete('k')],
          ['search', () => ltm.search('v')],
          ['storeBatch', () => ltm.storeBatch([{ key: 'x', value: 1 }])],
          ['retrieveBatch', () => ltm.retrieveBatch(['k'])],
          ['transaction', () => ltm.transaction(async () => 1)],
          ['cleanupExpired', () => ltm.cleanupExpired()],
          ['stats', () => ltm.stats()],
          ['namespace view', () => ltm.namespace('x').store('k', 'v')],
          [
            'iterateAll',
            async () => {
              for await (const _ of ltm.iterateAll()) {
                // drain
              }
            },
          ],
        ]
        for (const [label, call] of calls) {
          try {
            await expectLtmError(call, 'closed')
          } catch (error) {
            throw new Error(`${label} after close: ${(error as Error).message}`)
          }
        }
      })

      if (harness.reopen) {
        const reopen = harness.reopen.bind(harness)

        it('persists data, metadata, expiry and the search index across reopen', async () => {
          await put('p1', { text: 'persistent narwhal memory' }, { tag: 'p', n: 1 })
          await put('p2', 'expiring narwhal', { tag: 'p', n: 2 }, { ttl: 100 })
          await put('ns', 'namespaced narwhal', undefined, undefined, ltm.namespace('user-42'))
          const before = await get('p1')
          await ltm.close()

          const again = await reopen({ now })
          extraHandles.push(again)
          const p1 = await get('p1', again)
          expect(p1).toEqual(before)
          const p2 = await get('p2', again)
          expect(p2.metadata).toEqual({ tag: 'p', n: 2 })
          expectIsoAt(p2.expires_at, T0 + 100 * SEC)
          expect((await searchKeys('narwhal', null, 10, undefined, again)).sort()).toEqual(['p1', 'p2'])
          expect(await searchKeys(null, { n: 2 }, 10, undefined, again)).toEqual(['p2'])
          expect((await get('ns', again.namespace('user-42'))).value).toBe('namespaced narwhal')
          expect(await again.store('p1', { text: 'persistent narwhal memory' }, { tag: 'p', n: 1 })).toMatchObject({
            stored: false,
            deduplicated: true,
          })
          tick(101 * SEC)
          await expectMissing('p2', again)
          expect(await searchKeys('narwhal', null, 10, undefined, again)).toEqual(['p1'])
        })

        it('persists committed transactions but not rolled-back ones', async () => {
          await ltm.transaction(async (tx) => {
            ok(await tx.store('committed', 1))
          })
          await ltm.transaction(async (tx) => {
            ok(await tx.store('rolled-back', 2))
            tx.rollback()
          })
          await ltm.close()
          const again = await reopen({ now })
          extraHandles.push(again)
          expect((await get('committed', again)).value).toBe(1)
          await expectMissing('rolled-back', again)
        })
      }
    })
  })
}

// Browser persistence, for real: memories written through the built bundle with persist
// 'indexeddb' survive a page reload and a full browser restart on the same profile, including
// after the change log was compacted into an image.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, type RunningBrowser } from './browser.js'
import { PAGES, buildPageBundle } from './page-bundle.js'
import { startStaticServer, type StaticServer } from './server.js'

let server: StaticServer
let profile: string
const browsers: RunningBrowser[] = []

beforeAll(async () => {
  server = await startStaticServer((await buildPageBundle()).files)
  profile = await mkdtemp(join(tmpdir(), 'agent-ltm-e2e-profile-'))
}, 120_000)

afterAll(async () => {
  for (const browser of browsers) await browser.close().catch(() => {})
  await server?.close()
  if (profile) await rm(profile, { recursive: true, force: true })
})

/** Loads the SDK page in the browser's first tab, or in a new tab. */
async function openSdkPage(browser: RunningBrowser, newTab = false): Promise<Page> {
  const page = (!newTab && browser.context.pages()[0]) || (await browser.context.newPage())
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(`${server.url}${PAGES.sdk.path}`)
  await page.waitForFunction(() => window.agentLtm !== undefined)
  expect(errors).toEqual([])
  return page
}

/** Stores `count` memories (optionally padded to make the log grow) and returns stats. */
type Persist = 'indexeddb' | 'opfs'

function store(page: Page, name: string, from: number, count: number, padding = 0, persist: Persist = 'indexeddb'): Promise<unknown> {
  return page.evaluate(
    async ({ name, from, count, padding, persist }) => {
      const ltm = await window.agentLtm!.createLTM({ backend: 'sqlite', name, persist, wasmUrl: '/wasm/sql-wasm.wasm' })
      for (let i = from; i < from + count; i++) {
        const result = await ltm.store(`note-${i}`, `note ${i} about coffee and tea ${'x'.repeat(padding)}`, { i, even: i % 2 === 0 })
        if (!result.success) throw new Error(result.error)
      }
      const stats = await ltm.stats()
      await ltm.close()
      return stats
    },
    { name, from, count, padding, persist },
  )
}

function readBack(page: Page, name: string, persist: Persist = 'indexeddb'): Promise<{ count: number; first: unknown; evenHits: number; searchTop: string | undefined }> {
  return page.evaluate(async ({ name, persist }) => {
    const ltm = await window.agentLtm!.createLTM({ backend: 'sqlite', name, persist, wasmUrl: '/wasm/sql-wasm.wasm' })
    let count = 0
    for await (const _ of ltm.iterateAll()) count++
    const first = await ltm.retrieve('note-0')
    const even = await ltm.search('coffee', { even: true }, 1000)
    const top = await ltm.search('note 7', null, 1)
    await ltm.close()
    return {
      count,
      first: first.success && first.found ? first.value : null,
      evenHits: even.success ? even.count : -1,
      searchTop: top.success ? top.results[0]?.key : undefined,
    }
  }, { name, persist })
}

describe('IndexedDB persistence in Chromium (built bundle)', () => {
  it('survives a page reload', async () => {
    const browser = await launchChromium({ userDataDir: profile })
    browsers.push(browser)
    const page = await openSdkPage(browser)
    await store(page, 'reload', 0, 40)
    await page.reload()
    await page.waitForFunction(() => window.agentLtm !== undefined)
    const back = await readBack(page, 'reload')
    expect(back).toEqual({ count: 40, first: 'note 0 about coffee and tea ', evenHits: 20, searchTop: 'note-7' })
  }, 120_000)

  for (const persist of ['indexeddb', 'opfs'] as const) {
    it(`compacts the log into an image (${persist}) and still has everything after a reload`, async () => {
      const page = await openSdkPage(browsers[0]!)
      // 300 memories of ~1.2 kB: the log passes the compaction threshold (256 kB) during the run.
      const name = `compacted-${persist}`
      const stats = (await store(page, name, 0, 300, 1200, persist)) as { image_bytes: number; persist: string }
      expect(stats.image_bytes).toBeGreaterThan(0)
      expect(stats.persist).toBe(persist)
      await page.reload()
      await page.waitForFunction(() => window.agentLtm !== undefined)
      const back = await readBack(page, name, persist)
      expect(back.count).toBe(300)
      expect(back.evenHits).toBe(150)
      expect(back.searchTop).toBe('note-7')
    }, 120_000)
  }

  it('survives a full browser restart on the same profile', async () => {
    await browsers.shift()!.close()
    const browser = await launchChromium({ userDataDir: profile })
    browsers.push(browser)
    const page = await openSdkPage(browser)
    expect((await readBack(page, 'reload')).count).toBe(40)
    expect((await readBack(page, 'compacted-indexeddb')).count).toBe(300)
    expect((await readBack(page, 'compacted-opfs', 'opfs')).count).toBe(300)
  }, 120_000)

  it('two tabs writing 500 memories each at the same time both end up seeing all 1000', async () => {
    const browser = browsers[0]!
    const tabA = await openSdkPage(browser)
    const second = await openSdkPage(browser, true)
    const write = (page: Page, tab: string) =>
      page.evaluate(async (tab) => {
        const ltm = await window.agentLtm!.createLTM({ backend: 'sqlite', name: 'tabs', persist: 'indexeddb', wasmUrl: '/wasm/sql-wasm.wasm' })
        const results = await Promise.all(Array.from({ length: 500 }, (_, i) => ltm.store(`${tab}-${i}`, `written by tab ${tab}, number ${i}`)))
        const failed = results.filter((r) => !r.success).length
        ;(window as unknown as { tabsLtm: unknown }).tabsLtm = ltm
        return failed
      }, tab)
    expect(await Promise.all([write(tabA, 'a'), write(second, 'b')])).toEqual([0, 0])
    const count = (page: Page) =>
      page.evaluate(async () => {
        const ltm = (window as unknown as { tabsLtm: import('../src/core/types.js').LTM }).tabsLtm
        let n = 0
        for await (const _ of ltm.iterateAll()) n++
        const a = await ltm.search('tab', null, 2000)
        return { n, searched: a.success ? a.count : -1 }
      })
    expect(await count(tabA)).toEqual({ n: 1000, searched: 1000 })
    expect(await count(second)).toEqual({ n: 1000, searched: 1000 })
    await second.reload()
    await second.waitForFunction(() => window.agentLtm !== undefined)
    expect((await readBack(second, 'tabs')).count).toBe(1000)
  }, 180_000)

  for (const persist of ['indexeddb', 'opfs'] as const) {
    it(`two tabs that both compact while writing lose nothing (${persist})`, async () => {
      const browser = browsers[0]!
      const [tabA, tabB] = [await openSdkPage(browser, true), await openSdkPage(browser, true)]
      const name = `compacting-tabs-${persist}`
      // Padded memories make both tabs pass the compaction threshold many times during the run; a
      // compaction of one tab must never roll back an image the other stored after it.
      const stats = (await Promise.all([store(tabA, name, 0, 200, 1200, persist), store(tabB, name, 200, 200, 1200, persist)])) as Array<{ image_bytes: number }>
      expect(stats.every((s) => s.image_bytes > 0)).toBe(true)
      const fresh = await openSdkPage(browser, true)
      const back = await readBack(fresh, name, persist)
      expect(back.count).toBe(400)
      expect(back.evenHits).toBe(200)
      for (const page of [tabA, tabB, fresh]) await page.close()
    }, 180_000)
  }

  for (const persist of ['indexeddb', 'opfs'] as const) {
    it(`the change log refuses an image older than the stored one, so racing compactions cannot roll back (${persist})`, async () => {
      const page = await browsers[0]!.context.newPage()
      await page.goto(`${server.url}${PAGES.internals.path}`)
      await page.waitForFunction(() => window.ltmInternals !== undefined)
      const outcome = await page.evaluate(async (persist) => {
        const { IndexedDbChangeLog, OpfsImages } = window.ltmInternals!
        const name = `race-${persist}`
        const log = await IndexedDbChangeLog.open(name, 'strict', persist === 'opfs' ? await OpfsImages.open(name) : null)
        const statement = (i: number) => [{ sql: `INSERT INTO t VALUES (${i})`, args: [] }]
        for (let i = 1; i <= 5; i++) await log.append(statement(i))
        // Tab B exported after entry 5 and stored first; tab A's export (after entry 3) arrives late.
        const newer = await log.compact(new Uint8Array([5]), 5)
        const older = await log.compact(new Uint8Array([3]), 3)
        await log.append(statement(6))
        const { snapshot, entries } = await log.load()
        log.close()
        return { newer, older, imageSeq: snapshot.seq, image: Array.from(snapshot.image ?? []), replay: entries.map((e) => e.seq) }
      }, persist)
      expect(outcome).toEqual({ newer: true, older: false, imageSeq: 5, image: [5], replay: [6] })
      await page.close()
    }, 60_000)
  }

  it('a store written by the first IndexedDB layout (image inline in the snapshot store) opens, upgrades and compacts', async () => {
    const page = await browsers[0]!.context.newPage()
    await page.goto(`${server.url}${PAGES.internals.path}`)
    await page.waitForFunction(() => window.ltmInternals !== undefined)
    const outcome = await page.evaluate(async () => {
      const request = (r: IDBRequest | IDBOpenDBRequest) => new Promise<unknown>((resolve, reject) => ((r.onsuccess = () => resolve(r.result)), (r.onerror = () => reject(r.error))))
      // Version 1, as agent-ltm 0.1 wrote it: log + snapshot, the image inline under 'image'.
      const open = indexedDB.open('agent-ltm:legacy', 1)
      open.onupgradeneeded = () => {
        open.result.createObjectStore('log', { autoIncrement: true })
        open.result.createObjectStore('snapshot')
      }
      const legacy = (await request(open)) as IDBDatabase
      const tx = legacy.transaction(['log', 'snapshot'], 'readwrite')
      tx.objectStore('snapshot').put({ seq: 3, inline: true }, 'current')
      tx.objectStore('snapshot').put(new Uint8Array([7, 7]), 'image')
      for (const seq of [4, 5]) tx.objectStore('log').put({ statements: [{ sql: `SELECT ${seq}`, args: [] }] }, seq)
      await new Promise((resolve) => (tx.oncomplete = resolve))
      legacy.close()
      const log = await window.ltmInternals!.IndexedDbChangeLog.open('legacy', 'strict')
      const before = await log.load()
      const compacted = await log.compact(new Uint8Array([9]), 5)
      const after = await log.load()
      log.close()
      return {
        before: { image: Array.from(before.snapshot.image ?? []), seq: before.snapshot.seq, replay: before.entries.map((e) => e.seq) },
        compacted,
        after: { image: Array.from(after.snapshot.image ?? []), seq: after.snapshot.seq, replay: after.entries.length },
      }
    })
    expect(outcome).toEqual({ before: { image: [7, 7], seq: 3, replay: [4, 5] }, compacted: true, after: { image: [9], seq: 5, replay: 0 } })
    await page.close()
  }, 60_000)

  it('a tab closed in the middle of a burst of writes loses at most the unacknowledged ones and nothing before', async () => {
    const browser = browsers[0]!
    const page = await openSdkPage(browser, true)
    await page.evaluate(async () => {
      localStorage.removeItem('acked')
      const ltm = await window.agentLtm!.createLTM({ backend: 'sqlite', name: 'killed', persist: 'indexeddb', wasmUrl: '/wasm/sql-wasm.wasm' })
      const acked: string[] = []
      void (async () => {
        for (let i = 0; ; i++) {
          const key = `burst-${i}`
          const result = await ltm.store(key, `burst write ${i} about coffee`, { i })
          if (!result.success) return
          acked.push(key)
          localStorage.setItem('acked', JSON.stringify(acked))
        }
      })()
      // Wait until a good number of writes were acknowledged, then return while the burst goes on.
      while (acked.length < 150) await new Promise((resolve) => setTimeout(resolve, 5))
    })
    await page.close({ runBeforeUnload: false })

    const reopened = await openSdkPage(browser, true)
    const outcome = await reopened.evaluate(async () => {
      const acked = JSON.parse(localStorage.getItem('acked') ?? '[]') as string[]
      const ltm = await window.agentLtm!.createLTM({ backend: 'sqlite', name: 'killed', persist: 'indexeddb', wasmUrl: '/wasm/sql-wasm.wasm' })
      const keys: string[] = []
      for await (const record of ltm.iterateAll()) keys.push(record.key)
      const missing = acked.filter((key) => !keys.includes(key))
      const search = await ltm.search('coffee', null, 5000)
      const write = await ltm.store('after-kill', 'the store still accepts writes')
      await ltm.close()
      return { acked: acked.length, stored: keys.length, missing, searched: search.success ? search.count : -1, writeOk: write.success }
    })
    expect(outcome.missing).toEqual([])
    expect(outcome.acked).toBeGreaterThanOrEqual(150)
    // Everything acknowledged is there; at most the one write in flight when the tab died was added.
    expect(outcome.stored - outcome.acked).toBeGreaterThanOrEqual(0)
    expect(outcome.stored - outcome.acked).toBeLessThanOrEqual(1)
    expect(outcome.searched).toBe(outcome.stored)
    expect(outcome.writeOk).toBe(true)
  }, 120_000)

  it('works inside a dedicated Web Worker, and the page sees what the worker wrote', async () => {
    const page = await openSdkPage(browsers[0]!, true)
    const fromWorker = await page.evaluate(
      () =>
        new Promise<Record<string, unknown>>((resolve) => {
          const worker = new Worker('/ltm.worker.js', { type: 'module' })
          worker.onmessage = (event) => {
            resolve(event.data as Record<string, unknown>)
            worker.terminate()
          }
          worker.onerror = (event) => resolve({ ok: false, error: event.message })
          worker.postMessage({ name: 'from-worker', count: 50 })
        }),
    )
    expect(fromWorker).toEqual({ ok: true, stored: 50, found: ['worker-0', 'worker-1', 'worker-2', 'worker-3', 'worker-4'], persist: 'indexeddb' })
    expect((await readBack(page, 'from-worker')).count).toBe(50)
  }, 120_000)

  it('a full storage quota gives quota_exceeded, and nothing stored before is lost', async () => {
    // A fresh profile: its own origin storage, with the quota shrunk through the DevTools protocol.
    const browser = await launchChromium()
    browsers.push(browser)
    const page = await openSdkPage(browser)
    const cdp = await browser.context.newCDPSession(page)
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url, quotaSize: 3 * 1024 * 1024 })
    const outcome = await page.evaluate(async () => {
      const ltm = await window.agentLtm!.createLTM({ backend: 'sqlite', name: 'quota', persist: 'indexeddb', wasmUrl: '/wasm/sql-wasm.wasm' })
      const kept = await ltm.store('kept', 'stored before the quota ran out', { important: true })
      let failure: { error_type: string; error: string } | null = null
      let stored = 0
      for (let i = 0; i < 200 && !failure; i++) {
        const result = await ltm.store(`big-${i}`, `${i} `.repeat(100_000))
        if (result.success) stored++
        else failure = { error_type: result.error_type, error: result.error }
      }
      const back = await ltm.retrieve('kept')
      const failedKey = `big-${stored}`
      const notThere = await ltm.retrieve(failedKey)
      await ltm.close()
      const reopened = await window.agentLtm!.createLTM({ backend: 'sqlite', name: 'quota', persist: 'indexeddb', wasmUrl: '/wasm/sql-wasm.wasm' })
      const afterReopen = await reopened.retrieve('kept')
      let count = 0
      for await (const _ of reopened.iterateAll()) count++
      await reopened.close()
      return {
        keptOk: kept.success,
        failure,
        stored,
        back: back.success && back.found ? back.value : null,
        failedKeyFound: notThere.success ? notThere.found : null,
        afterReopen: afterReopen.success && afterReopen.found ? afterReopen.value : null,
        count,
      }
    })
    expect(outcome.keptOk).toBe(true)
    expect(outcome.failure?.error_type).toBe('quota_exceeded')
    expect(outcome.failure?.error).toMatch(/quota/)
    expect(outcome.back).toBe('stored before the quota ran out')
    expect(outcome.failedKeyFound).toBe(false)
    expect(outcome.afterReopen).toBe('stored before the quota ran out')
    expect(outcome.count).toBe(outcome.stored + 1)
  }, 120_000)
})


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

async function openSdkPage(browser: RunningBrowser): Promise<Page> {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage())
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(`${server.url}${PAGES.sdk.path}`)
  await page.waitForFunction(() => window.agentLtm !== undefined)
  expect(errors).toEqual([])
  return page
}

/** Stores `count` memories (optionally padded to make the log grow) and returns stats. */
function store(page: Page, name: string, from: number, count: number, padding = 0): Promise<unknown> {
  return page.evaluate(
    async ({ name, from, count, padding }) => {
      const ltm = await window.agentLtm!.createLTM({ backend: 'sqlite', name, persist: 'indexeddb', wasmUrl: '/wasm/sql-wasm.wasm' })
      for (let i = from; i < from + count; i++) {
        const result = await ltm.store(`note-${i}`, `note ${i} about coffee and tea ${'x'.repeat(padding)}`, { i, even: i % 2 === 0 })
        if (!result.success) throw new Error(result.error)
      }
      const stats = await ltm.stats()
      await ltm.close()
      return stats
    },
    { name, from, count, padding },
  )
}

function readBack(page: Page, name: string): Promise<{ count: number; first: unknown; evenHits: number; searchTop: string | undefined }> {
  return page.evaluate(async (name) => {
    const ltm = await window.agentLtm!.createLTM({ backend: 'sqlite', name, persist: 'indexeddb', wasmUrl: '/wasm/sql-wasm.wasm' })
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
  }, name)
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

  it('compacts the log into an image and still has everything after a reload', async () => {
    const page = await openSdkPage(browsers[0]!)
    // 300 memories of ~1.2 kB: the log passes the compaction threshold (256 kB) during the run.
    const stats = (await store(page, 'compacted', 0, 300, 1200)) as { image_bytes: number; log_seq: number }
    expect(stats.image_bytes).toBeGreaterThan(0)
    await page.reload()
    await page.waitForFunction(() => window.agentLtm !== undefined)
    const back = await readBack(page, 'compacted')
    expect(back.count).toBe(300)
    expect(back.evenHits).toBe(150)
    expect(back.searchTop).toBe('note-7')
  }, 120_000)

  it('survives a full browser restart on the same profile', async () => {
    await browsers.shift()!.close()
    const browser = await launchChromium({ userDataDir: profile })
    browsers.push(browser)
    const page = await openSdkPage(browser)
    expect((await readBack(page, 'reload')).count).toBe(40)
    expect((await readBack(page, 'compacted')).count).toBe(300)
  }, 120_000)
})

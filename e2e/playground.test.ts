// The playground (playground/, `npm run playground`) in Chromium: starts its Vite dev server here
// (127.0.0.1, a random port), then uses the page as a person would: seed, add a memory through the
// form, search it (matched terms highlighted), delete it, read the status panel. The page runs the
// SDK from src/ (Vite alias), so no build is needed. Screenshot: .tmp/playground.png.
import { mkdir } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Locator, Page } from 'playwright-core'
import { createServer, type ViteDevServer } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, type RunningBrowser } from './browser.js'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SCREENSHOT_DIR = join(REPO_ROOT, '.tmp')
/** The page after a search; playground-empty.png and playground-seeded.png show the first two views. */
const SCREENSHOT = join(SCREENSHOT_DIR, 'playground.png')
const WAIT_MS = 10_000

/** Waits until `locator`'s text satisfies `accept`; the error names the text it last saw. */
async function textOf(locator: Locator, accept: (text: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + WAIT_MS
  let last = ''
  while (Date.now() < deadline) {
    last = ((await locator.count()) > 0 ? await locator.first().textContent() : null) ?? ''
    if (accept(last)) return last
    await new Promise((done) => setTimeout(done, 50))
  }
  throw new Error(`timed out waiting for ${what}; last text: ${JSON.stringify(last)}`)
}

const byTestId = (page: Page, id: string): Locator => page.locator(`[data-testid="${id}"]`)

describe('playground in Chromium (Vite dev server)', () => {
  let vite: ViteDevServer | undefined
  let browser: RunningBrowser | undefined
  let page: Page
  let url: string
  /** Page errors, console errors and warnings, failed requests. */
  const problems: string[] = []

  beforeAll(async () => {
    vite = await createServer({
      configFile: join(REPO_ROOT, 'playground', 'vite.config.ts'),
      // Its own optimizer cache, so a `npm run playground` running at the same time is not disturbed.
      cacheDir: join(REPO_ROOT, '.tmp', 'vite-playground-e2e'),
      logLevel: 'warn',
      // No HMR and no watcher: an edit in src/ during the run must not reload the page under test.
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
    })
    await vite.listen()
    const local = vite.resolvedUrls?.local[0]
    if (!local) throw new Error('the Vite dev server reported no local URL')
    url = local

    browser = await launchChromium()
    page = await browser.context.newPage()
    await page.setViewportSize({ width: 1280, height: 900 })
    page.on('pageerror', (error) => problems.push(`[pageerror] ${error.stack ?? error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`[console.${message.type()}] ${message.text()}`)
    })
    page.on('requestfailed', (request) => problems.push(`[requestfailed] ${request.url()}: ${request.failure()?.errorText ?? '?'}`))
    await page.goto(url, { waitUntil: 'load' })
    await page.waitForSelector('body[data-ready="true"], body[data-ready="error"]', { timeout: 20_000 })
    if ((await page.getAttribute('body', 'data-ready')) === 'error') {
      throw new Error(`the playground could not open its store: ${await page.textContent('#fatal')}\n${problems.join('\n')}`)
    }
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await vite?.close()
  })

  it('opens an empty store, persisted in OPFS by default, and offers example memories', async () => {
    expect(await byTestId(page, 'status-mode').textContent()).toContain('OPFS')
    expect(await byTestId(page, 'status-count').textContent()).toBe('0')
    await byTestId(page, 'empty').waitFor()
    await mkdir(SCREENSHOT_DIR, { recursive: true })
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'playground-empty.png'), fullPage: true })
    await byTestId(page, 'seed').click()
    await textOf(byTestId(page, 'status-count'), (text) => text === '16', 'the 16 example memories to be counted')
    await textOf(byTestId(page, 'results-summary'), (text) => text.startsWith('Newest 10 of 16 memories'), 'the newest-first listing')
    expect(await byTestId(page, 'hit').count()).toBe(10)
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'playground-seeded.png'), fullPage: true })
  })

  it('stores a memory through the form and shows the outcome inline', async () => {
    const form = byTestId(page, 'store-form')
    // An empty key is refused by the SDK: the error shows inline with its error_type.
    await form.locator('#store-value').fill('x')
    await form.locator('#store-button').click()
    expect(await textOf(byTestId(page, 'store-result'), (text) => text.includes('invalid_input'), 'the invalid_input error')).toContain('key')

    await form.locator('#store-key').fill('note:quokka')
    await form.locator('#store-value').fill('Saw a quokka at the zoo; quokkas smile at zebras')
    await form.locator('#metadata-chips [data-type="fact"]').click()
    expect(await form.locator('#store-metadata').inputValue()).toBe('{ "type": "fact" }')
    await form.locator('#store-ttl').fill('3600')
    await form.locator('#store-button').click()
    const created = await textOf(byTestId(page, 'store-result'), (text) => text.startsWith('created'), 'the "created" outcome')
    expect(created).toContain('note:quokka')
    expect(created).toMatch(/sha256:[0-9a-f]{8}…[0-9a-f]{4}/)
    expect(created).toContain('expires in 1 hr')
    await textOf(byTestId(page, 'status-count'), (text) => text === '17', 'the count to reach 17')

    // The same value and metadata again (no ttl this time): deduplicated, nothing written.
    await form.locator('#store-ttl').fill('')
    await form.locator('#store-button').click()
    await textOf(byTestId(page, 'store-result'), (text) => text.startsWith('deduplicated'), 'the "deduplicated" outcome')
  })

  it('finds it with the matched query terms highlighted', async () => {
    await page.locator('#search-query').fill('quokka zebra*')
    await page.keyboard.press('Enter')
    await textOf(byTestId(page, 'results-summary'), (text) => text.startsWith('1 result for “quokka zebra*”'), 'one result')
    const card = byTestId(page, 'hit').first()
    expect(await card.locator('[data-testid="hit-key"]').textContent()).toBe('note:quokka')
    expect(await card.locator('[data-testid="hit-score"]').textContent()).toMatch(/^\d+\.\d{3}$/)
    // `quokka` matches exactly (not `quokkas`); the prefix `zebra*` matches `zebras`.
    expect(await card.locator('mark').allTextContents()).toEqual(['quokka', 'zebras'])
    expect(await card.locator('.tag').allTextContents()).toEqual(['typefact'])

    // A JSON value: strings inside it are marked, object keys (not indexed) never are.
    await page.locator('#search-query').fill('neovim editor')
    await page.keyboard.press('Enter')
    await textOf(byTestId(page, 'results-summary'), (text) => text.startsWith('1 result for “neovim editor”'), 'the JSON memory')
    const json = byTestId(page, 'hit').first()
    expect(await json.locator('[data-testid="hit-key"]').textContent()).toBe('fact:editor')
    expect(await json.locator('mark').allTextContents()).toEqual(['Neovim'])
  })

  it('deletes a memory from its card', async () => {
    await page.locator('#search-query').fill('quokka')
    await page.keyboard.press('Enter')
    await textOf(byTestId(page, 'results-summary'), (text) => text.startsWith('1 result for “quokka”'), 'the memory to delete')
    expect(await byTestId(page, 'hit-key').first().textContent()).toBe('note:quokka')
    await byTestId(page, 'hit').first().locator('[data-testid="hit-delete"]').click()
    await textOf(byTestId(page, 'status-count'), (text) => text === '16', 'the count to drop back to 16')
    await textOf(byTestId(page, 'results-summary'), (text) => text.startsWith('0 results'), 'no result left')
    await byTestId(page, 'empty').waitFor()
    expect(await byTestId(page, 'status-last-call').textContent()).toBe('ltm.delete("note:quokka")')
  })

  it('shows the latency of the last operation and the database size', async () => {
    expect(await byTestId(page, 'status-latency').textContent()).toMatch(/^(<0\.1|\d+(\.\d)?) ms$/)
    expect(await byTestId(page, 'status-size').textContent()).toMatch(/^\d+(\.\d+)? (B|KiB|MiB)$/)
  })

  it('renders a typical search (screenshot in .tmp/playground.png) without page errors', async () => {
    await page.locator('#search-query').fill('coffee tea weekend*')
    await page.keyboard.press('Enter')
    await textOf(byTestId(page, 'results-summary'), (text) => text.startsWith('4 results for “coffee tea weekend*”'), 'the four results')
    for (const card of await byTestId(page, 'hit').all()) expect(await card.locator('mark').count()).toBeGreaterThan(0)
    await page.mouse.move(0, 0) // no hover state in the picture
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    expect(problems).toEqual([])
  })

  it('still has every memory after a reload', async () => {
    await page.reload({ waitUntil: 'load' })
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 })
    expect(await byTestId(page, 'status-mode').textContent()).toContain('OPFS')
    await textOf(byTestId(page, 'status-count'), (text) => text === '16', 'the 16 memories to be there after the reload')
    await page.locator('#search-query').fill('coffee tea weekend*')
    await page.keyboard.press('Enter')
    await textOf(byTestId(page, 'results-summary'), (text) => text.startsWith('4 results for “coffee tea weekend*”'), 'the same four results')
    expect(problems).toEqual([])
  })
})


/** The tiny app the bundler tests build (Vite, webpack), and the check that it runs and persists in Chromium. */
import { expect } from 'vitest'
import type { RunningBrowser } from './browser.js'

/** main.js of the app: opens memory with no wasm configuration, stores, searches, publishes the outcome. */
export function appSource(bundler: string): string {
  return `import { createLTM } from 'agent-ltm'
const ltm = await createLTM({ backend: 'sqlite', name: '${bundler}-app' })
const before = await ltm.retrieve('greeting')
await ltm.store('greeting', 'hello from a ${bundler} build')
const hits = await ltm.search('${bundler}')
const stats = await ltm.stats()
window.result = { before: before.found, keys: hits.results.map((r) => r.key), persist: stats.persist }
`
}

/** Loads the built app, reloads it, and expects the memory to have persisted in OPFS with no page error or failed request. */
export async function expectAppRunsAndPersists(browser: RunningBrowser, url: string): Promise<void> {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage())
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`))
  const result = async (): Promise<unknown> => {
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 30_000 })
    return page.evaluate(() => (window as unknown as { result: unknown }).result)
  }
  await page.goto(url)
  expect(await result()).toEqual({ before: false, keys: ['greeting'], persist: 'opfs' })
  await page.reload()
  expect(await result()).toEqual({ before: true, keys: ['greeting'], persist: 'opfs' })
  expect(errors).toEqual([])
}

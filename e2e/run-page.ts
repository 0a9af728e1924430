/** Loads an e2e page that runs a suite in the browser and collects what it published on window.__LTM_E2E__. */
import type { BrowserContext } from 'playwright-core'
import type { E2eState } from './in-page-run.js'

const DEFAULT_RUN_TIMEOUT_MS = 100_000

/**
 * Loads one e2e page and waits until its in-page run is over. Page console errors and warnings and
 * failed requests are printed and collected in `problems`.
 */
export async function runPage(context: BrowserContext, url: string, problems: string[], runTimeoutMs = DEFAULT_RUN_TIMEOUT_MS): Promise<E2eState> {
  const page = await context.newPage()
  const report = (line: string): void => {
    problems.push(line)
    console.error(line)
  }
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') report(`[chromium console.${message.type()}] ${message.text()}`)
  })
  page.on('pageerror', (error) => report(`[chromium pageerror] ${error.stack ?? error.message}`))
  page.on('requestfailed', (request) => report(`[chromium requestfailed] ${request.url()}: ${request.failure()?.errorText ?? '?'}`))
  try {
    await page.goto(url, { waitUntil: 'load' })
    try {
      await page.waitForFunction(() => window.__LTM_E2E__?.phase === 'done' || window.__LTM_E2E__?.phase === 'crashed', undefined, {
        timeout: runTimeoutMs,
        polling: 200,
      })
    } catch (error) {
      const partial = await page.evaluate(() => window.__LTM_E2E__).catch(() => undefined)
      const last = partial?.results.at(-1)?.name
      throw new Error(
        `${url}: the in-browser run did not finish in ${runTimeoutMs} ms (phase ${partial?.phase ?? 'page script never started'}, ` +
          `${partial?.results.length ?? 0}/${partial?.registered ?? '?'} tests done${last ? `, last finished: "${last}"` : ''}): ${(error as Error).message}`,
      )
    }
    const state = await page.evaluate(() => window.__LTM_E2E__)
    if (!state) throw new Error(`${url}: the page published no results`)
    return state
  } finally {
    await page.close()
  }
}

// The shared conformance suite (test/conformance/suite.ts, unchanged) inside real Chromium, against
// the BUILT browser bundle (dist/index.browser.js: run `npm run build` first), backend sqlite with
// persist 'memory'. The page runs the suite with an in-page runner (e2e/vitest-shim.ts); every
// in-browser test becomes an assertion here, named after the test.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { launchChromium, type RunningBrowser } from './browser.js'
import type { E2eState } from './in-page-run.js'
import { runPage } from './run-page.js'
import { PAGES, buildPageBundle, type PageBundle } from './page-bundle.js'
import { startStaticServer, type StaticServer } from './server.js'

/** The suite registers 118 tests for an in-memory store (no reopen); it may grow, not shrink. */
const MIN_SUITE_TESTS = 115

describe('conformance suite in Chromium, on the built browser bundle', () => {
  let bundle: PageBundle
  let server: StaticServer | undefined
  let browser: RunningBrowser | undefined
  let selftest: E2eState
  let state: E2eState
  /** Console errors and warnings of the conformance page, and failed requests. */
  const consoleProblems: string[] = []

  /** A setup failure (no Chromium, no dist/, a hung page) fails every test below instead of skipping them. */
  let setupError: unknown

  beforeAll(async () => {
    try {
      bundle = await buildPageBundle()
      server = await startStaticServer(bundle.files)
      browser = await launchChromium()
      selftest = await runPage(browser.context, `${server.url}${PAGES.shimSelftest.path}`, [])
      state = await runPage(browser.context, `${server.url}${PAGES.conformance.path}`, consoleProblems)
    } catch (error) {
      setupError = error
    }
  }, 180_000)

  beforeEach(() => {
    if (setupError !== undefined) throw setupError
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('has an in-page runner that really fails: each self-test passes or fails as its name says', () => {
    expect(selftest.fatal, selftest.fatal).toBeUndefined()
    expect(selftest.results.length).toBe(selftest.registered)
    expect(selftest.results.length).toBeGreaterThan(20)
    for (const result of selftest.results) {
      const expected = / > passes: /.test(result.name) ? 'passed' : / > fails: /.test(result.name) ? 'failed' : 'unnamed'
      expect.soft(result.status, `${result.name}\n${result.error ?? ''}`).toBe(expected)
    }
    expect(selftest.results.find((r) => r.name.endsWith('a test over its timeout'))?.error).toMatch(/timed out in 50 ms/)
    expect(selftest.pageErrors).toEqual([])
  })

  it('tests the built bundle: dist/index.browser.js with sql.js browser build, nothing from src/', () => {
    const inputs = bundle.inputs.conformance
    expect(inputs).toContain('dist/index.browser.js')
    expect(inputs).toContain('test/conformance/suite.ts')
    expect(inputs).toContain('node_modules/sql.js/dist/sql-wasm-browser.js')
    expect(inputs.filter((input) => input.startsWith('src/'))).toEqual([])
    expect(bundle.inputs.sdk.filter((input) => input.startsWith('src/'))).toEqual([])
  })

  it('runs in a secure context and loads the shipped wasm from /wasm/sql-wasm.wasm', () => {
    expect(state.userAgent).toMatch(/Chrom/)
    expect(state.isSecureContext).toBe(true)
    expect(server?.log).toContain('200 GET /wasm/sql-wasm.wasm')
    expect(server?.log.filter((line) => !line.startsWith('200 '))).toEqual([])
  })

  it(`executes every test the suite registers (at least ${MIN_SUITE_TESTS}), without page errors`, () => {
    expect(state.fatal, state.fatal).toBeUndefined()
    expect(state.phase).toBe('done')
    console.log(`chromium: the suite registered ${state.registered} tests, ${state.results.length} ran`)
    expect(state.registered).toBeGreaterThanOrEqual(MIN_SUITE_TESTS)
    expect(state.results.length).toBe(state.registered)
    expect(new Set(state.results.map((result) => result.name)).size).toBe(state.results.length)
    expect(state.pageErrors).toEqual([])
    expect(consoleProblems.filter((line) => !line.startsWith('[chromium console.warning]'))).toEqual([])
  })

  it('passes every conformance test in Chromium', () => {
    const failed = state.results.filter((result) => result.status !== 'passed')
    const passed = state.results.length - failed.length
    const slowest = [...state.results].sort((a, b) => b.durationMs - a.durationMs).slice(0, 3)
    console.log(
      `chromium conformance: ${passed} passed, ${failed.length} failed, of ${state.results.length}` +
        ` (slowest: ${slowest.map((r) => `${r.name.split(' > ').at(-1)} ${r.durationMs} ms`).join('; ')})`,
    )
    // One assertion per in-browser test, so each failure is reported under its own name.
    for (const result of state.results) {
      expect.soft(result.status, `${result.name}\n${result.error ?? ''}`).toBe('passed')
    }
    expect(failed.map((result) => result.name)).toEqual([])
  })
})

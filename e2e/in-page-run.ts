/**
 * Runs in Chromium: the shared part of every suite page. Collects the tests `register` declares,
 * runs them with the in-page runner (e2e/vitest-shim.ts) and publishes progress, results and page
 * errors on window.__LTM_E2E__ for the Node side (e2e/run-page.ts).
 */
import { countRegisteredTests, runCollected, type TestResult } from './vitest-shim.js'

export interface E2eState {
  phase: 'collecting' | 'running' | 'done' | 'crashed'
  /** Tests the suite registered (known once phase is 'running'). */
  registered: number
  results: TestResult[]
  /** Uncaught errors and unhandled rejections in the page (any of them fails the run). */
  pageErrors: string[]
  /** Set when collecting or running the suite threw. */
  fatal?: string
  userAgent: string
  isSecureContext: boolean
}

declare global {
  interface Window {
    __LTM_E2E__?: E2eState
  }
}

export function runInPage(register: () => void | Promise<void>): void {
  const state: E2eState = {
    phase: 'collecting',
    registered: 0,
    results: [],
    pageErrors: [],
    userAgent: navigator.userAgent,
    isSecureContext: window.isSecureContext,
  }
  window.__LTM_E2E__ = state
  window.addEventListener('error', (event) => {
    state.pageErrors.push(`uncaught error: ${event.message} (${event.filename}:${event.lineno})`)
  })
  window.addEventListener('unhandledrejection', (event) => {
    const reason: unknown = event.reason
    state.pageErrors.push(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`)
  })
  const main = async (): Promise<void> => {
    await register()
    state.registered = countRegisteredTests()
    state.phase = 'running'
    await runCollected((result) => {
      state.results.push(result)
    })
    state.phase = 'done'
  }
  main().catch((error: unknown) => {
    state.fatal = error instanceof Error ? (error.stack ?? error.message) : String(error)
    state.phase = 'crashed'
  })
}

/**
 * Runs in Chromium: the shared conformance suite (test/conformance/suite.ts, unchanged) against the
 * BUILT browser bundle (dist/index.browser.js), backend sqlite with persist 'memory', 'indexeddb' and 'opfs'.
 * Bundled by e2e/page-bundle.ts with 'vitest' aliased to e2e/vitest-shim.ts. Progress and results
 * are published on window.__LTM_E2E__ for the Node side (e2e/chromium.conformance.test.ts).
 */
import { createLTM, migrate } from '../dist/index.browser.js'
import { runConformance } from '../test/conformance/suite.js'
import { runInPage } from './in-page-run.js'

/** Where e2e/server.ts serves the package's shipped wasm/sql-wasm.wasm. */
export const WASM_URL = '/wasm/sql-wasm.wasm'
export const SUITE_NAME = 'sqlite (built browser bundle in Chromium, sql.js in memory)'
export const PERSISTENT_SUITE_NAME = 'sqlite (built browser bundle in Chromium, sql.js + IndexedDB)'
export const OPFS_SUITE_NAME = 'sqlite (built browser bundle in Chromium, sql.js + OPFS images + IndexedDB log)'

export type { E2eState } from './in-page-run.js'

runInPage(() => {
  runConformance(
    SUITE_NAME,
    { open: (options) => createLTM({ backend: 'sqlite', persist: 'memory', wasmUrl: WASM_URL, ...options }) },
    migrate,
  )
  // The same suite on each persistent store: every open() is a new store, reopen() reads the last one back.
  const run = `${Date.now()}`
  for (const [suiteName, persist] of [
    [PERSISTENT_SUITE_NAME, 'indexeddb'],
    [OPFS_SUITE_NAME, 'opfs'],
  ] as const) {
    let stores = 0
    let lastName = ''
    const open = (name: string, options?: { now?: () => number }) =>
      createLTM({ backend: 'sqlite', persist, name, wasmUrl: WASM_URL, ...options })
    runConformance(
      suiteName,
      {
        open: (options) => open((lastName = `conformance-${persist}-${run}-${stores++}`), options),
        reopen: (options) => open(lastName, options),
      },
      migrate,
    )
  }
})

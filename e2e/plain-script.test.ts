// The README's no-bundler page, for real: the built dist/ as ES modules through an import map,
// sql.js's browser build as a classic script, in Chromium, with OPFS persistence across a reload.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, type RunningBrowser } from './browser.js'
import { BUILT_BROWSER_BUNDLE, REPO_ROOT } from './page-bundle.js'
import { contentTypeOf, startStaticServer, type StaticFile, type StaticServer } from './server.js'

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>plain script</title>
<script src="/node_modules/sql.js/dist/sql-wasm-browser.js"></script>
<script type="importmap">
{ "imports": {
    "agent-ltm": "/node_modules/agent-ltm/dist/index.browser.js",
    "idb": "/node_modules/idb/build/index.js",
    "yaml": "/node_modules/yaml/browser/index.js"
} }
</script>
<script type="module">
  import { createLTM } from 'agent-ltm'
  const ltm = await createLTM({ backend: 'sqlite', name: 'notes' }) // the wasm is found next to dist/
  const before = await ltm.retrieve('hello')
  await ltm.store('hello', 'first memory')
  const found = await ltm.search('memory')
  const stats = await ltm.stats()
  window.result = { before: before.found, keys: found.results.map((r) => r.key), persist: stats.persist }
</script>
</head><body></body></html>`

/** Every script and wasm file below `dir`, served at `urlPrefix` + its relative path. */
function serveTree(files: Map<string, StaticFile>, dir: string, urlPrefix: string): void {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) serveTree(files, path, `${urlPrefix}${entry}/`)
    else if (/\.(js|mjs|wasm)$/.test(entry)) files.set(`${urlPrefix}${entry}`, { body: readFileSync(path), type: contentTypeOf(path) })
  }
}

let server: StaticServer
let browser: RunningBrowser
let page: Page
const errors: string[] = []

beforeAll(async () => {
  const files = new Map<string, StaticFile>([['/', { body: PAGE, type: 'text/html; charset=utf-8' }]])
  serveTree(files, join(REPO_ROOT, 'dist'), '/node_modules/agent-ltm/dist/')
  serveTree(files, join(REPO_ROOT, 'wasm'), '/node_modules/agent-ltm/wasm/')
  serveTree(files, join(REPO_ROOT, 'node_modules/sql.js/dist'), '/node_modules/sql.js/dist/')
  serveTree(files, join(REPO_ROOT, 'node_modules/idb/build'), '/node_modules/idb/build/')
  serveTree(files, join(REPO_ROOT, 'node_modules/yaml/browser'), '/node_modules/yaml/browser/')
  expect(files.has(`/node_modules/agent-ltm/dist/${relative(join(REPO_ROOT, 'dist'), BUILT_BROWSER_BUNDLE)}`)).toBe(true)
  server = await startStaticServer(files)
  browser = await launchChromium()
  page = browser.context.pages()[0] ?? (await browser.context.newPage())
  page.on('pageerror', (error) => errors.push(error.message))
  page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`))
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe('the README plain-script page (no bundler) in Chromium', () => {
  it('stores and searches, and keeps the memory across a reload', async () => {
    await page.goto(server.url)
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 30_000 })
    expect(await page.evaluate(() => (window as unknown as { result: unknown }).result)).toEqual({ before: false, keys: ['hello'], persist: 'opfs' })
    await page.reload()
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 30_000 })
    expect(await page.evaluate(() => (window as unknown as { result: unknown }).result)).toEqual({ before: true, keys: ['hello'], persist: 'opfs' })
    expect(errors).toEqual([])
  }, 120_000)
})

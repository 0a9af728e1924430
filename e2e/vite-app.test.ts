// The wasm loads without configuration in a bundler: a tiny app imports the BUILT package, Vite
// builds it for production (it sees new URL('../wasm/sql-wasm.wasm', import.meta.url) in dist/ and
// emits the wasm as an asset), and the built app runs in Chromium with OPFS persistence.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, type RunningBrowser } from './browser.js'
import { appSource, expectAppRunsAndPersists } from './bundled-app.js'
import { BUILT_BROWSER_BUNDLE, REPO_ROOT } from './page-bundle.js'
import { collectStaticFiles, startStaticServer, type StaticServer } from './server.js'

let app: string
let server: StaticServer
let browser: RunningBrowser
let emitted: string[] = []

beforeAll(async () => {
  app = await mkdtemp(join(tmpdir(), 'agent-ltm-vite-app-'))
  await writeFile(join(app, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body><script type="module" src="./main.js"></script></body></html>')
  await writeFile(
    join(app, 'main.js'),
    appSource('vite'),
  )
  await build({
    root: app,
    logLevel: 'silent',
    configFile: false,
    // The app imports the package the way users do; the alias points it at this repo's built dist/.
    resolve: { alias: [{ find: /^agent-ltm$/, replacement: BUILT_BROWSER_BUNDLE }] },
    build: { outDir: join(app, 'dist'), target: 'es2022', emptyOutDir: true },
    server: { fs: { allow: [REPO_ROOT, app] } },
  })
  const files = await collectStaticFiles(join(app, 'dist'))
  emitted = [...files.keys()]
  files.set('/', files.get('/index.html')!)
  server = await startStaticServer(files)
  browser = await launchChromium()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (app) await rm(app, { recursive: true, force: true })
})

describe('a Vite production build of an app using the package', () => {
  it('emits the shipped wasm as an asset and runs with no wasm configuration, persisting across a reload', async () => {
    expect(emitted.some((url) => url.endsWith('.wasm'))).toBe(true)
    await expectAppRunsAndPersists(browser, server.url)
  }, 120_000)
})

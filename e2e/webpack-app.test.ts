// The wasm loads without configuration under webpack 5 too: a tiny app imports the BUILT package,
// webpack builds it for production with nothing configured but the alias to this repo's dist/ (it
// sees new URL('../wasm/sql-wasm.wasm', import.meta.url) and emits the wasm as an asset/resource;
// sql.js's "browser" export condition, which webpack's web target applies by default, gives it
// dist/sql-wasm-browser.js, so no fallbacks for fs/path/crypto are needed), and the built app runs
// in Chromium with OPFS persistence.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import webpack, { type Configuration, type Stats } from 'webpack'
import { launchChromium, type RunningBrowser } from './browser.js'
import { BUILT_BROWSER_BUNDLE } from './page-bundle.js'
import { collectStaticFiles, startStaticServer, type StaticServer } from './server.js'

let app: string
let server: StaticServer
let browser: RunningBrowser
let emitted: string[] = []
let warnings: string[] = []

function runWebpack(config: Configuration): Promise<Stats> {
  return new Promise((resolve, reject) => {
    // The callback form runs the compiler once and closes it.
    webpack(config, (error, stats) => {
      if (error) reject(error)
      else if (!stats) reject(new Error('webpack gave no stats'))
      else if (stats.hasErrors()) reject(new Error(`webpack build failed:\n${stats.toString({ all: false, errors: true, errorDetails: true })}`))
      else resolve(stats)
    })
  })
}

beforeAll(async () => {
  app = await mkdtemp(join(tmpdir(), 'agent-ltm-webpack-app-'))
  await writeFile(
    join(app, 'main.js'),
    `import { createLTM } from 'agent-ltm'
const ltm = await createLTM({ backend: 'sqlite', name: 'webpack-app' })
const before = await ltm.retrieve('greeting')
await ltm.store('greeting', 'hello from a webpack build')
const hits = await ltm.search('webpack')
const stats = await ltm.stats()
window.result = { before: before.found, keys: hits.results.map((r) => r.key), persist: stats.persist }
`,
  )
  const outDir = join(app, 'dist')
  const stats = await runWebpack({
    mode: 'production',
    context: app,
    entry: './main.js',
    output: { path: outDir, clean: true },
    // The app imports the package the way users do; the alias points it at this repo's built dist/.
    resolve: { alias: { 'agent-ltm$': BUILT_BROWSER_BUNDLE } },
  })
  warnings = (stats.toJson({ all: false, warnings: true }).warnings ?? []).map((warning) => warning.message)
  // webpack has no HTML entry (that is html-webpack-plugin's job): the page is written beside the
  // output. A classic script: webpack's default output runs top-level await in an async module.
  await writeFile(join(outDir, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body><script src="./main.js"></script></body></html>')
  const files = await collectStaticFiles(outDir)
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

describe('a webpack 5 production build of an app using the package', () => {
  it('emits the shipped wasm as an asset and runs with no wasm configuration, persisting across a reload', async () => {
    const wasm = emitted.filter((url) => url.endsWith('.wasm'))
    expect(wasm).toHaveLength(1)
    // The only warnings are webpack's size hints about that 672 KiB wasm: nothing unresolved
    // ("Module not found", a Node built-in) and no "Critical dependency".
    expect(warnings.filter((message) => !/^(asset|entrypoint) size limit/.test(message))).toEqual([])
    const page = browser.context.pages()[0] ?? (await browser.context.newPage())
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`))
    const result = async (): Promise<unknown> => {
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 30_000 })
      return page.evaluate(() => (window as unknown as { result: unknown }).result)
    }
    await page.goto(server.url)
    expect(await result()).toEqual({ before: false, keys: ['greeting'], persist: 'opfs' })
    await page.reload()
    expect(await result()).toEqual({ before: true, keys: ['greeting'], persist: 'opfs' })
    expect(errors).toEqual([])
    // sql.js fetched the wasm webpack emitted, and nothing was missing.
    expect(server.log).toContain(`200 GET ${wasm[0]}`)
    expect(server.log.filter((line) => !line.startsWith('200 '))).toEqual([])
  }, 120_000)
})

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
import { appSource, expectAppRunsAndPersists } from './bundled-app.js'
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
    appSource('webpack'),
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
    await expectAppRunsAndPersists(browser, server.url)
    // sql.js fetched the wasm webpack emitted, and nothing was missing.
    expect(server.log).toContain(`200 GET ${wasm[0]}`)
    expect(server.log.filter((line) => !line.startsWith('200 '))).toEqual([])
  }, 120_000)
})

/** Builds the e2e pages (e2e/*.page.ts) for the browser with esbuild, in memory. */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type BuildOptions, type OutputFile } from 'esbuild'
import { contentTypeOf, type StaticFile } from './server.js'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const E2E_DIR = join(REPO_ROOT, 'e2e')
export const BUILT_BROWSER_BUNDLE = join(REPO_ROOT, 'dist', 'index.browser.js')
export const SHIPPED_WASM = join(REPO_ROOT, 'wasm', 'sql-wasm.wasm')

/** How a page is bundled (the e2e pages, the browser bench): the built SDK for a browser, as an app bundler would. */
export const PAGE_BUILD_OPTIONS = {
  absWorkingDir: REPO_ROOT,
  write: false, // outdir only names the outputs
  bundle: true,
  splitting: true, // keeps dist's lazy import of the sqlite backend a separate chunk, as an app bundler would
  format: 'esm',
  platform: 'browser',
  // sql.js maps the "browser" condition to dist/sql-wasm-browser.js (no fs/path/crypto).
  conditions: ['browser'],
  mainFields: ['browser', 'module', 'main'],
  target: 'es2022',
  logLevel: 'silent',
} satisfies BuildOptions

/** The bundle's outputs under their URL paths, and the shipped sql.js wasm under /wasm/. */
export function servedFiles(outputs: OutputFile[], outdir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>()
  for (const output of outputs) {
    const path = `/${relative(outdir, output.path).split('\\').join('/')}`
    files.set(path, { body: output.contents, type: contentTypeOf(path) })
  }
  files.set(`/wasm/${basename(SHIPPED_WASM)}`, { body: readFileSync(SHIPPED_WASM), type: 'application/wasm' })
  return files
}

export interface PageBundle {
  /** URL path -> file, ready for startStaticServer: the PAGES, their scripts and /wasm/sql-wasm.wasm. */
  files: Map<string, StaticFile>
  /** Source files (relative to the repo root) each page's script loads, its chunks included. */
  inputs: Record<keyof typeof PAGES, string[]>
}

/** URL path of each page -> its entry point in e2e/. */
export const PAGES = {
  conformance: { path: '/', entry: 'conformance.page' },
  shimSelftest: { path: '/shim-selftest.html', entry: 'shim-selftest.page' },
  sdk: { path: '/sdk.html', entry: 'sdk.page' },
  internals: { path: '/internals.html', entry: 'internals.page' },
  remoteConformance: { path: '/remote.html', entry: 'remote-conformance.page' },
} as const

/** Scripts that are not pages: served as /<entry>.js (the dedicated worker). */
const SCRIPTS = ['ltm.worker'] as const

function pageHtml(title: string, script: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>${title}</title>
<script type="module" src="/${script}.js"></script>
</head>
<body><p>${title}: results on window.__LTM_E2E__</p></body>
</html>
`
}

function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

export async function buildPageBundle(): Promise<PageBundle> {
  if (!existsSync(BUILT_BROWSER_BUNDLE)) {
    throw new Error(`${relative(REPO_ROOT, BUILT_BROWSER_BUNDLE)} does not exist: run \`npm run build\` first (the e2e suite tests the built bundle)`)
  }
  const newestSource = newestMtime(join(REPO_ROOT, 'src'))
  if (newestSource > statSync(BUILT_BROWSER_BUNDLE).mtimeMs) {
    console.warn('e2e: src/ changed after dist/index.browser.js was built; this run tests the older build (run `npm run build`)')
  }
  const outdir = join(E2E_DIR, '.out') // nothing is written (write: false); only names the outputs
  const result = await build({
    ...PAGE_BUILD_OPTIONS,
    entryPoints: [...Object.values(PAGES).map(({ entry }) => entry), ...SCRIPTS].map((entry) => ({ in: join(E2E_DIR, `${entry}.ts`), out: entry })),
    outdir,
    alias: { vitest: join(E2E_DIR, 'vitest-shim.ts') },
    metafile: true,
  })
  if (result.warnings.length > 0) {
    console.warn(`e2e page bundle: ${result.warnings.length} esbuild warning(s):\n${result.warnings.map((w) => `  ${w.text} (${w.location?.file ?? '?'})`).join('\n')}`)
  }
  const files = servedFiles(result.outputFiles, outdir)
  for (const { path, entry } of Object.values(PAGES)) {
    files.set(path, { body: pageHtml(`agent-ltm e2e: ${entry}`, entry), type: 'text/html; charset=utf-8' })
  }
  const outputs = result.metafile.outputs
  const inputsOf = (output: string, seen = new Set<string>()): string[] => {
    if (seen.has(output) || !outputs[output]) return []
    seen.add(output)
    return [...Object.keys(outputs[output].inputs), ...outputs[output].imports.flatMap((imported) => inputsOf(imported.path, seen))]
  }
  const entryOutput = (entry: string): string => Object.keys(outputs).find((output) => outputs[output]?.entryPoint === `e2e/${entry}.ts`) ?? ''
  const inputs = Object.fromEntries(Object.entries(PAGES).map(([page, { entry }]) => [page, [...new Set(inputsOf(entryOutput(entry)))]])) as PageBundle['inputs']
  return { files, inputs }
}

// The browser/worker entry must bundle for the browser without any Node built-in, and stay small.
// Checked twice: on the import graph of the source, and on the files tsup actually builds.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { builtinModules } from 'node:module'
import { build } from 'esbuild'
import { build as tsupBuild, type Options } from 'tsup'
import { describe, expect, it } from 'vitest'
import tsupConfig from '../tsup.config.js'

const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)])

async function bundleBrowserEntry(): Promise<{ code: string; imports: string[] }> {
  const imports: string[] = []
  const result = await build({
    entryPoints: ['src/index.browser.ts'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    splitting: true,
    outdir: 'out',
    // sql.js is the browser engine's own (optional, lazily loaded) package, measured separately.
    external: ['sql.js'],
    plugins: [
      {
        name: 'record-imports',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            imports.push(args.path)
            return undefined
          })
        },
      },
    ],
  })
  const entry = result.outputFiles.find((file) => file.path.endsWith('index.browser.js'))!
  return { code: entry.text, imports }
}

describe('browser bundle', () => {
  it('has no Node built-in anywhere in its import graph', async () => {
    const { imports } = await bundleBrowserEntry()
    const offenders = imports.filter((path) => NODE_BUILTINS.has(path) || path === 'better-sqlite3' || path === 'libsql')
    expect(offenders).toEqual([])
  })

  it('keeps the core small (minified + gzip, printed)', async () => {
    const { code } = await bundleBrowserEntry()
    const gzipped = gzipSync(code).length
    console.log(`browser core bundle: ${(code.length / 1024).toFixed(1)} kB minified, ${(gzipped / 1024).toFixed(1)} kB gzip (yaml is a lazily loaded chunk)`)
    expect(gzipped).toBeLessThan(20 * 1024)
  })

  it('the tsup-built browser bundle imports nothing but its own chunks, its dependencies and optional peers', async () => {
    const configs = (Array.isArray(tsupConfig) ? tsupConfig : [tsupConfig]) as Options[]
    const browser = configs.find((c) => c.platform === 'browser')!
    const outDir = mkdtempSync(join(tmpdir(), 'ltm-browser-build-'))
    await tsupBuild({ ...browser, outDir, dts: false, sourcemap: false, clean: false, silent: true })
    const files = readdirSync(outDir).filter((f) => f.endsWith('.js'))
    expect(files).toContain('index.browser.js')
    const specifiers = new Set<string>()
    for (const file of files) {
      const code = readFileSync(join(outDir, file), 'utf8')
      for (const match of code.matchAll(/(?:from\s*|import\s*\(\s*|require\s*\(\s*)["']([^"']+)["']/g)) specifiers.add(match[1]!)
    }
    const foreign = [...specifiers].filter((s) => !s.startsWith('./'))
    // yaml and idb are dependencies the bundler resolves; nothing may be a Node built-in or a native driver.
    expect(foreign.filter((s) => NODE_BUILTINS.has(s) || s === 'better-sqlite3' || s === 'libsql')).toEqual([])
    expect(foreign.sort()).toEqual(['@libsql/client/web', '@supabase/supabase-js', 'idb', 'sql.js', 'yaml'].filter((s) => foreign.includes(s)))
  })

  it('package.json routes browser and worker to the browser build, types first', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, Record<string, string>>; sideEffects: boolean }
    expect(Object.keys(pkg.exports['.']!)).toEqual(['types', 'browser', 'worker', 'node', 'default'])
    expect(pkg.exports['.']!.browser).toBe('./dist/index.browser.js')
    expect(pkg.exports['.']!.worker).toBe('./dist/index.browser.js')
    expect(pkg.exports['.']!.node).toBe('./dist/index.node.js')
    expect(pkg.sideEffects).toBe(false)
  })
})

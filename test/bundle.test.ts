// The browser/worker entry must bundle for the browser without any Node built-in, and stay small.
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { builtinModules } from 'node:module'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'

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

  it('package.json routes browser and worker to the browser build, types first', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, Record<string, string>>; sideEffects: boolean }
    expect(Object.keys(pkg.exports['.']!)).toEqual(['types', 'browser', 'worker', 'node', 'default'])
    expect(pkg.exports['.']!.browser).toBe('./dist/index.browser.js')
    expect(pkg.exports['.']!.worker).toBe('./dist/index.browser.js')
    expect(pkg.exports['.']!.node).toBe('./dist/index.node.js')
    expect(pkg.sideEffects).toBe(false)
  })
})

// The browser build's sqlite backend (sql.js) through the same conformance suite, run in Node.
// e2e/ runs it again inside Chromium against the built bundle.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { createLTM, migrate } from '../src/index.browser.js'
import { runConformance } from './conformance/suite.js'

runConformance('sqlite (browser build, sql.js in memory)', {
  open: (options) => createLTM({ backend: 'sqlite', persist: 'memory', ...options }),
}, migrate)

describe('shipped sql.js wasm', () => {
  it('is the binary of the pinned sql.js version', () => {
    const manifest = JSON.parse(readFileSync('wasm/manifest.json', 'utf8'))['sql-wasm.wasm'] as { version: string; sha256: string; bytes: number }
    const require = createRequire(import.meta.url)
    const sqlJsDir = require.resolve('sql.js').replace(/dist\/sql-wasm\.js$/, '')
    const installed = JSON.parse(readFileSync(`${sqlJsDir}package.json`, 'utf8')) as { version: string }
    expect(installed.version).toBe(manifest.version)
    const shipped = readFileSync('wasm/sql-wasm.wasm')
    expect(shipped.length).toBe(manifest.bytes)
    expect(createHash('sha256').update(shipped).digest('hex')).toBe(manifest.sha256)
    expect(createHash('sha256').update(readFileSync(`${sqlJsDir}dist/sql-wasm.wasm`)).digest('hex')).toBe(manifest.sha256)
  })

  it('opens from the wasm bytes given as an option', async () => {
    const ltm = await createLTM({ backend: 'sqlite', persist: 'memory', wasmBinary: new Uint8Array(readFileSync('wasm/sql-wasm.wasm')) })
    expect(await ltm.store('k', 'from bytes')).toMatchObject({ success: true, stored: true })
    await ltm.close()
  })

  it('refuses persistence modes this version does not have, clearly', async () => {
    await expect(createLTM({ backend: 'sqlite', persist: 'floppy' as never })).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
  })

  it('without IndexedDB (Node), asks for persist: memory instead of silently losing memories', async () => {
    await expect(createLTM({ backend: 'sqlite' })).rejects.toThrow(/persist: 'memory'/)
  })
})

import { LtmError, LtmFailure } from '../core/errors.js'
import type { BackendDefinition, BackendOptions } from '../core/registry.js'
import { openSqlJsEngine, type InitSqlJs } from '../engines/sqljs.js'
import { SqlMemoryBackend, migrateSchema } from '../sql/sql-backend.js'
import { shippedSqlJsWasmUrl } from '../sqljs-wasm.js'

/** SQLite in the browser, a Web Worker or a Cloudflare Worker, on sql.js (SQLite compiled to WebAssembly). */
export interface BrowserSqliteOptions extends BackendOptions {
  backend: 'sqlite'
  /** Name of this memory store, so several can live side by side. @default 'agent-ltm' */
  name?: string
  /** Where memories live. This version keeps them in memory for the life of the page. @default 'memory' */
  persist?: 'memory'
  /** URL of sql-wasm.wasm. @default the copy shipped in agent-ltm/wasm, found through import.meta.url */
  wasmUrl?: string | URL
  /** The wasm bytes themselves, instead of a URL. */
  wasmBinary?: ArrayBuffer | Uint8Array
  /** A SQLite file image to start from (for example one written by the Node build). */
  data?: Uint8Array
}

async function loadSqlJs(): Promise<InitSqlJs> {
  try {
    const module = (await import('sql.js')) as unknown as { default?: InitSqlJs }
    return (module.default ?? module) as InitSqlJs
  } catch (error) {
    throw new LtmFailure('dependency_missing', 'sqlite (browser): sql.js is not installed. Install it with: npm install sql.js', undefined, { cause: error })
  }
}

function locateWasm(options: BrowserSqliteOptions): ((file: string) => string) | undefined {
  if (options.wasmBinary) return undefined
  const url = options.wasmUrl ?? shippedSqlJsWasmUrl()
  // Outside a browser (Node, tests) sql.js finds its own wasm file; a file: URL is not fetchable there.
  if (String(url).startsWith('file:')) return undefined
  return () => String(url)
}

export const browserSqliteBackend: BackendDefinition<BrowserSqliteOptions> = {
  requiredOptions: [],
  async open(options) {
    if (options.persist !== undefined && options.persist !== 'memory') {
      throw new LtmError('invalid_argument', `sqlite (browser): persist "${String(options.persist)}" is not available in this version; use 'memory'`)
    }
    const engineOptions: Parameters<typeof openSqlJsEngine>[0] = { initSqlJs: await loadSqlJs() }
    const locateFile = locateWasm(options)
    if (locateFile) engineOptions.locateFile = locateFile
    if (options.wasmBinary) engineOptions.wasmBinary = options.wasmBinary
    if (options.data) engineOptions.data = options.data
    const executor = await openSqlJsEngine(engineOptions)
    try {
      await migrateSchema(executor)
    } catch (error) {
      await executor.close()
      throw error
    }
    return new SqlMemoryBackend('sqlite', executor)
  },
}

import { LtmError, LtmFailure } from '../core/errors.js'
import type { BackendDefinition, BackendOptions } from '../core/registry.js'
import { openSqlJsEngine, type InitSqlJs } from '../engines/sqljs.js'
import type { SqlExecutor } from '../engines/types.js'
import { IndexedDbChangeLog } from '../persistence/indexeddb-log.js'
import { OpfsImages, opfsAvailable } from '../persistence/opfs-images.js'
import { PersistentExecutor } from '../persistence/persistent-executor.js'
import { openSqlBackend } from '../sql/sql-backend.js'
import { shippedSqlJsWasmUrl } from '../sqljs-wasm.js'

/** SQLite in the browser, a Web Worker or a Cloudflare Worker, on sql.js (SQLite compiled to WebAssembly). */
export interface BrowserSqliteOptions extends BackendOptions {
  backend: 'sqlite'
  /** Name of this memory store, so several can live side by side. @default 'agent-ltm' */
  name?: string
  /**
   * Where memories live. `opfs`: images in the Origin Private File System, the change log in
   * IndexedDB. `indexeddb`: both in IndexedDB. Both survive reloads and browser restarts. `memory`:
   * only for the life of the page or worker.
   * @default 'opfs' where the browser has it, else 'indexeddb'
   */
  persist?: 'opfs' | 'indexeddb' | 'memory'
  /**
   * `strict`: a write resolves once the browser has flushed it to disk. `relaxed`: once IndexedDB
   * committed it; the browser may group flushes (a crash of the whole OS can lose the last writes).
   * @default 'strict'
   */
  durability?: 'strict' | 'relaxed'
  /** Ask the browser not to evict this origin's storage (navigator.storage.persist()). @default true */
  requestPersistence?: boolean
  /** URL of sql-wasm.wasm. @default the copy shipped in agent-ltm/wasm, found through import.meta.url */
  wasmUrl?: string | URL
  /** The wasm bytes themselves, instead of a URL. */
  wasmBinary?: ArrayBuffer | Uint8Array
  /** A SQLite file image to start from (for example one written by the Node build). */
  data?: Uint8Array
  /**
   * sql.js's init function, when sql.js is loaded some other way than `import 'sql.js'` (a classic
   * script tag defines `window.initSqlJs`, which is used when present).
   */
  initSqlJs?: InitSqlJs
}

async function loadSqlJs(options: BrowserSqliteOptions): Promise<InitSqlJs> {
  const fromPage = (globalThis as { initSqlJs?: InitSqlJs }).initSqlJs
  if (options.initSqlJs ?? fromPage) return (options.initSqlJs ?? fromPage)!
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
    const persist = options.persist ?? (typeof indexedDB === 'undefined' ? undefined : opfsAvailable() ? 'opfs' : 'indexeddb')
    if (persist === undefined) {
      throw new LtmError('invalid_argument', `sqlite (browser): no IndexedDB here to keep memories; pass persist: 'memory' to keep them only for this process`)
    }
    if (persist !== 'memory' && persist !== 'indexeddb' && persist !== 'opfs') {
      throw new LtmError('invalid_argument', `sqlite (browser): persist must be 'opfs', 'indexeddb' or 'memory', got "${String(persist)}"`)
    }
    if (persist === 'opfs' && !opfsAvailable()) {
      throw new LtmError('invalid_argument', `sqlite (browser): this browser has no Origin Private File System; use persist: 'indexeddb'`)
    }
    const initSqlJs = await loadSqlJs(options)
    const openEngine = (image: Uint8Array | null) => {
      const engineOptions: Parameters<typeof openSqlJsEngine>[0] = { initSqlJs }
      const locateFile = locateWasm(options)
      if (locateFile) engineOptions.locateFile = locateFile
      if (options.wasmBinary) engineOptions.wasmBinary = options.wasmBinary
      const data = image ?? options.data
      if (data) engineOptions.data = data
      return openSqlJsEngine(engineOptions)
    }
    let executor: SqlExecutor
    if (persist === 'memory') executor = await openEngine(null)
    else {
      if (options.requestPersistence !== false) void (globalThis.navigator as { storage?: { persist?(): Promise<boolean> } } | undefined)?.storage?.persist?.().catch(() => false)
      const name = options.name ?? 'agent-ltm'
      const files = persist === 'opfs' ? await OpfsImages.open(name) : null
      const log = await IndexedDbChangeLog.open(name, options.durability ?? 'strict', files)
      executor = await PersistentExecutor.open({ name, log, openEngine, persist })
    }
    return openSqlBackend('sqlite', executor)
  },
}

/**
 * A dedicated Web Worker using the BUILT browser bundle: stores memories with IndexedDB persistence
 * and answers with what it can retrieve and search, so the page can check a worker works and that
 * the page sees the worker's writes.
 */
import { createLTM } from '../dist/index.browser.js'

self.onmessage = async (event: MessageEvent<{ name: string; count: number }>) => {
  try {
    const { name, count } = event.data
    const ltm = await createLTM({ backend: 'sqlite', name, persist: 'indexeddb', wasmUrl: '/wasm/sql-wasm.wasm' })
    const stored = await ltm.storeBatch(Array.from({ length: count }, (_, i) => ({ key: `worker-${i}`, value: `written in a worker, item ${i}`, metadata: { i } })))
    const search = await ltm.search('worker item', { i: { $lt: 5 } }, 10)
    const stats = await ltm.stats()
    await ltm.close()
    self.postMessage({
      ok: stored.success,
      stored: stored.success ? stored.stored_count : 0,
      found: search.success ? search.results.map((r) => r.key).sort() : [],
      persist: stats.success ? stats.persist : null,
    })
  } catch (error) {
    self.postMessage({ ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
  }
}

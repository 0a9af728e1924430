import { openMemory, registerBackend } from './core/registry.js'
import type { LTM } from './core/types.js'
import type { BrowserSqliteOptions } from './backends/sqlite-browser.js'

export * from './index.core.js'
export type { BrowserSqliteOptions }

registerBackend('sqlite', async () => (await import('./backends/sqlite-browser.js')).browserSqliteBackend as never)

/** Options for every backend this build registers. */
export type LtmOptions = BrowserSqliteOptions

/**
 * Opens long-term memory in a browser or worker.
 * @example const ltm = await createLTM({ backend: 'sqlite', name: 'my-agent' })
 */
export function createLTM(options: LtmOptions): Promise<LTM> {
  return openMemory(options)
}

import { createHash } from 'node:crypto'
import { useSha256 } from './core/hash.js'
import { openMemory, registerBackend } from './core/registry.js'
import type { LTM } from './core/types.js'
import type { SqliteOptions } from './backends/sqlite.js'

export * from './index.core.js'
export type { SqliteOptions }

useSha256((text) => `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`)
registerBackend('sqlite', async () => (await import('./backends/sqlite.js')).sqliteBackend as never)

/** Options for every backend this build registers. */
export type LtmOptions = SqliteOptions

/**
 * Opens long-term memory.
 * @example const ltm = await createLTM({ backend: 'sqlite', path: './memory.db' })
 */
export function createLTM(options: LtmOptions): Promise<LTM> {
  return openMemory(options)
}

import { openMemory, registerBackend } from './core/registry.js'
import type { LTM } from './core/types.js'
import type { BrowserSqliteOptions } from './backends/sqlite-browser.js'
import type { TursoOptions } from './backends/turso.js'
import type { D1Options } from './backends/d1.js'
import type { FirestoreOptions } from './backends/firestore.js'
import type { SupabaseOptions } from './backends/supabase.js'

export * from './index.core.js'
export type { BrowserSqliteOptions, TursoOptions, D1Options, FirestoreOptions, SupabaseOptions }

registerBackend('sqlite', async () => (await import('./backends/sqlite-browser.js')).browserSqliteBackend as never)
registerBackend('turso', async () => (await import('./backends/turso.js')).tursoBackend as never)
registerBackend('d1', async () => (await import('./backends/d1.js')).d1Backend as never)
registerBackend('firestore', async () => (await import('./backends/firestore.js')).firestoreBackend as never)
registerBackend('supabase', async () => (await import('./backends/supabase.js')).supabaseBackend as never)

/** Options for every backend this build registers. */
export type LtmOptions = BrowserSqliteOptions | TursoOptions | D1Options | FirestoreOptions | SupabaseOptions

/**
 * Opens long-term memory in a browser or worker.
 * @example const ltm = await createLTM({ backend: 'sqlite', name: 'my-agent' })
 */
export function createLTM(options: LtmOptions): Promise<LTM> {
  return openMemory(options)
}

import { createHash } from 'node:crypto'
import { useSha256 } from './core/hash.js'
import { openMemory, registerBackend } from './core/registry.js'
import type { LTM } from './core/types.js'
import type { SqliteOptions } from './backends/sqlite.js'
import type { TursoOptions } from './backends/turso.js'
import type { D1Options } from './backends/d1.js'
import type { PostgresOptions } from './backends/postgres.js'
import type { FirestoreOptions } from './backends/firestore.js'
import type { SupabaseOptions } from './backends/supabase.js'

export * from './index.core.js'
export type { SqliteOptions, TursoOptions, D1Options, PostgresOptions, FirestoreOptions, SupabaseOptions }

useSha256((text) => `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`)
registerBackend('sqlite', async () => (await import('./backends/sqlite.js')).sqliteBackend as never)
registerBackend('turso', async () => (await import('./backends/turso.js')).tursoBackend as never)
registerBackend('d1', async () => (await import('./backends/d1.js')).d1Backend as never)
registerBackend('postgres', async () => (await import('./backends/postgres.js')).postgresBackend as never)
registerBackend('firestore', async () => (await import('./backends/firestore.js')).firestoreBackend as never)
registerBackend('supabase', async () => (await import('./backends/supabase.js')).supabaseBackend as never)

/** Options for every backend this build registers. */
export type LtmOptions = SqliteOptions | TursoOptions | D1Options | PostgresOptions | FirestoreOptions | SupabaseOptions

/**
 * Opens long-term memory.
 * @example const ltm = await createLTM({ backend: 'sqlite', path: './memory.db' })
 */
export function createLTM(options: LtmOptions): Promise<LTM> {
  return openMemory(options)
}

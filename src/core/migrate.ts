import { LtmFailure } from './errors.js'
import type { BatchEntry, Failure, LTM } from './types.js'

export interface MigrateOptions {
  /** Memories written per storeBatch. @default 500 */
  batchSize?: number
  onProgress?: (progress: { copied: number }) => void
}

export type MigrateResult = { success: true; migrated_count: number } | (Failure & { migrated_count: number })

/**
 * Copies every live memory of `from`'s namespace and the namespaces below it into `to`, keeping
 * namespaces (relative to each handle), metadata and expiry. Works between any two backends.
 * created_at/updated_at are those of the copy.
 */
export async function migrate(from: LTM, to: LTM, options: MigrateOptions = {}): Promise<MigrateResult> {
  const batchSize = options.batchSize ?? 500
  const base = from.namespaceName
  let copied = 0
  let pending: { namespace: string; entries: BatchEntry[] } | null = null
  const flush = async (): Promise<Failure | null> => {
    if (!pending || pending.entries.length === 0) return null
    const target = pending.namespace === '' ? to : to.namespace(pending.namespace)
    const result = await target.storeBatch(pending.entries)
    if (!result.success) return result
    copied += pending.entries.length
    options.onProgress?.({ copied })
    pending = null
    return null
  }
  try {
    for await (const record of from.iterateAll({ pageSize: batchSize, includeDescendants: true })) {
      const relative = record.namespace === base ? '' : base === '' ? record.namespace : record.namespace.slice(base.length + 1)
      if (!pending || pending.namespace !== relative || pending.entries.length >= batchSize) {
        const failure = await flush()
        if (failure) return { ...failure, migrated_count: copied }
        pending = { namespace: relative, entries: [] }
      }
      const entry: BatchEntry = { key: record.key, value: record.value, metadata: record.metadata }
      if (record.expires_at !== null) entry.expiresAt = record.expires_at
      pending.entries.push(entry)
    }
  } catch (error) {
    if (error instanceof LtmFailure) return { ...error.toResult(), migrated_count: copied }
    throw error
  }
  const failure = await flush()
  if (failure) return { ...failure, migrated_count: copied }
  return { success: true, migrated_count: copied }
}

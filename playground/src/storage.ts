/**
 * Where memories can live. PERSIST_OPTIONS lists what this build of the SDK accepts; when the
 * browser backend gains a mode, add one line here (the type comes from the SDK, so a mode it does
 * not accept is a type error).
 */
import type { BrowserSqliteOptions } from 'agent-ltm'

export type PersistMode = NonNullable<BrowserSqliteOptions['persist']>

export interface StorageSupport {
  opfs: boolean
  indexeddb: boolean
}

export interface PersistOption {
  value: PersistMode
  label: string
  /** Where the memories live, in a few words. */
  description: string
  /** The browser feature this mode needs; the option is disabled without it. */
  requires?: keyof StorageSupport
}

/** In order of preference: the first one the browser supports is the default. */
export const PERSIST_OPTIONS: readonly PersistOption[] = [
  { value: 'opfs', label: 'OPFS', description: 'images in the origin private file system, change log in IndexedDB; survives reloads', requires: 'opfs' },
  { value: 'indexeddb', label: 'IndexedDB', description: 'image and change log in IndexedDB; survives reloads', requires: 'indexeddb' },
  { value: 'memory', label: 'In memory', description: 'in this tab only; gone on reload' },
]

export function detectStorage(): StorageSupport {
  const storage = typeof navigator === 'undefined' ? undefined : navigator.storage
  return {
    opfs: typeof storage?.getDirectory === 'function',
    indexeddb: typeof indexedDB !== 'undefined',
  }
}

export function isAvailable(option: PersistOption, support: StorageSupport): boolean {
  return option.requires === undefined || support[option.requires]
}

/** Usage and quota of this origin's storage, or null where the browser does not say. */
export async function storageEstimate(): Promise<{ usage: number; quota: number } | null> {
  if (typeof navigator === 'undefined' || typeof navigator.storage?.estimate !== 'function') return null
  try {
    const { usage, quota } = await navigator.storage.estimate()
    return usage === undefined || quota === undefined ? null : { usage, quota }
  } catch {
    return null
  }
}

import { openMemory, type BackendOptions } from './core/registry.js'
import type { LTM } from './core/types.js'

export * from './index.core.js'

/** Options for every backend this build registers (the browser engines arrive with the browser build). */
export type LtmOptions = BackendOptions

/** Opens long-term memory on a backend registered in this build (see registeredBackends()). */
export function createLTM(options: LtmOptions): Promise<LTM> {
  return openMemory(options)
}

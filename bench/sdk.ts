/** The SDK side of the benchmark: the public API through createLTM, exactly as an application uses it. */
import type { LTM } from '../src/core/types.js'
import { createLTM } from '../src/index.node.js'
import type { Driver } from './raw.js'

export async function openSdk(driver: Driver, path: string): Promise<LTM> {
  return createLTM({ backend: 'sqlite', path, driver })
}

/** Throws unless an SDK result is a success: a failed operation must not pass as a fast one. */
export function check<R extends { success: boolean }>(result: R, what: string): R {
  if (!result.success) throw new Error(`${what} failed: ${JSON.stringify(result)}`)
  return result
}

import type { MemoryBackend } from './backend.js'
import { LtmError, LtmFailure } from './errors.js'
import { MemoryHandle } from './ltm.js'
import type { CommonOptions, LTM } from './types.js'

/** Options of any backend: its name plus its own fields. */
export interface BackendOptions extends CommonOptions {
  backend: string
}

export interface BackendDefinition<O extends BackendOptions = BackendOptions> {
  /** Option names that must be present (camelCase), for clear configuration errors. */
  requiredOptions: readonly string[]
  /** Opens the backend; throws LtmFailure for expected failures (missing dependency, unreachable server). */
  open(options: O): Promise<MemoryBackend>
}

const backends = new Map<string, () => Promise<BackendDefinition>>()

/** Registers a backend under a name; the loader runs on first use so optional dependencies load lazily. */
export function registerBackend(name: string, load: () => Promise<BackendDefinition>): void {
  backends.set(name, load)
}

export function registeredBackends(): string[] {
  return [...backends.keys()].sort()
}

export async function loadBackend(name: string): Promise<BackendDefinition> {
  const load = backends.get(name)
  if (!load) {
    throw new LtmError('invalid_argument', `unknown backend "${name}"; this build has: ${registeredBackends().join(', ') || 'none'}`)
  }
  return load()
}

/** A backend that failed to open: every operation returns the failure, as the spec's graceful degradation asks. */
function failedBackend(name: string, failure: LtmFailure): MemoryBackend {
  const fail = async (): Promise<never> => {
    throw failure
  }
  return { name, write: fail, read: fail, remove: fail, search: fail, cleanupExpired: fail, page: fail, transaction: fail, stats: fail, close: async () => {} }
}

/**
 * Opens memory on a backend. Expected failures (a missing driver, an unreachable server) do not
 * throw: the handle returns them as `{ success: false, error_type }` from every call.
 * An unknown backend name or a missing required option throws an `LtmError`.
 * @example const ltm = await createLTM({ backend: 'sqlite', path: './memory.db' })
 */
export async function openMemory(options: BackendOptions): Promise<LTM> {
  if (!options || typeof options !== 'object') throw new LtmError('invalid_argument', 'createLTM needs options like { backend: "sqlite" }')
  const definition = await loadBackend(options.backend)
  const missing = definition.requiredOptions.filter((key) => (options as unknown as Record<string, unknown>)[key] === undefined)
  if (missing.length > 0) throw new LtmError('invalid_argument', `backend "${options.backend}" needs ${missing.join(', ')}`)
  let backend: MemoryBackend
  try {
    backend = await definition.open(options)
  } catch (error) {
    if (!(error instanceof LtmFailure)) throw error
    backend = failedBackend(options.backend, error)
  }
  return MemoryHandle.create(backend, options)
}

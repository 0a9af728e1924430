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

/**
 * Failures that may pass without new options: a server that was down, busy or rate limiting at
 * open, and refused credentials (a token provider may hand out a refreshed token, or the key may be
 * granted server-side). Retrying costs one open per call, no more than the call itself would send.
 */
const REOPEN_ON_CALL: ReadonlySet<string> = new Set(['connection_timeout', 'rate_limited', 'lock_timeout', 'auth_failed'])

/**
 * A backend that failed to open: every operation returns the failure, as the spec's graceful
 * degradation asks. When the failure may pass (see REOPEN_ON_CALL), each call first tries to
 * open again (one attempt at a time), and once that works the handle carries on normally.
 */
function failedBackend(name: string, failure: LtmFailure, reopen: () => Promise<MemoryBackend>): MemoryBackend {
  let opened: MemoryBackend | null = null
  let opening: Promise<MemoryBackend> | null = null
  let last = failure
  let closed = false
  const backend = async (): Promise<MemoryBackend> => {
    if (opened) return opened
    // A transport failure knows whether sending again may work (a 5xx does; a 4xx does not).
    const retryable = (last as { retryable?: unknown }).retryable === true
    if (!REOPEN_ON_CALL.has(last.errorType) && !retryable) throw last
    opening ??= reopen().then(
      (fresh) => {
        if (closed) void fresh.close()
        return (opened = fresh)
      },
      (error: unknown) => {
        opening = null
        if (error instanceof LtmFailure) last = error
        throw error
      },
    )
    return opening
  }
  return {
    name,
    write: async (entries, now) => (await backend()).write(entries, now),
    read: async (namespace, keys, now) => (await backend()).read(namespace, keys, now),
    remove: async (namespace, key, now) => (await backend()).remove(namespace, key, now),
    search: async (request) => (await backend()).search(request),
    cleanupExpired: async (namespace, now) => (await backend()).cleanupExpired(namespace, now),
    page: async (request) => (await backend()).page(request),
    transaction: async (fn) => (await backend()).transaction(fn),
    stats: async () => (await (await backend()).stats?.()) ?? {},
    close: async () => {
      closed = true
      await opened?.close()
    },
  }
}

/**
 * Opens memory on a backend. Expected failures (a missing driver, an unreachable server) do not
 * throw: the handle returns them as `{ success: false, error_type }` from every call, and retries
 * the open on each call while the failure may pass (an unreachable or busy server, refused credentials).
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
    backend = failedBackend(options.backend, error, () => definition.open(options))
  }
  return MemoryHandle.create(backend, options)
}

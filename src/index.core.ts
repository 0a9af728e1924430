/** What every runtime exports; the runtime entries add the backends that runtime can run. */
export type * from './core/types.js'
export type { MemoryBackend, PreparedWrite, StoredMemory, ScoredMemory, SearchRequest, PageRequest, WriteOutcome } from './core/backend.js'
export { LtmError, LtmFailure, type LtmErrorCode } from './core/errors.js'
export { migrate, type MigrateOptions, type MigrateResult } from './core/migrate.js'
export { registerBackend, registeredBackends, type BackendDefinition, type BackendOptions } from './core/registry.js'
export { createLTMFromSettings, resolveSettings, type SettingsContext } from './core/settings.js'
export { tokenize, parseQuery } from './core/tokenize.js'
export { bm25Idf, bm25TermScore, BM25_B, BM25_K1 } from './core/bm25.js'
export { canonicalJson } from './core/json.js'
export {
  createTransport,
  parseRetryAfter,
  TransportFailure,
  type Transport,
  type TransportOptions,
  type TransportRequest,
  type TransportResponse,
  type TransportStats,
  type RemoteOptions,
  type RequestReport,
  type RetryPolicy,
  type HeaderSource,
} from './transport/transport.js'
export type { D1DatabaseBinding } from './engines/d1.js'

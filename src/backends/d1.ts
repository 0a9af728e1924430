import { LtmError } from '../core/errors.js'
import type { BackendDefinition, BackendOptions } from '../core/registry.js'
import { D1Executor, d1BindingRunner, d1RestRunner, type D1DatabaseBinding } from '../engines/d1.js'
import { openSqlBackend } from '../sql/sql-backend.js'
import { transportFor, type RemoteOptions } from '../transport/transport.js'

export const CLOUDFLARE_API_BASE = 'https://api.cloudflare.com/client/v4'

/**
 * Cloudflare D1: through the REST API from anywhere (`accountId`, `databaseId`, `apiToken`), or
 * through a binding inside a Worker (`binding: env.DB`).
 */
export interface D1Options extends BackendOptions, RemoteOptions {
  backend: 'd1'
  /** A Workers D1 binding; when given, the REST options are not used. */
  binding?: D1DatabaseBinding
  /** Settings: `ltm_account_id`. */
  accountId?: string
  /** Settings: `ltm_database_id`. */
  databaseId?: string
  /** An API token with D1 read and write permission (settings: `ltm_api_token`). */
  apiToken?: string
  /** API base, for a proxy or an emulator. @default 'https://api.cloudflare.com/client/v4' */
  baseUrl?: string
}

export const d1Backend: BackendDefinition<D1Options> = {
  requiredOptions: [],
  async open(options) {
    if (options.binding !== undefined) {
      if (typeof options.binding?.prepare !== 'function' || typeof options.binding?.batch !== 'function') {
        throw new LtmError('invalid_argument', 'd1: binding must be a D1 database binding (env.DB inside a Worker)')
      }
      return openSqlBackend('d1', new D1Executor('d1-binding', d1BindingRunner(options.binding), null))
    }
    const missing = (['accountId', 'databaseId', 'apiToken'] as const).filter((key) => typeof options[key] !== 'string' || options[key] === '')
    if (missing.length > 0) throw new LtmError('invalid_argument', `d1: pass binding (inside a Worker) or accountId, databaseId and apiToken; missing ${missing.join(', ')}`)
    const transport = transportFor('d1', options, [options.apiToken])
    const target = { baseUrl: options.baseUrl ?? CLOUDFLARE_API_BASE, accountId: options.accountId!, databaseId: options.databaseId!, apiToken: options.apiToken! }
    return openSqlBackend('d1', new D1Executor('d1-rest', d1RestRunner(target, transport), transport))
  },
}

import { LtmError, LtmFailure } from '../core/errors.js'
import type { BackendDefinition, BackendOptions } from '../core/registry.js'
import { LibsqlRemoteExecutor } from '../engines/libsql-remote.js'
import { openSqlBackend } from '../sql/sql-backend.js'
import { transportFor, type RemoteOptions } from '../transport/transport.js'

/** Turso or any libSQL server (sqld) over HTTP, in Node, browsers, Web Workers and Cloudflare Workers. */
export interface TursoOptions extends BackendOptions, RemoteOptions {
  backend: 'turso'
  /** `libsql://`, `https://` or `http://` URL of the database (settings: `ltm_url`). */
  url: string
  /** Database token (settings: `ltm_auth_token`). */
  authToken?: string
  /** Requests in flight at once per handle. @default 20 */
  concurrency?: number
}

export const tursoBackend: BackendDefinition<TursoOptions> = {
  requiredOptions: ['url'],
  async open(options) {
    if (typeof options.url !== 'string' || options.url === '') throw new LtmError('invalid_argument', 'turso: url must be a libsql://, https:// or http:// URL')
    if (options.authToken !== undefined && typeof options.authToken !== 'string') throw new LtmError('invalid_argument', 'turso: authToken must be a string')
    let libsql: typeof import('@libsql/client/web')
    try {
      libsql = await import('@libsql/client/web')
    } catch (error) {
      throw new LtmFailure('dependency_missing', 'turso: @libsql/client is not installed. Install it with: npm install @libsql/client', undefined, { cause: error })
    }
    const transport = transportFor('turso', options, [options.authToken])
    let client: import('@libsql/client/web').Client
    try {
      client = libsql.createClient({ url: options.url, authToken: options.authToken, fetch: transport.fetch, intMode: 'number', concurrency: options.concurrency })
    } catch (error) {
      throw new LtmError('invalid_argument', transport.redact(`turso: ${error instanceof Error ? error.message : String(error)}`))
    }
    return openSqlBackend('turso', new LibsqlRemoteExecutor(client, transport))
  },
}

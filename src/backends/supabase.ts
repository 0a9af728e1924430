import { LtmError, LtmFailure } from '../core/errors.js'
import type { BackendDefinition, BackendOptions } from '../core/registry.js'
import { READ_FUNCTIONS, SupabaseMemoryBackend, type SupabaseRpcClient } from '../supabase/backend.js'
import { isPostgrestError } from '../supabase/errors.js'
import { createTransport, type RemoteOptions } from '../transport/transport.js'

/**
 * Supabase (its Data API, PostgREST) through `@supabase/supabase-js`, in Node, browsers and
 * Workers. Needs agent-ltm's SQL in the project once (`npx agent-ltm supabase-sql` prints it).
 * @example const ltm = await createLTM({ backend: 'supabase', url: 'https://xyz.supabase.co', key: ANON_KEY, accessToken: session.access_token })
 */
export interface SupabaseOptions extends BackendOptions, RemoteOptions {
  backend: 'supabase'
  /** The project URL, e.g. `https://xyzcompany.supabase.co` (settings: `ltm_url`). */
  url: string
  /** The project's anon (publishable) key, or its service_role key on a server (settings: `ltm_key`). */
  key: string
  /**
   * The signed-in user's access token (a Supabase Auth JWT), or a function giving the current one
   * (called per request, so refreshed tokens are used): memories are that user's alone. Without it
   * only the key is sent: the anon key has no memories; the service_role key has its own.
   */
  accessToken?: string | (() => string | null | undefined | Promise<string | null | undefined>)
  /** The schema agent-ltm's SQL was run in; it must be exposed by the Data API. @default 'public' */
  schema?: string
}

/** supabase-js builds a Realtime client eagerly; agent-ltm never opens one (Node 20 has no WebSocket to give it). */
class NoRealtime {
  constructor() {
    throw new Error('agent-ltm does not use Supabase Realtime')
  }
}

export const supabaseBackend: BackendDefinition<SupabaseOptions> = {
  requiredOptions: ['url', 'key'],
  async open(options) {
    let url: URL
    try {
      url = new URL(options.url)
    } catch {
      throw new LtmError('invalid_argument', 'supabase: url must be the project URL, like https://xyzcompany.supabase.co')
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new LtmError('invalid_argument', 'supabase: url must be an https:// (or http://) project URL')
    if (typeof options.key !== 'string' || options.key === '') throw new LtmError('invalid_argument', 'supabase: key must be the project\'s anon or service_role key')
    const token = options.accessToken
    if (token !== undefined && typeof token !== 'string' && typeof token !== 'function') throw new LtmError('invalid_argument', 'supabase: accessToken must be a string or a function returning one')
    if (options.schema !== undefined && (typeof options.schema !== 'string' || options.schema === '')) throw new LtmError('invalid_argument', 'supabase: schema must be a schema name')

    let supabase: typeof import('@supabase/supabase-js')
    try {
      supabase = await import('@supabase/supabase-js')
    } catch (error) {
      throw new LtmFailure('dependency_missing', 'supabase: @supabase/supabase-js is not installed. Install it with: npm install @supabase/supabase-js', undefined, { cause: error })
    }
    const transport = createTransport({
      name: 'supabase',
      fetch: options.fetch,
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      onRequest: options.onRequest,
      secrets: [options.key, typeof token === 'string' ? token : undefined],
      // Every call is a POST to /rest/v1/rpc/<fn>; the read-only functions are safe to send twice.
      idempotent: (method, requestUrl) => method === 'POST' && READ_FUNCTIONS.has(new URL(requestUrl).pathname.split('/').pop() ?? ''),
      // PostgREST's own answers carry a code the backend classifies; a gateway's 401/429 does not.
      passThrough: (_status, body) => isPostgrestError(body),
    })
    const client = supabase.createClient(options.url, options.key, {
      // Setting accessToken also keeps supabase-js from starting its Auth client (storage, timers):
      // null falls back to the key.
      accessToken: async () => (typeof token === 'function' ? await token() : token) ?? null,
      global: { fetch: transport.fetch },
      db: { schema: options.schema ?? 'public' },
      realtime: { transport: NoRealtime as never },
    })
    return SupabaseMemoryBackend.open(client as unknown as SupabaseRpcClient, transport)
  },
}

import { LtmFailure } from '../core/errors.js'
import type { ErrorType } from '../core/types.js'

/** PostgREST's error body: a PGRST code or a PostgreSQL SQLSTATE, with PostgreSQL's message, details and hint. */
export interface PostgrestErrorBody {
  code: string
  message: string
  details?: string | null
  hint?: string | null
}

/** True for a body PostgREST wrote (`{ code, message, ... }`): the backend classifies those itself. */
export function isPostgrestError(body: Uint8Array): boolean {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as Partial<PostgrestErrorBody> | null
    return typeof parsed?.code === 'string' && parsed.code !== '' && typeof parsed.message === 'string'
  } catch {
    return false
  }
}

const SETUP_HINT = 'run the SQL that `npx agent-ltm supabase-sql` prints (or supabase/agent-ltm.sql from the package) once in the project\'s SQL editor'

/** What an error code means for the caller, and what to tell them. Codes only, never message text. */
function classify(code: string): { type: ErrorType; advice: string } {
  if (/^PGRST30\d$/.test(code)) return { type: 'auth_failed', advice: 'the access token was refused: pass a valid, unexpired accessToken of a signed-in user' }
  if (code === 'PGRST202' || code === 'PGRST205' || code === '42883' || code === '42P01' || code === '3F000') {
    return { type: 'backend_error', advice: `agent-ltm's tables or functions are missing or out of date: ${SETUP_HINT}` }
  }
  if (code === 'PGRST106') return { type: 'backend_error', advice: 'that schema is not exposed by the Data API: use the schema agent-ltm\'s SQL was run in (default public)' }
  if (/^PGRST00\d$/.test(code)) return { type: 'connection_timeout', advice: 'the Data API could not reach the database; retry later' }
  if (code === '42501' || code.startsWith('28')) {
    return { type: 'auth_failed', advice: 'permission denied: memories belong to a signed-in user; pass accessToken (the user\'s JWT). The anon key alone has none' }
  }
  if (code.startsWith('22') || code === '54000') {
    return { type: 'invalid_input', advice: 'PostgreSQL refused a value (its text cannot hold the character \\u0000; sizes are limited); nothing was written' }
  }
  if (code === '57014') return { type: 'connection_timeout', advice: 'the query ran past the database\'s statement_timeout; nothing was written' }
  if (code === '55P03') return { type: 'lock_timeout', advice: 'another transaction held a lock too long; retry' }
  if (code.startsWith('40') || code.startsWith('23')) return { type: 'conflict', advice: 'a concurrent writer conflicted with this one; nothing was written: run it again' }
  if (code === '53100') return { type: 'quota_exceeded', advice: 'the database is out of disk space' }
  return { type: 'backend_error', advice: '' }
}

/**
 * Turns whatever a supabase-js call threw into one LtmFailure: transport failures (already typed)
 * pass through; PostgREST's answers are classified by their code; anything else is backend_error.
 */
export function supabaseFailure(error: unknown, operation: string, redact: (text: string) => string): LtmFailure {
  if (error instanceof LtmFailure) return error
  const body = error as Partial<PostgrestErrorBody> | null
  if (typeof body?.code === 'string' && body.code !== '') {
    const { type, advice } = classify(body.code)
    const said = [body.message, body.details, body.hint].filter((part) => typeof part === 'string' && part !== '').join('; ')
    return new LtmFailure(type, redact(`supabase: ${operation}: ${advice ? `${advice} (` : ''}PostgREST answered ${body.code}: ${said}${advice ? ')' : ''}`), undefined, { cause: error })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new LtmFailure('backend_error', redact(`supabase: ${operation}: unexpected answer: ${message.slice(0, 300)}`), undefined, { cause: error })
}

import type { ErrorType, Failure } from './types.js'

/** Why an `LtmError` was thrown: only for programmer errors, never for expected failures. */
export type LtmErrorCode = 'closed' | 'invalid_argument' | 'transaction_misuse'

/**
 * Thrown for programmer errors only (use after close, an invalid namespace name, misuse of a
 * transaction handle). Expected failures are returned as `{ success: false, error_type }` results.
 */
export class LtmError extends Error {
  override readonly name = 'LtmError'
  constructor(
    readonly code: LtmErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/**
 * An expected failure raised inside the SDK and turned into a result at the public boundary.
 * Engines map native errors to this once; the core never inspects message text.
 */
export class LtmFailure extends Error {
  override readonly name = 'LtmFailure'
  constructor(
    readonly errorType: ErrorType,
    message: string,
    readonly retryAfter?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }

  toResult(): Failure {
    const failure: Failure = { success: false, error: this.message, error_type: this.errorType }
    if (this.retryAfter !== undefined) failure.retry_after = this.retryAfter
    return failure
  }
}

export function invalidInput(message: string): LtmFailure {
  return new LtmFailure('invalid_input', message)
}

/** Turns anything thrown below the public API into a failure result; rethrows programmer errors. */
export function toFailure(error: unknown, backend: string): Failure {
  if (error instanceof LtmFailure) return error.toResult()
  if (error instanceof LtmError) throw error
  const message = error instanceof Error ? error.message : String(error)
  return { success: false, error: `${backend}: unexpected backend error: ${message}`, error_type: 'backend_error' }
}

/**
 * Makes an interactive transaction exclusive on one handle: while it is open, other calls wait
 * (the executor contract), without serialising ordinary calls against each other.
 */
export class TransactionGate {
  #open: Promise<void> | null = null

  /** Resolves when no transaction is open. */
  async idle(): Promise<void> {
    while (this.#open) await this.#open
  }

  /** Waits for the gate, closes it, and returns the function that opens it again (idempotent). */
  async enter(): Promise<() => void> {
    // Checked and taken in the same turn: two waiters woken together cannot both get in.
    while (this.#open) await this.#open
    let release!: () => void
    this.#open = new Promise((resolve) => (release = resolve))
    let released = false
    return () => {
      if (released) return
      released = true
      this.#open = null
      release()
    }
  }
}

/**
 * Keeps a handle's calls in the order they were made when they travel as independent HTTP
 * requests: a write starts once every earlier call has finished, a read once every earlier write
 * has; reads between two writes run concurrently. Without it, `store(k, 1); store(k, 2)` issued
 * together could land in either order.
 */
export class IssueOrder {
  #lastWrite: Promise<unknown> = Promise.resolve()
  #reads = new Set<Promise<unknown>>()

  read<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lastWrite.then(fn, fn)
    const settled = run.then(
      () => undefined,
      () => undefined,
    )
    this.#reads.add(settled)
    void settled.then(() => this.#reads.delete(settled))
    return run
  }

  write<T>(fn: () => Promise<T>): Promise<T> {
    const earlier = Promise.all([this.#lastWrite, ...this.#reads].map((p) => p.catch(() => undefined)))
    this.#reads.clear()
    const run = earlier.then(fn)
    this.#lastWrite = run.catch(() => undefined)
    return run
  }
}

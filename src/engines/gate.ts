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

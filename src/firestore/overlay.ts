import type { MemoryDoc, ServerMemory } from './model.js'
import { inRange } from './rank.js'
import { addDelta, deltaOf, type Change, type Delta } from './store.js'

/**
 * A transaction's own writes, kept in the SDK until its commit: Firestore applies a transaction's
 * writes only at commit, so reads inside it would not see them. Every read in the transaction
 * goes to Firestore inside the transaction (locking what it read) and is then corrected by this
 * overlay: memories it wrote or deleted replace the server's version, and BM25 statistics (N,
 * total length, df, a prefix's document count) move by exactly what its writes change.
 */
export interface OverlayEntry {
  id: string
  ns: string
  /** The version on the server, read inside the transaction (null: absent). */
  base: ServerMemory | null
  /** What the transaction made of it (null: absent or deleted). */
  current: MemoryDoc | null
}

export class Overlay {
  readonly entries = new Map<string, OverlayEntry>()
  /** Server versions read in this transaction (null: absent); writes start from these. */
  readonly seen = new Map<string, ServerMemory | null>()

  /** What the transaction sees for `id`; undefined when it has not been read yet. */
  state(id: string): MemoryDoc | null | undefined {
    const entry = this.entries.get(id)
    if (entry) return entry.current
    return this.seen.get(id)
  }

  set(id: string, ns: string, current: MemoryDoc | null): void {
    const existing = this.entries.get(id)
    if (existing) existing.current = current
    else this.entries.set(id, { id, ns, base: this.seen.get(id) ?? null, current })
  }

  inNamespace(ns: string): OverlayEntry[] {
    return [...this.entries.values()].filter((entry) => entry.ns === ns)
  }

  /** How the transaction's writes change the namespace's statistics. */
  delta(ns: string): Delta {
    const total: Delta = { docCount: 0, tokenCount: 0, df: new Map() }
    for (const entry of this.inNamespace(ns)) addDelta(total, deltaOf(entry.base, entry.current))
    return total
  }

  /** Change in the number of the namespace's memories holding any term in [lo, hi). */
  rangeCountDelta(ns: string, lo: string, hi: string): number {
    const holds = (doc: MemoryDoc | null): number => (doc && doc.terms.some((term) => inRange(term, lo, hi)) ? 1 : 0)
    return this.inNamespace(ns).reduce((sum, entry) => sum + holds(entry.current) - holds(entry.base), 0)
  }

  changes(): Change[] {
    return [...this.entries.values()].filter((entry) => entry.current !== entry.base).map(({ id, ns, base, current }) => ({ id, ns, before: base, after: current }))
  }
}

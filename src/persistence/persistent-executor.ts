import { sqliteFailure } from '../engines/sqlite-errors.js'
import type { SqlJsExecutor } from '../engines/sqljs.js'
import { endTransaction, type ConnectionLock } from '../engines/sync-executor.js'
import type { BatchMode, SqlExecutor, SqlResult, SqlStatement, SqlTransaction } from '../engines/types.js'
import type { IndexedDbChangeLog, LogEntry } from './indexeddb-log.js'

const TOTAL_CHANGES: SqlStatement = { sql: 'SELECT total_changes() AS n', args: [] }
/** Compact once the log since the last image holds this many bytes, or half the image, whichever is larger. */
const MIN_COMPACTION_BYTES = 256 * 1024

export interface PersistentExecutorOptions {
  name: string
  /** Reported by stats(). */
  persist: 'opfs' | 'indexeddb'
  log: IndexedDbChangeLog
  /** Opens a sql.js database from an image (null: empty). */
  openEngine(image: Uint8Array | null): Promise<SqlJsExecutor>
}

/** Cross-tab coordination, where the browser has it: Web Locks serialise writers across tabs and workers. */
interface TabCoordination {
  withWriteLock<T>(fn: () => Promise<T>): Promise<T>
}

function tabCoordination(name: string): TabCoordination {
  const locks = (globalThis.navigator as { locks?: { request<T>(name: string, fn: () => Promise<T>): Promise<T> } } | undefined)?.locks
  return { withWriteLock: (fn) => (locks ? locks.request(`agent-ltm:${name}`, fn) : fn()) }
}

/**
 * A sql.js database made durable by an IndexedDB change log: every batch that changed something is
 * appended (its own statements) before its promise resolves, and replayed in order on open. SQL
 * writes are deterministic here (timestamps are bound parameters), so replay rebuilds the same
 * database. The in-memory write commits only after the log append succeeded, so a failed append
 * (quota, a closed tab) leaves memory and storage alike.
 */
export class PersistentExecutor implements SqlExecutor {
  readonly capabilities = { interactiveTransactions: true }
  readonly engine: string
  #lastSeq = 0
  #logBytes = 0
  #imageBytes = 0
  #catchUps: Promise<void> = Promise.resolve()
  #compacting: Promise<void> | null = null
  #tabs: TabCoordination

  private constructor(
    private inner: SqlJsExecutor,
    private readonly options: PersistentExecutorOptions,
  ) {
    this.#tabs = tabCoordination(options.name)
    this.engine = `sql.js+${options.persist}`
  }

  static async open(options: PersistentExecutorOptions): Promise<PersistentExecutor> {
    const { snapshot, entries } = await options.log.load()
    const executor = new PersistentExecutor(await options.openEngine(snapshot.image), options)
    executor.#lastSeq = snapshot.seq
    executor.#imageBytes = snapshot.image?.length ?? 0
    await executor.#replay(entries)
    return executor
  }

  async #replay(entries: LogEntry[]): Promise<void> {
    for (const entry of entries) {
      await this.inner.batch(entry.statements)
      this.#lastSeq = entry.seq
      this.#logBytes += JSON.stringify(entry.statements).length
    }
  }

  /** Applies what other tabs wrote; reloads from the image if one of them compacted past this tab's position. */
  async #catchUp(): Promise<void> {
    const { imageSeq, entries } = await this.options.log.changesSince(this.#lastSeq)
    const contiguous = entries.length === 0 || entries[0]!.seq === this.#lastSeq + 1
    if (imageSeq <= this.#lastSeq && contiguous) {
      await this.#replay(entries)
      return
    }
    const { snapshot, entries: all } = await this.options.log.load()
    await this.inner.close()
    this.inner = await this.options.openEngine(snapshot.image)
    this.#lastSeq = snapshot.seq
    this.#imageBytes = snapshot.image?.length ?? 0
    this.#logBytes = 0
    await this.#replay(all)
  }

  /** Runs statements inside BEGIN on a held connection; returns their results and whether they changed anything. */
  #run(lock: ConnectionLock, statements: SqlStatement[]): { results: SqlResult[]; changed: boolean } {
    const all = lock.atomic([TOTAL_CHANGES, ...statements, TOTAL_CHANGES], true)
    const before = Number(all[0]?.rows[0]?.n ?? 0)
    const after = Number(all[all.length - 1]?.rows[0]?.n ?? 0)
    return { results: all.slice(1, -1), changed: after !== before }
  }

  async #append(statements: SqlStatement[]): Promise<void> {
    this.#lastSeq = await this.options.log.append(statements)
    this.#logBytes += JSON.stringify(statements).length
    if (this.#logBytes > Math.max(MIN_COMPACTION_BYTES, this.#imageBytes / 2)) this.#scheduleCompaction()
  }

  /**
   * Catch-ups run one at a time, so two concurrent reads never apply the same entry twice. Every read
   * does one (a small IndexedDB read): a write another tab acknowledged must be visible to this tab's
   * next read, and a notice over BroadcastChannel can arrive late in a busy or background tab.
   */
  #serialisedCatchUp(): Promise<void> {
    const run = this.#catchUps.then(() => this.#catchUp())
    this.#catchUps = run.catch(() => undefined)
    return run
  }

  async batch(statements: SqlStatement[], mode: BatchMode = 'write'): Promise<SqlResult[]> {
    await this.#compacting
    if (mode === 'read') {
      await this.#serialisedCatchUp()
      return this.inner.batch(statements, 'read')
    }
    // Writes are serialised across tabs and applied on top of every other tab's writes.
    return this.#tabs.withWriteLock(async () => {
      await this.#serialisedCatchUp()
      const lock = await this.inner.lock()
      try {
        lock.exec('BEGIN IMMEDIATE')
        try {
          const { results, changed } = this.#run(lock, statements)
          if (changed) await this.#append(statements)
          lock.exec('COMMIT')
          return results
        } catch (error) {
          lock.exec('ROLLBACK')
          throw error
        }
      } finally {
        lock.release()
      }
    })
  }

  async begin(): Promise<SqlTransaction> {
    await this.#compacting
    let releaseTabs!: () => void
    const tabLockHeld = new Promise<void>((resolve) => {
      void this.#tabs.withWriteLock(
        () =>
          new Promise<void>((release) => {
            releaseTabs = release
            resolve()
          }),
      )
    })
    await tabLockHeld
    await this.#serialisedCatchUp()
    const lock = await this.inner.lock()
    const written: SqlStatement[] = []
    const finish = (): void => releaseTabs()
    try {
      lock.exec('BEGIN IMMEDIATE')
    } catch (error) {
      lock.release()
      finish()
      throw error
    }
    return {
      batch: async (statements) => {
        const { results, changed } = this.#run(lock, statements)
        if (changed) written.push(...statements)
        return results
      },
      commit: async () => {
        try {
          if (written.length > 0) await this.#append(written)
        } catch (error) {
          endTransaction(lock, 'ROLLBACK')
          finish()
          throw error
        }
        try {
          endTransaction(lock, 'COMMIT')
        } finally {
          finish()
        }
      },
      rollback: async () => {
        try {
          endTransaction(lock, 'ROLLBACK')
        } finally {
          finish()
        }
      },
    }
  }

  #scheduleCompaction(): void {
    if (this.#compacting) return
    this.#compacting = (async () => {
      await Promise.resolve()
      await this.#tabs.withWriteLock(async () => {
        const lock = await this.inner.lock()
        try {
          const image = this.inner.export()
          await this.options.log.compact(image, this.#lastSeq)
          this.#imageBytes = image.length
          this.#logBytes = 0
        } finally {
          lock.release()
        }
      })
    })()
      .catch(() => {
        // A failed compaction loses nothing: the old image and the full log are still there.
      })
      .finally(() => {
        this.#compacting = null
      })
  }

  /** Writes the current image now (tests, and before a page goes away on purpose). */
  async compact(): Promise<void> {
    this.#logBytes = Number.POSITIVE_INFINITY
    this.#scheduleCompaction()
    await this.#compacting
  }

  async stats(): Promise<Record<string, unknown>> {
    const base = (await this.inner.stats()) ?? {}
    return { ...base, persist: this.options.persist, log_seq: this.#lastSeq, log_bytes_since_image: this.#logBytes, image_bytes: this.#imageBytes }
  }

  async close(): Promise<void> {
    await this.#compacting
    this.options.log.close()
    try {
      await this.inner.close()
    } catch (error) {
      throw sqliteFailure(error, this.engine)
    }
  }
}

import { sqliteFailure } from '../engines/sqlite-errors.js'
import type { SqlJsExecutor } from '../engines/sqljs.js'
import { endTransaction, type ConnectionLock } from '../engines/sync-executor.js'
import type { BatchMode, SqlExecutor, SqlResult, SqlStatement, SqlTransaction } from '../engines/types.js'
import type { IndexedDbChangeLog, LogEntry } from './indexeddb-log.js'

const TOTAL_CHANGES: SqlStatement = { sql: 'SELECT total_changes() AS n', args: [] }
/**
 * Compaction policy. An open costs loading the image plus replaying the log at write speed; a
 * compaction costs exporting and storing the image. Compacting once the log's replay time reaches
 * the measured cost of a compaction bounds the replay an open can meet by that cost, and keeps the
 * time spent compacting at most the time spent writing (a bulk fill compacts often while the image
 * is small and rarely once it is big). The byte bound keeps the log's storage in proportion too.
 */
const MIN_REPLAY_MS = 50
const MIN_LOG_BYTES = 8 * 1024 * 1024
/** Compaction cost assumed before this tab has measured one (export plus write, per MiB of image). */
const ASSUMED_COMPACTION_MS_PER_MIB = 10

const now = (): number => globalThis.performance?.now() ?? Date.now()

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
  /** Time the writes in the log since the image took to execute: what an open would spend replaying them. */
  #logReplayMs = 0
  #imageBytes = 0
  #lastCompactionMs: number | null = null
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
      const started = now()
      await this.inner.batch(entry.statements)
      this.#lastSeq = entry.seq
      this.#logBytes += JSON.stringify(entry.statements).length
      this.#logReplayMs += now() - started
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
    this.#logReplayMs = 0
    await this.#replay(all)
  }

  /** Runs statements inside BEGIN on a held connection; returns their results, whether they changed anything and how long they took. */
  #run(lock: ConnectionLock, statements: SqlStatement[]): { results: SqlResult[]; changed: boolean; ms: number } {
    const started = now()
    const all = lock.atomic([TOTAL_CHANGES, ...statements, TOTAL_CHANGES], true)
    const before = Number(all[0]?.rows[0]?.n ?? 0)
    const after = Number(all[all.length - 1]?.rows[0]?.n ?? 0)
    return { results: all.slice(1, -1), changed: after !== before, ms: now() - started }
  }

  async #append(statements: SqlStatement[], replayMs: number): Promise<void> {
    this.#lastSeq = await this.options.log.append(statements)
    this.#logBytes += JSON.stringify(statements).length
    this.#logReplayMs += replayMs
    if (this.#compactionDue()) this.#scheduleCompaction()
  }

  #compactionThresholdMs(): number {
    const estimate = this.#lastCompactionMs ?? (this.#imageBytes / 1048576) * ASSUMED_COMPACTION_MS_PER_MIB
    return Math.max(MIN_REPLAY_MS, estimate)
  }

  #compactionDue(): boolean {
    return this.#logReplayMs >= this.#compactionThresholdMs() || this.#logBytes >= Math.max(MIN_LOG_BYTES, this.#imageBytes)
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
          const { results, changed, ms } = this.#run(lock, statements)
          if (changed) await this.#append(statements, ms)
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
    let writtenMs = 0
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
        const { results, changed, ms } = this.#run(lock, statements)
        if (changed) {
          written.push(...statements)
          writtenMs += ms
        }
        return results
      },
      commit: async () => {
        try {
          if (written.length > 0) await this.#append(written, writtenMs)
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

  /**
   * Only the export holds the connection (sql.js exports synchronously, on this thread: its cost grows
   * with the database). Storing the image runs beside later reads and writes, which append after the
   * exported sequence number and so stay in the log; the change log refuses an image older than the
   * one stored, so two tabs compacting at once cannot roll the image back.
   */
  #scheduleCompaction(): void {
    if (this.#compacting) return
    this.#compacting = (async () => {
      // Let the write that triggered this resolve before the export takes the thread.
      await new Promise((resolve) => setTimeout(resolve, 0))
      const started = now()
      const engine = this.inner
      const lock = await engine.lock()
      let exported: { image: Uint8Array; seq: number; logBytes: number; logReplayMs: number }
      try {
        exported = { image: engine.export(), seq: this.#lastSeq, logBytes: this.#logBytes, logReplayMs: this.#logReplayMs }
      } finally {
        lock.release()
      }
      const stored = await this.options.log.compact(exported.image, exported.seq)
      this.#lastCompactionMs = now() - started
      // A catch-up that reloaded from another tab's newer image has already reset the counters.
      if (stored && this.inner === engine) {
        this.#imageBytes = exported.image.length
        this.#logBytes = Math.max(0, this.#logBytes - exported.logBytes)
        this.#logReplayMs = Math.max(0, this.#logReplayMs - exported.logReplayMs)
      }
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
    await this.#compacting
    if (this.#logBytes === 0) return
    this.#scheduleCompaction()
    await this.#compacting
  }

  async stats(): Promise<Record<string, unknown>> {
    const base = (await this.inner.stats()) ?? {}
    return {
      ...base,
      persist: this.options.persist,
      log_seq: this.#lastSeq,
      log_bytes_since_image: this.#logBytes,
      log_replay_ms: round(this.#logReplayMs),
      compaction_threshold_ms: round(this.#compactionThresholdMs()),
      image_bytes: this.#imageBytes,
    }
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

const round = (ms: number): number => Math.round(ms * 100) / 100

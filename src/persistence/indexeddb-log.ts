import { openDB, type DBSchema, type IDBPDatabase } from 'idb'
import { LtmFailure } from '../core/errors.js'
import type { SqlStatement } from '../engines/types.js'

/** One durable write: the statements that changed the database, replayed in order on open. */
export interface LogEntry {
  seq: number
  statements: SqlStatement[]
}

/** The last compacted database image (inline, or a file in OPFS) and the last log entry it contains. */
export interface Snapshot {
  image: Uint8Array | null
  /** Name of the image file in OPFS, when images are kept there. */
  file?: string
  seq: number
}

/** Where images live when not inline in IndexedDB (OPFS). */
export interface ImageFiles {
  read(file: string): Promise<Uint8Array>
  write(image: Uint8Array, seq: number): Promise<string>
  remove(file: string): Promise<void>
}

/** The small record read on every catch-up; the image bytes live apart so that read stays cheap. */
interface SnapshotPointer {
  seq: number
  /** OPFS file name of the image. */
  file?: string
  /** Key of the image in the `images` store. */
  image?: string
  /** Version 1 stores: the image is the snapshot store's 'image' record. */
  inline?: boolean
}

interface ChangeLogSchema extends DBSchema {
  log: { key: number; value: { statements: SqlStatement[] } }
  snapshot: { key: 'current' | 'image'; value: SnapshotPointer | Uint8Array }
  /**
   * Images kept in IndexedDB, in a store of their own: writing one (megabytes) in a transaction
   * apart from `snapshot` and `log` lets the catch-up reads and appends of other calls proceed
   * meanwhile, since IndexedDB orders only transactions whose stores overlap.
   */
  images: { key: string; value: Uint8Array }
}

const DATABASE_VERSION = 2

/**
 * A database kept in IndexedDB as a snapshot image plus an append-only log of write batches. A
 * write costs one small log record (its own statements), not a copy of the database; compaction
 * writes a new image and drops the log entries it covers in one IndexedDB transaction, so a crash
 * leaves either the old image and its log or the new image, never a mix.
 */
export class IndexedDbChangeLog {
  private constructor(
    private readonly db: IDBPDatabase<ChangeLogSchema>,
    private readonly durability: 'strict' | 'relaxed',
    private readonly files: ImageFiles | null,
  ) {}

  /** `files`: keep images there (OPFS) instead of inline in IndexedDB; the log stays in IndexedDB. */
  static async open(name: string, durability: 'strict' | 'relaxed', files: ImageFiles | null = null): Promise<IndexedDbChangeLog> {
    if (typeof indexedDB === 'undefined') {
      throw new LtmFailure('dependency_missing', `sqlite (browser): IndexedDB is not available here; pass persist: 'memory' to keep memories only for this session`)
    }
    try {
      // The kind of image storage is part of the store's identity: an IndexedDB-only store never
      // meets a pointer to an OPFS file it would not read.
      const database = files ? `agent-ltm:${name}:opfs` : `agent-ltm:${name}`
      const db = await openDB<ChangeLogSchema>(database, DATABASE_VERSION, {
        upgrade(database, oldVersion) {
          if (oldVersion < 1) {
            database.createObjectStore('log', { autoIncrement: true })
            database.createObjectStore('snapshot')
          }
          if (oldVersion < 2) database.createObjectStore('images')
        },
        // A tab of a newer version wants to upgrade: step aside (this tab's next call fails with a
        // storage error) rather than block it forever.
        blocking() {
          db.close()
        },
      })
      return new IndexedDbChangeLog(db, durability, files)
    } catch (error) {
      throw storageFailure(error, `opening the IndexedDB database of store ${name}`)
    }
  }

  async load(): Promise<{ snapshot: Snapshot; entries: LogEntry[] }> {
    try {
      const tx = this.db.transaction(['snapshot', 'log', 'images'], 'readonly')
      const pointer = ((await tx.objectStore('snapshot').get('current')) as SnapshotPointer | undefined) ?? { seq: 0 }
      const inline = pointer.image
        ? ((await tx.objectStore('images').get(pointer.image)) ?? null)
        : pointer.inline
          ? (((await tx.objectStore('snapshot').get('image')) as Uint8Array | undefined) ?? null)
          : null
      const entries = await this.#entriesAfter(pointer.seq, tx.objectStore('log'))
      await tx.done
      if (pointer.file && this.files) return { snapshot: { image: await this.files.read(pointer.file), file: pointer.file, seq: pointer.seq }, entries }
      return { snapshot: { image: inline, seq: pointer.seq }, entries }
    } catch (error) {
      throw storageFailure(error, 'reading the stored database')
    }
  }

  /** What was written after `seq`, and the sequence number the current image covers (in one read). */
  async changesSince(seq: number): Promise<{ imageSeq: number; entries: LogEntry[] }> {
    try {
      const tx = this.db.transaction(['snapshot', 'log'], 'readonly')
      const pointer = (await tx.objectStore('snapshot').get('current')) as SnapshotPointer | undefined
      const entries = await this.#entriesAfter(seq, tx.objectStore('log'))
      await tx.done
      return { imageSeq: pointer?.seq ?? 0, entries }
    } catch (error) {
      throw storageFailure(error, 'reading the change log')
    }
  }

  async #entriesAfter(seq: number, store: { openCursor(range: IDBKeyRange): Promise<{ key: number; value: { statements: SqlStatement[] }; continue(): Promise<unknown> } | null> }): Promise<LogEntry[]> {
    const entries: LogEntry[] = []
    let cursor = await store.openCursor(IDBKeyRange.lowerBound(seq, true))
    while (cursor) {
      entries.push({ seq: cursor.key, statements: cursor.value.statements })
      cursor = (await cursor.continue()) as typeof cursor
    }
    return entries
  }

  /** Appends one write; resolves once IndexedDB reports it committed with the configured durability. */
  async append(statements: SqlStatement[]): Promise<number> {
    try {
      const tx = this.db.transaction('log', 'readwrite', { durability: this.durability })
      const seq = await tx.store.add({ statements })
      await tx.done
      return seq
    } catch (error) {
      throw storageFailure(error, 'saving a change')
    }
  }

  /**
   * Stores a new image covering the log up to `seq` and drops those entries. The image is written
   * first, beside the old one (an OPFS file or an `images` record); then one small transaction
   * switches the pointer and drops the log it covers, so a crash leaves the old image and its log
   * or the new image, never a mix. Returns false, keeping nothing, when the stored image already
   * covers `seq` (another tab compacted later).
   */
  async compact(image: Uint8Array, seq: number): Promise<boolean> {
    let file: string | undefined
    let imageKey: string | undefined
    if (this.files) {
      file = await this.files.write(image, seq)
    } else {
      imageKey = `${seq}-${Math.random().toString(36).slice(2, 10)}`
      try {
        const write = this.db.transaction('images', 'readwrite', { durability: this.durability })
        await write.store.put(image, imageKey)
        await write.done
      } catch (error) {
        throw storageFailure(error, 'writing the compacted image')
      }
    }
    const discard = async (): Promise<void> => {
      if (file) await this.files!.remove(file)
      if (imageKey) await this.#removeImage(imageKey)
    }
    let previous: SnapshotPointer | undefined
    try {
      const tx = this.db.transaction(['snapshot', 'log'], 'readwrite', { durability: this.durability })
      const snapshots = tx.objectStore('snapshot')
      previous = (await snapshots.get('current')) as SnapshotPointer | undefined
      if ((previous?.seq ?? 0) >= seq) {
        await tx.done
        await discard()
        return false
      }
      await snapshots.put(file ? { seq, file } : { seq, image: imageKey! }, 'current')
      if (previous?.inline) await snapshots.delete('image')
      await tx.objectStore('log').delete(IDBKeyRange.upperBound(seq))
      await tx.done
    } catch (error) {
      await discard()
      throw storageFailure(error, 'compacting the stored database')
    }
    if (previous?.file && previous.file !== file) await this.files?.remove(previous.file)
    if (previous?.image) await this.#removeImage(previous.image)
    return true
  }

  /** Best effort: an image left behind is only wasted space, never read again. */
  async #removeImage(key: string): Promise<void> {
    try {
      const tx = this.db.transaction('images', 'readwrite')
      await tx.store.delete(key)
      await tx.done
    } catch {
      // see above
    }
  }

  close(): void {
    this.db.close()
  }
}

/** Browser storage errors to result types: a full quota is `quota_exceeded`, the rest `backend_error`. */
export function storageFailure(error: unknown, doing: string): LtmFailure {
  if (error instanceof LtmFailure) return error
  const name = (error as { name?: string })?.name
  const message = error instanceof Error ? error.message : String(error)
  if (name === 'QuotaExceededError') {
    return new LtmFailure('quota_exceeded', `sqlite (browser): storage quota exceeded while ${doing}; free space or delete old memories (nothing stored before was lost)`, undefined, { cause: error })
  }
  return new LtmFailure('backend_error', `sqlite (browser): ${doing} failed: ${name ?? 'Error'}: ${message}`, undefined, { cause: error })
}

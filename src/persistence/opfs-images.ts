import { storageFailure } from './indexeddb-log.js'

/** The subset of the Origin Private File System API this module calls. */
interface OpfsFile {
  getFile(): Promise<{ arrayBuffer(): Promise<ArrayBuffer> }>
  createWritable(): Promise<{ write(data: Uint8Array): Promise<void>; close(): Promise<void> }>
}
interface OpfsDirectory {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectory>
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFile>
  removeEntry(name: string): Promise<void>
}
type StorageWithOpfs = { getDirectory?(): Promise<OpfsDirectory> }

export function opfsAvailable(): boolean {
  return typeof (globalThis.navigator?.storage as StorageWithOpfs | undefined)?.getDirectory === 'function'
}

/**
 * Database images as files in the Origin Private File System: `agent-ltm/<name>/image-<seq>-<random>.sqlite`.
 * A new image is written beside the old one; the IndexedDB pointer switches to it in the same
 * transaction that drops the log it covers, and only then is the old file removed.
 */
export class OpfsImages {
  private constructor(private readonly directory: OpfsDirectory) {}

  static async open(name: string): Promise<OpfsImages> {
    try {
      const root = await (globalThis.navigator.storage as StorageWithOpfs).getDirectory!()
      const base = await root.getDirectoryHandle('agent-ltm', { create: true })
      return new OpfsImages(await base.getDirectoryHandle(encodeURIComponent(name), { create: true }))
    } catch (error) {
      throw storageFailure(error, 'opening the Origin Private File System')
    }
  }

  async read(file: string): Promise<Uint8Array> {
    try {
      const handle = await this.directory.getFileHandle(file)
      return new Uint8Array(await (await handle.getFile()).arrayBuffer())
    } catch (error) {
      throw storageFailure(error, `reading ${file} from the Origin Private File System`)
    }
  }

  async write(image: Uint8Array, seq: number): Promise<string> {
    // Two tabs may export the same sequence number at once: each writes its own file.
    const file = `image-${seq}-${Math.random().toString(36).slice(2, 10)}.sqlite`
    try {
      const writable = await (await this.directory.getFileHandle(file, { create: true })).createWritable()
      await writable.write(image)
      await writable.close()
      return file
    } catch (error) {
      throw storageFailure(error, `writing ${file} to the Origin Private File System`)
    }
  }

  /** Best effort: a file left behind is only wasted space, never read again. */
  async remove(file: string): Promise<void> {
    await this.directory.removeEntry(file).catch(() => undefined)
  }
}

/** `export` and `import`: memories as JSON lines, one MemoryRecord per line. */
import { createReadStream, createWriteStream } from 'node:fs'
import { access, rename, rm } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { LtmError, LtmFailure } from '../core/errors.js'
import type { BatchEntry, Failure, LTM } from '../core/types.js'
import type { Context } from './commands.js'
import { EXIT, printFailure, printJson, println, progressBar } from './output.js'

/** Lines per storeBatch; a batch also ends where the namespace changes. */
export const IMPORT_BATCH_SIZE = 500

/** A failure that is not an SDK result (a file that cannot be read or written). */
function ioFailure(ctx: Context, what: string, error: unknown): number {
  // Node's "ENOENT: no such file or directory, open '/x.tmp'" without the (maybe temporary) path.
  const reason = (error as NodeJS.ErrnoException).code ? String((error as Error).message).split(', ')[0] : String((error as Error).message)
  const message = `${what}: ${reason}`
  if (ctx.out.json) printJson(ctx.out, { success: false, error: message })
  println(ctx.out.stderr, `error: ${message}`)
  return EXIT.failure
}

export async function exportCommand(ctx: Context): Promise<number> {
  const ltm = await ctx.open()
  const target = ctx.values.out
  let count = 0
  async function* lines(): AsyncGenerator<string> {
    for await (const record of ltm.iterateAll({ includeDescendants: true })) {
      count++
      yield `${JSON.stringify(record)}\n`
    }
  }
  // A file is written under a temporary name and renamed at the end, so a failed export leaves no partial file.
  const temporary = target === undefined ? undefined : `${target}.${process.pid}.tmp`
  try {
    if (temporary === undefined) await pipeline(Readable.from(lines()), ctx.out.stdout, { end: false })
    else {
      await pipeline(Readable.from(lines()), createWriteStream(temporary))
      await rename(temporary, target!)
    }
  } catch (error) {
    if (temporary !== undefined) await rm(temporary, { force: true })
    if (error instanceof LtmFailure) return printFailure(ctx.out, error.toResult())
    if (error instanceof LtmError) throw error
    return ioFailure(ctx, `cannot write ${target ?? 'stdout'}`, error)
  }
  if (target !== undefined) {
    if (ctx.out.json) printJson(ctx.out, { success: true, exported_count: count, out: target })
    else println(ctx.out.stdout, `exported ${count} ${count === 1 ? 'memory' : 'memories'} to ${target}`)
  }
  return EXIT.ok
}

/** Lines in a file, counted without parsing (for the progress total). */
async function countLines(path: string): Promise<number> {
  let count = 0
  let last = 10
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) count++
    if (chunk.length > 0) last = chunk[chunk.length - 1]!
  }
  return last === 10 ? count : count + 1
}

interface ParsedLine {
  namespace: string
  entry: BatchEntry
}

/** One export line as a batch entry, or why it cannot be one. The SDK checks key, value and metadata further. */
function parseLine(text: string, root: LTM, defaultNamespace: string): ParsedLine | string {
  let record: unknown
  try {
    record = JSON.parse(text)
  } catch (error) {
    return `invalid JSON (${(error as Error).message})`
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return 'expected a JSON object like {"key":"k","value":1}'
  const { namespace = defaultNamespace, key, value, metadata, expires_at } = record as Record<string, unknown>
  if (typeof key !== 'string') return 'expected a string "key"'
  if (value === undefined) return 'expected a "value"'
  if (typeof namespace !== 'string') return '"namespace" must be a string'
  if (expires_at !== undefined && expires_at !== null && typeof expires_at !== 'string') return '"expires_at" must be an ISO date string or null'
  if (namespace !== '') {
    try {
      root.namespace(namespace)
    } catch (error) {
      if (error instanceof LtmError) return error.message
      throw error
    }
  }
  const entry: BatchEntry = { key, value: value as BatchEntry['value'], metadata: metadata as BatchEntry['metadata'] }
  if (typeof expires_at === 'string') entry.expiresAt = expires_at
  return { namespace, entry }
}

/**
 * Imports JSON lines. Each batch (up to 500 lines of one namespace) is one storeBatch, so it is
 * stored whole or not at all; the first bad line stops the import and names its line number.
 * Lines without a "namespace" go to --namespace.
 */
export async function importCommand(ctx: Context): Promise<number> {
  const [source] = ctx.args as [string]
  const fromStdin = source === '-'
  if (!fromStdin) {
    try {
      await access(source)
    } catch (error) {
      return ioFailure(ctx, `cannot read ${source}`, error)
    }
  }
  const total = !fromStdin && ctx.out.stderr.isTTY ? await countLines(source) : null
  const root = await ctx.open('')
  const progress = progressBar(ctx.out, total)
  let batch: { namespace: string; entries: BatchEntry[]; firstLine: number; lastLine: number } | null = null
  let imported = 0
  let stored = 0
  let lineNumber = 0

  const fail = (failure: Failure, line?: number): number => {
    progress.end()
    const from = batch?.firstLine ?? line ?? lineNumber
    const code = printFailure(ctx.out, { ...failure, ...(line === undefined ? {} : { line }), imported_count: imported })
    println(ctx.out.stderr, `${imported} ${imported === 1 ? 'memory was' : 'memories were'} imported before line ${from}; nothing from line ${from} on was stored`)
    return code
  }
  const flush = async (): Promise<Failure | null> => {
    if (batch === null) return null
    const target = batch.namespace === '' ? root : root.namespace(batch.namespace)
    const result = await target.storeBatch(batch.entries)
    if (!result.success) {
      const lines = batch.firstLine === batch.lastLine ? `line ${batch.firstLine}` : `lines ${batch.firstLine}-${batch.lastLine}`
      return { success: false, error: `${lines}: ${result.error}`, error_type: result.error_type }
    }
    imported += batch.entries.length
    stored += result.stored_count
    progress.update(batch.lastLine)
    batch = null
    return null
  }

  const input = fromStdin ? process.stdin : createReadStream(source)
  const lines = createInterface({ input, crlfDelay: Infinity })
  try {
    for await (const text of lines) {
      lineNumber++
      if (text.trim() === '') continue
      const parsed = parseLine(text, root, ctx.namespace)
      if (typeof parsed === 'string') return fail({ success: false, error: `line ${lineNumber}: ${parsed}`, error_type: 'invalid_input' }, lineNumber)
      if (batch !== null && (batch.namespace !== parsed.namespace || batch.entries.length >= IMPORT_BATCH_SIZE)) {
        const failure = await flush()
        if (failure) return fail(failure)
      }
      batch ??= { namespace: parsed.namespace, entries: [], firstLine: lineNumber, lastLine: lineNumber }
      batch.entries.push(parsed.entry)
      batch.lastLine = lineNumber
    }
    const failure = await flush()
    if (failure) return fail(failure)
  } catch (error) {
    if (error instanceof LtmFailure) return fail(error.toResult())
    if (error instanceof LtmError) throw error
    return ioFailure(ctx, `cannot read ${fromStdin ? 'stdin' : source}`, error)
  } finally {
    lines.close()
  }
  progress.update(lineNumber)
  progress.end()
  const result = { success: true, imported_count: imported, stored_count: stored, unchanged_count: imported - stored }
  if (ctx.out.json) printJson(ctx.out, result)
  else println(ctx.out.stdout, `imported ${imported} ${imported === 1 ? 'memory' : 'memories'} (${stored} stored, ${imported - stored} unchanged)`)
  return EXIT.ok
}

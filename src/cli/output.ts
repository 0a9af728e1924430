/** Output helpers shared by the CLI commands: JSON lines, aligned tables, previews, errors. */
import type { Writable } from 'node:stream'
import type { Failure, JsonValue } from '../core/types.js'

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3 } as const

/** A mistake in the command line: printed with a hint to --help, exit code 2. */
export class UsageError extends Error {}

export interface Output {
  readonly json: boolean
  readonly stdout: Writable & { isTTY?: boolean; columns?: number }
  readonly stderr: Writable & { isTTY?: boolean }
}

export function println(stream: Writable, text = ''): void {
  stream.write(`${text}\n`)
}

/** Writes one line and waits for the stream to drain when its buffer is full (large exports). */
export async function writeLine(stream: Writable, text: string): Promise<void> {
  if (!stream.write(`${text}\n`)) await new Promise<void>((resolve) => stream.once('drain', resolve))
}

export function printJson(out: Output, value: unknown): void {
  println(out.stdout, JSON.stringify(value))
}

/** Prints a failure result: `error: <message> (<error_type>)` on stderr, and the result on stdout with --json. */
export function printFailure<F extends Failure>(out: Output, failure: F): number {
  if (out.json) printJson(out, failure)
  println(out.stderr, `error: ${failure.error} (${failure.error_type})`)
  return EXIT.failure
}

/** A value on one line, shortened to `width` characters: strings as-is, anything else as JSON. */
export function preview(value: JsonValue, width: number): string {
  const text = (typeof value === 'string' ? value : JSON.stringify(value)).replace(/\s+/g, ' ').trim()
  return text.length <= width ? text : `${text.slice(0, Math.max(1, width - 1))}…`
}

/** A value for reading: strings as-is, anything else as indented JSON. */
export function pretty(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2)
}

/** Rows padded to aligned columns; columns listed in `right` are right-aligned (numbers). */
export function table(rows: string[][], right: number[] = []): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 && !right.includes(i) ? cell : right.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  '),
  )
}

/** `label: value` lines with the values aligned. */
export function fields(entries: [string, string][]): string[] {
  const width = Math.max(...entries.map(([label]) => label.length)) + 1
  return entries.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`)
}

/** A progress bar on stderr, drawn only when stderr is a terminal: `\r[#####     ] 1234/5000`. */
export function progressBar(out: Output, total: number | null): { update(done: number): void; end(): void } {
  const width = 20
  let drawn = -1
  return {
    update(done) {
      if (!out.stderr.isTTY || done === drawn) return
      drawn = done
      if (total === null || total === 0) out.stderr.write(`\r${done} lines`)
      else {
        const filled = Math.min(width, Math.round((done / total) * width))
        out.stderr.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`)
      }
    },
    end() {
      if (drawn >= 0) out.stderr.write('\n')
      drawn = -1
    },
  }
}

/** The CLI commands: one function each, and the table `agent-ltm` dispatches from. */
import { readFileSync } from 'node:fs'
import { supabaseSqlUrl } from '../supabase-sql.js'
import type { JsonValue, LTM, Metadata, MetadataFilter, StoreOptions } from '../core/types.js'
import { exportCommand, importCommand } from './transfer.js'
import { EXIT, UsageError, fields, preview, pretty, printFailure, printJson, println, table, type Output } from './output.js'

/** Option values after parsing; which ones a command accepts is in its table entry. */
export interface Values {
  db?: string
  namespace?: string
  json?: boolean
  metadata?: string
  ttl?: string
  filter?: string
  limit?: string
  all?: boolean
  out?: string
}

export interface Context {
  /** Positional arguments after the command name. */
  readonly args: string[]
  readonly values: Values
  readonly out: Output
  /** The namespace from --namespace ('' when absent). */
  readonly namespace: string
  /** Opens the database (once) and returns the view of `namespace` (default: --namespace). */
  open(namespace?: string): Promise<LTM>
}

export interface Command {
  /** Arguments and command-specific options, for help and usage errors. */
  readonly usage: string
  readonly summary: string
  readonly options: readonly (keyof Values)[]
  /** Minimum and maximum number of positional arguments. */
  readonly arity: readonly [number, number]
  run(ctx: Context): Promise<number>
}

/** A command-line value: JSON when it parses (`42`, `true`, `{"a":1}`), else the text itself. */
function parseValue(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue
  } catch {
    return text
  }
}

function parseJsonOption(name: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue
  } catch (error) {
    throw new UsageError(`${name} is not valid JSON (${(error as Error).message}): ${text}`)
  }
}

function parseNumberOption(name: string, text: string, integer: boolean): number {
  const number = Number(text)
  if (text.trim() === '' || !Number.isFinite(number) || (integer && !Number.isInteger(number))) {
    throw new UsageError(`${name} needs ${integer ? 'a whole number' : 'a number'}, got "${text}"`)
  }
  return number
}

async function store(ctx: Context): Promise<number> {
  const [key, text] = ctx.args as [string, string]
  const metadata = ctx.values.metadata === undefined ? undefined : parseJsonOption('--metadata', ctx.values.metadata)
  const options: StoreOptions = {}
  if (ctx.values.ttl !== undefined) options.ttl = parseNumberOption('--ttl', ctx.values.ttl, false)
  const ltm = await ctx.open()
  const result = await ltm.store(key, parseValue(text), metadata as Metadata | undefined, options)
  if (!result.success) return printFailure(ctx.out, result)
  if (ctx.out.json) printJson(ctx.out, result)
  else {
    const what = !result.stored ? 'unchanged (the same value and metadata are already stored)' : result.created ? 'stored (new)' : 'stored (updated)'
    const expiry = result.expires_at === null ? '' : `, expires ${result.expires_at}`
    println(ctx.out.stdout, `${JSON.stringify(result.key)}: ${what}${expiry}`)
  }
  return EXIT.ok
}

async function get(ctx: Context): Promise<number> {
  const [key] = ctx.args as [string]
  const ltm = await ctx.open()
  const result = await ltm.retrieve(key)
  if (!result.success) return printFailure(ctx.out, result)
  if (ctx.out.json) printJson(ctx.out, result)
  if (!result.found) {
    const where = ltm.namespaceName === '' ? 'the root namespace' : `namespace "${ltm.namespaceName}"`
    println(ctx.out.stderr, `not found: no memory ${JSON.stringify(key)} in ${where}`)
    return EXIT.notFound
  }
  if (!ctx.out.json) {
    const lines = fields([
      ['key', result.key],
      ['metadata', JSON.stringify(result.metadata)],
      ['created', result.created_at],
      ['updated', result.updated_at],
      ['expires', result.expires_at ?? 'never'],
    ])
    println(ctx.out.stdout, [pretty(result.value), '', ...lines].join('\n'))
  }
  return EXIT.ok
}

async function search(ctx: Context): Promise<number> {
  const query = ctx.args.join(' ').trim() || null
  const filter = ctx.values.filter === undefined ? null : parseJsonOption('--filter', ctx.values.filter)
  const limit = ctx.values.limit === undefined ? 10 : parseNumberOption('--limit', ctx.values.limit, true)
  const ltm = await ctx.open()
  const result = await ltm.search(query, filter as MetadataFilter | null, limit, { match: ctx.values.all ? 'all' : 'any' })
  if (!result.success) return printFailure(ctx.out, result)
  if (ctx.out.json) {
    printJson(ctx.out, result)
    return EXIT.ok
  }
  if (result.count === 0) {
    println(ctx.out.stdout, 'no memories found')
    return EXIT.ok
  }
  const rows = result.results.map((hit, i) => [String(i + 1), hit.score.toFixed(3), hit.key])
  const used = table([['#', 'score', 'key'], ...rows], [0, 1])[0]!.length + 2
  const width = Math.max(20, (ctx.out.stdout.columns ?? 100) - used)
  const lines = table([['#', 'score', 'key', 'value'], ...rows.map((row, i) => [...row, preview(result.results[i]!.value, width)])], [0, 1])
  println(ctx.out.stdout, [...lines, `${result.count} ${result.count === 1 ? 'memory' : 'memories'}`].join('\n'))
  return EXIT.ok
}

async function remove(ctx: Context): Promise<number> {
  const [key] = ctx.args as [string]
  const ltm = await ctx.open()
  const result = await ltm.delete(key)
  if (!result.success) return printFailure(ctx.out, result)
  if (ctx.out.json) printJson(ctx.out, result)
  else println(ctx.out.stdout, result.deleted ? `deleted ${JSON.stringify(key)}` : `nothing to delete: no memory ${JSON.stringify(key)}`)
  return EXIT.ok
}

function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

async function stats(ctx: Context): Promise<number> {
  const ltm = await ctx.open()
  const result = await ltm.stats()
  if (!result.success) return printFailure(ctx.out, result)
  if (ctx.out.json) {
    printJson(ctx.out, result)
    return EXIT.ok
  }
  const { backend, namespace, operations: _operations, success: _success, ...extra } = result
  const entries = Object.entries({ backend, namespace, ...extra })
    .map(([name, value]): [string, string] => {
      if (name === 'namespace') return [name, value === '' ? '(root)' : String(value)]
      if (name.endsWith('_bytes') && typeof value === 'number') return [name, humanBytes(value)]
      return [name, typeof value === 'string' ? value : JSON.stringify(value)]
    })
  println(ctx.out.stdout, fields(entries).join('\n'))
  return EXIT.ok
}

/** Prints the SQL a Supabase project runs once (SQL editor, psql or a migration); opens no database. */
async function supabaseSql(ctx: Context): Promise<number> {
  ctx.out.stdout.write(readFileSync(supabaseSqlUrl(), 'utf8'))
  return EXIT.ok
}

export const COMMANDS: Record<string, Command> = {
  store: {
    usage: 'store <key> <value> [--metadata JSON] [--ttl SECONDS]',
    summary: 'store a memory; <value> is JSON if it parses, else text',
    options: ['metadata', 'ttl'],
    arity: [2, 2],
    run: store,
  },
  get: { usage: 'get <key>', summary: 'show a memory (exit 3 if there is none)', options: [], arity: [1, 1], run: get },
  search: {
    usage: 'search [query] [--filter JSON] [--limit N] [--all]',
    summary: 'ranked full-text search; --filter on metadata, --all to match every word',
    options: ['filter', 'limit', 'all'],
    arity: [0, Infinity],
    run: search,
  },
  delete: { usage: 'delete <key>', summary: 'delete a memory', options: [], arity: [1, 1], run: remove },
  export: {
    usage: 'export [--out FILE]',
    summary: 'write every memory (with sub-namespaces) as JSON lines',
    options: ['out'],
    arity: [0, 0],
    run: exportCommand,
  },
  import: {
    usage: 'import <FILE|->',
    summary: 'read JSON lines written by export (- for stdin)',
    options: [],
    arity: [1, 1],
    run: importCommand,
  },
  stats: { usage: 'stats', summary: 'show database statistics', options: [], arity: [0, 0], run: stats },
  'supabase-sql': {
    usage: 'supabase-sql',
    summary: 'print the SQL to run once in a Supabase project for backend "supabase"',
    options: [],
    arity: [0, 0],
    run: supabaseSql,
  },
}

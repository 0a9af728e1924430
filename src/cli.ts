/**
 * `agent-ltm`: long-term memory from the shell, on an embedded SQLite file.
 * Exit codes: 0 ok, 1 failure result, 2 usage error, 3 not found.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { COMMANDS, type Context, type Values } from './cli/commands.js'
import { EXIT, UsageError, printFailure, println, type Output } from './cli/output.js'
import { LtmError, LtmFailure, createLTM, type LTM } from './index.node.js'

const OPTIONS = {
  db: { type: 'string' },
  namespace: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  metadata: { type: 'string' },
  ttl: { type: 'string' },
  filter: { type: 'string' },
  limit: { type: 'string' },
  all: { type: 'boolean' },
  out: { type: 'string' },
} as const
const GLOBAL_OPTIONS = new Set(['db', 'namespace', 'json', 'help', 'version'])
const DEFAULT_DB = './agent-memory.db'

function help(): string {
  const commands = Object.values(COMMANDS)
  const width = Math.max(...commands.map((c) => c.usage.length))
  return `Usage: agent-ltm <command> [options]

Long-term memory for AI agents, stored in an embedded SQLite file.

Commands:
${commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  --db PATH        database file (default: $AGENT_LTM_DB, else ${DEFAULT_DB})
  --namespace NS   namespace to work in, like user-42 (default: the root namespace)
  --json           print results as one JSON object per line
  -h, --help       show this help
  --version        show the version

Examples:
  agent-ltm store coffee "Prefers oat-milk flat whites" --metadata '{"type":"preference"}'
  agent-ltm search coffee --filter '{"type":"preference"}' --limit 5
  agent-ltm export --out memories.jsonl && agent-ltm --db copy.db import memories.jsonl

Exit codes: 0 ok, 1 failed, 2 usage error, 3 not found.`
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function usageError(out: Output, message: string): number {
  println(out.stderr, `error: ${message}`)
  println(out.stderr, 'hint: run "agent-ltm --help" for usage')
  return EXIT.usage
}

export async function main(argv: string[], out: Output, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed: { values: Values & { help?: boolean; version?: boolean }; positionals: string[] }
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (error) {
    return usageError(out, (error as Error).message.replace(/\n/g, ' '))
  }
  const { values, positionals } = parsed
  if (values.help) {
    println(out.stdout, help())
    return EXIT.ok
  }
  if (values.version) {
    println(out.stdout, version())
    return EXIT.ok
  }
  const [name, ...args] = positionals
  if (name === undefined) {
    println(out.stderr, help())
    return EXIT.usage
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (!command) return usageError(out, `unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`)
  const stray = Object.keys(values).find((option) => !GLOBAL_OPTIONS.has(option) && !command.options.includes(option as keyof Values))
  if (stray !== undefined) return usageError(out, `${name} does not take --${stray}; usage: agent-ltm ${command.usage}`)
  const [min, max] = command.arity
  if (args.length < min || args.length > max) {
    return usageError(out, `${name} needs ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${args.length}; usage: agent-ltm ${command.usage}`)
  }

  const io: Output = { ...out, json: values.json === true }
  let root: LTM | undefined
  const ctx: Context = {
    args,
    values,
    out: io,
    namespace: values.namespace ?? '',
    async open(namespace = ctx.namespace) {
      root ??= await createLTM({ backend: 'sqlite', path: values.db ?? (env.AGENT_LTM_DB || DEFAULT_DB) })
      return namespace === '' ? root : root.namespace(namespace)
    },
  }
  try {
    return await command.run(ctx)
  } catch (error) {
    if (error instanceof UsageError) return usageError(io, error.message)
    if (error instanceof LtmError && error.code === 'invalid_argument') return usageError(io, error.message)
    if (error instanceof LtmFailure) return printFailure(io, error.toResult())
    throw error
  } finally {
    await root?.close()
  }
}

// `agent-ltm export | head` closes stdout early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.ok)
  throw error
})

main(process.argv.slice(2), { json: false, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error('agent-ltm: unexpected error:', error)
    process.exitCode = EXIT.failure
  },
)

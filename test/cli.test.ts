/** The agent-ltm CLI, run from source as a child process against temporary databases. */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = join(ROOT, 'src/cli.ts')
const dir = mkdtempSync(join(tmpdir(), 'agent-ltm-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let dbCount = 0
const freshDb = (): string => join(dir, `db-${++dbCount}.db`)

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

// Every case starts node with tsx's loader (~0.4 s of CPU each), so cases get a generous timeout.

/** Runs `agent-ltm` from source (node with tsx's loader, as `npx tsx src/cli.ts` does, without npx's start-up cost). */
function cli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, AGENT_LTM_DB: '', ...options.env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(options.input ?? '')
  })
}

/** The one JSON line a `--json` run prints. */
function json(run: Run): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n')
  expect(lines, run.stdout).toHaveLength(1)
  return JSON.parse(lines[0]!) as Record<string, unknown>
}

describe('agent-ltm CLI', { timeout: 120_000 }, () => {
  const db = freshDb()
  const at = (...args: string[]): Promise<Run> => cli(['--db', db, ...args])

  it('store: JSON values, text values, metadata, ttl and dedup', async () => {
    const first = await at('store', 'coffee', 'Prefers oat-milk flat white coffee in the morning', '--metadata', '{"type":"preference","priority":2}')
    expect(first).toMatchObject({ code: 0, stderr: '' })
    expect(first.stdout).toContain('"coffee": stored (new)')

    const again = await at('store', 'coffee', 'Prefers oat-milk flat white coffee in the morning', '--metadata', '{"type":"preference","priority":2}', '--json')
    expect(again.code).toBe(0)
    expect(json(again)).toMatchObject({ success: true, stored: false, deduplicated: true, key: 'coffee' })

    const structured = await at('--json', 'store', 'settings', '{"theme":"dark","sizes":[1,2]}', '--ttl', '3600', '--namespace', 'user-42')
    const result = json(structured)
    expect(result).toMatchObject({ success: true, stored: true, created: true, key: 'settings' })
    expect(Date.parse(result.expires_at as string) - Date.now()).toBeGreaterThan(3_500_000)

    await at('store', 'count', '42')
    const [count, settings] = await Promise.all([at('get', 'count', '--json'), at('get', 'settings', '--namespace', 'user-42', '--json')])
    expect(json(count)).toMatchObject({ value: 42 })
    expect(json(settings)).toMatchObject({ found: true, value: { theme: 'dark', sizes: [1, 2] } })
  })

  it('get: value, metadata and timestamps; exit 3 when missing', async () => {
    const [found, shapeRun, missing, missingJson] = await Promise.all([
      at('get', 'coffee'),
      at('get', 'coffee', '--json'),
      at('get', 'nothing-here'),
      at('get', 'nothing-here', '--json'),
    ])
    expect(found.code).toBe(0)
    expect(found.stdout).toContain('Prefers oat-milk flat white coffee in the morning')
    expect(found.stdout).toMatch(/metadata: +\{"priority":2,"type":"preference"\}/)
    expect(found.stdout).toMatch(/created: +\d{4}-\d\d-\d\dT/)
    expect(found.stdout).toMatch(/expires: +never/)

    const shape = json(shapeRun)
    expect(Object.keys(shape).sort()).toEqual(['content_hash', 'created_at', 'expires_at', 'found', 'key', 'metadata', 'success', 'updated_at', 'value'])

    expect(missing.code).toBe(3)
    expect(missing.stdout).toBe('')
    expect(missing.stderr).toContain('not found: no memory "nothing-here"')
    expect(missingJson.code).toBe(3)
    expect(json(missingJson)).toEqual({ success: true, found: false, key: 'nothing-here', metadata: null })
  })

  it('search: ranked table, --json shape, --filter, --limit, --all', async () => {
    await Promise.all([
      at('store', 'tea', 'Drinks green tea after lunch, coffee only on Mondays', '--metadata', '{"type":"preference","priority":1}'),
      at('store', 'report', 'Finish the quarterly report before the Friday deadline', '--metadata', '{"type":"task","priority":3}'),
      at('store', 'slides', 'Prepare slides for the project kickoff', '--metadata', '{"type":"task","priority":1}'),
    ])
    const [table, rankedRun, allRun, tasksRun, limitedRun, none] = await Promise.all([
      at('search', 'coffee', 'morning'),
      at('search', 'coffee morning', '--json'),
      at('search', 'coffee', 'morning', '--all', '--json'),
      at('search', '--filter', '{"type":"task","priority":{"$gte":2}}', '--json'),
      at('search', '--filter', '{"type":"preference"}', '--limit', '1', '--json'),
      at('search', 'zebra'),
    ])
    expect(table.code).toBe(0)
    const lines = table.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^#\s+score\s+key\s+value$/)
    expect(lines[1]).toMatch(/^1\s+\d+\.\d{3}\s+coffee\s+Prefers oat-milk/)
    expect(lines[2]).toMatch(/^2\s+\d+\.\d{3}\s+tea\s+Drinks green tea/)
    expect(lines.at(-1)).toBe('2 memories')

    const ranked = json(rankedRun)
    expect(ranked).toMatchObject({ success: true, count: 2 })
    const hits = ranked.results as { key: string; score: number }[]
    expect(hits.map((h) => h.key)).toEqual(['coffee', 'tea'])
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score)
    expect(Object.keys(hits[0]!).sort()).toEqual(['content_hash', 'created_at', 'expires_at', 'key', 'metadata', 'score', 'updated_at', 'value'])

    const all = json(allRun)
    expect((all.results as { key: string }[]).map((h) => h.key)).toEqual(['coffee'])

    const tasks = json(tasksRun)
    expect((tasks.results as { key: string }[]).map((h) => h.key)).toEqual(['report'])

    const limited = json(limitedRun)
    expect(limited.count).toBe(1)

    expect(none).toMatchObject({ code: 0, stdout: 'no memories found\n' })
  })

  it('delete: deletes, and says so when there was nothing', async () => {
    await at('store', 'temp', 'to be deleted')
    const deleted = await at('delete', 'temp')
    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted "temp"\n' })
    expect(json(await at('delete', 'temp', '--json'))).toEqual({ success: true, deleted: false, key: 'temp' })
    expect((await at('get', 'temp')).code).toBe(3)
  })

  it('stats: backend details, human and --json', async () => {
    const [human, statsRun] = await Promise.all([at('stats'), at('stats', '--json', '--namespace', 'user-42')])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/backend: +sqlite/)
    expect(human.stdout).toMatch(/namespace: +\(root\)/)
    expect(human.stdout).toContain(db)
    const stats = json(statsRun)
    expect(stats).toMatchObject({ backend: 'sqlite', namespace: 'user-42', path: db })
    expect(typeof stats.database_bytes).toBe('number')
  })

  it('takes the database from AGENT_LTM_DB when --db is absent', async () => {
    const envDb = freshDb()
    expect((await cli(['store', 'k', 'from env'], { env: { AGENT_LTM_DB: envDb } })).code).toBe(0)
    expect(json(await cli(['get', 'k', '--json', '--db', envDb]))).toMatchObject({ value: 'from env' })
  })
})

describe.concurrent('export and import', { timeout: 120_000 }, () => {
  it('round trip into a fresh database keeps namespaces, values, metadata and expiry', async () => {
    const source = freshDb()
    await cli(['--db', source, 'store', 'a', '{"text":"root memory","n":1}', '--metadata', '{"tag":"x"}'])
    await cli(['--db', source, 'store', 'b', 'expires later', '--ttl', '7200'])
    await cli(['--db', source, '--namespace', 'user-42', 'store', 'pref', 'likes jazz', '--metadata', '{"type":"preference"}'])
    await cli(['--db', source, '--namespace', 'user-42/thread-7', 'store', 'note', '[1,2,3]', '--ttl', '60'])

    const file = join(dir, 'export.jsonl')
    const exported = await cli(['--db', source, 'export', '--out', file])
    expect(exported).toMatchObject({ code: 0, stdout: `exported 4 memories to ${file}\n` })
    const toStdout = await cli(['--db', source, 'export'])
    expect(toStdout.stdout).toBe(readFileSync(file, 'utf8'))

    const target = freshDb()
    const imported = await cli(['--db', target, 'import', file, '--json'])
    expect(imported.code).toBe(0)
    expect(json(imported)).toEqual({ success: true, imported_count: 4, stored_count: 4, unchanged_count: 0 })

    const records = (text: string): Record<string, unknown>[] => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    const before = records(readFileSync(file, 'utf8'))
    const after = records((await cli(['--db', target, 'export'])).stdout)
    expect(before.map((r) => r.namespace)).toEqual(['', '', 'user-42', 'user-42/thread-7'])
    expect(before.filter((r) => r.expires_at !== null)).toHaveLength(2)
    // created_at/updated_at are those of the import: storeBatch has no way to carry them over.
    const comparable = ({ created_at: _c, updated_at: _u, ...rest }: Record<string, unknown>) => rest
    expect(after.map(comparable)).toEqual(before.map(comparable))

    // Importing again writes nothing: the same value, metadata and expiry deduplicate.
    const again = json(await cli(['--db', target, 'import', file, '--json']))
    expect(again).toEqual({ success: true, imported_count: 4, stored_count: 0, unchanged_count: 4 })
    expect((await cli(['--db', target, 'export'])).stdout.split('\n').map((l) => l && comparable(JSON.parse(l)))).toEqual(
      toStdout.stdout.split('\n').map((l) => l && comparable(JSON.parse(l))),
    )
  })

  it('imports from stdin, lines without a namespace go to --namespace', async () => {
    const db = freshDb()
    const input = '{"key":"x","value":"from stdin"}\n\n{"namespace":"other","key":"y","value":2}\n'
    const run = await cli(['--db', db, '--namespace', 'ns', 'import', '-'], { input })
    expect(run).toMatchObject({ code: 0, stdout: 'imported 2 memories (2 stored, 0 unchanged)\n' })
    expect(run.stderr).not.toContain('\r') // no progress bar when stderr is not a terminal
    expect(json(await cli(['--db', db, '--namespace', 'ns', 'get', 'x', '--json']))).toMatchObject({ value: 'from stdin' })
    expect(json(await cli(['--db', db, '--namespace', 'other', 'get', 'y', '--json']))).toMatchObject({ value: 2 })
  })

  it('a bad JSON line names its line number, and nothing of its batch is stored', async () => {
    const db = freshDb()
    const lines = Array.from({ length: 520 }, (_, i) => JSON.stringify({ namespace: 'n', key: `k${i + 1}`, value: `memory ${i + 1}` }))
    lines[509] = '{"key": "broken", value'
    const file = join(dir, 'bad.jsonl')
    writeFileSync(file, `${lines.join('\n')}\n`)

    const run = await cli(['--db', db, 'import', file])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error: line 510: invalid JSON .*\(invalid_input\)$/m)
    expect(run.stderr).toContain('500 memories were imported before line 501; nothing from line 501 on was stored')

    const listed = json(await cli(['--db', db, '--namespace', 'n', 'search', '--limit', '1000', '--json']))
    expect(listed.count).toBe(500) // the first batch (lines 1-500) committed, the second (501-510) did not

    const asJson = json(await cli(['--db', freshDb(), 'import', file, '--json']))
    expect(asJson).toMatchObject({ success: false, error_type: 'invalid_input', line: 510, imported_count: 500 })
  })

  it('an invalid record fails its whole batch through storeBatch', async () => {
    const db = freshDb()
    const input = ['{"key":"ok","value":1}', '{"key":"","value":2}'].join('\n')
    const run = await cli(['--db', db, 'import', '-', '--json'], { input })
    expect(run.code).toBe(1)
    expect(json(run)).toMatchObject({ success: false, error_type: 'invalid_input', imported_count: 0 })
    expect(run.stderr).toMatch(/error: lines 1-2: entry 1 .*key must not be empty/)
    expect((await cli(['--db', db, 'get', 'ok'])).code).toBe(3)
  })

  it('a line that is JSON but not a record is reported by line', async () => {
    const run = await cli(['--db', freshDb(), 'import', '-'], { input: '{"key":"a","value":1}\n[1,2]\n' })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('error: line 2: expected a JSON object')
  })

  it('a missing file is a failure', async () => {
    const run = await cli(['--db', freshDb(), 'import', join(dir, 'missing.jsonl')])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^error: cannot read .*missing\.jsonl: ENOENT/)
  })
})

describe.concurrent('exit codes and errors', { timeout: 120_000 }, () => {
  it('1: a failure result from the SDK, printed as error: <message> (<error_type>)', async () => {
    const db = freshDb()
    const ttl = await cli(['--db', db, 'store', 'k', 'v', '--ttl=-5'])
    expect(ttl.code).toBe(1)
    expect(ttl.stderr).toBe('error: ttl must be a positive number of seconds, got -5 (invalid_input)\n')

    const filter = await cli(['--db', db, 'search', '--filter', '{"a":{"$regex":"x"}}', '--json'])
    expect(filter.code).toBe(1)
    expect(json(filter)).toMatchObject({ success: false, error_type: 'invalid_input' })
    expect(filter.stderr).toMatch(/^error: .*unknown operator \$regex.*\(invalid_input\)$/m)

    const metadata = await cli(['--db', db, 'store', 'k', 'v', '--metadata', '[1]'])
    expect(metadata.code).toBe(1)

    const unopenable = await cli(['--db', join(dir, 'no-such-dir', 'x.db'), 'get', 'k'])
    expect(unopenable.code).toBe(1)
    expect(unopenable.stderr).toMatch(/^error: .*\(backend_error\)$/m)
  })

  it('2: usage errors, with a hint to --help', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['get'], /get needs 1 argument, got 0/],
      [['get', 'a', 'b'], /get needs 1 argument, got 2/],
      [['store', 'k', 'v', '--metadata', '{not json'], /--metadata is not valid JSON/],
      [['search', '--filter', '{"type":'], /--filter is not valid JSON/],
      [['search', '--limit', 'ten'], /--limit needs a whole number/],
      [['store', 'k', 'v', '--ttl', 'soon'], /--ttl needs a number/],
      [['get', 'k', '--bogus'], /Unknown option '--bogus'/],
      [['get', 'k', '--limit', '3'], /get does not take --limit/],
      [['--namespace', 'a//b', 'get', 'k'], /namespace "a\/\/b" is invalid/],
      [[], /Usage: agent-ltm/],
    ]
    const runs = await Promise.all(cases.map(([args]) => cli(['--db', join(dir, 'usage.db'), ...args])))
    runs.forEach((run, i) => {
      const [args, message] = cases[i]!
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stdout).toBe('')
      expect(run.stderr).toMatch(message)
      if (args.length > 0) expect(run.stderr).toContain('hint: run "agent-ltm --help" for usage')
    })
  })

  it('--help and --version exit 0', async () => {
    const help = await cli(['--help'])
    expect(help.code).toBe(0)
    for (const command of ['store', 'get', 'search', 'delete', 'export', 'import', 'stats']) expect(help.stdout).toContain(`  ${command}`)
    expect((await cli(['search', '-h'])).stdout).toContain('Usage: agent-ltm')
    const version = await cli(['--version'])
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` })
  })

  it('supabase-sql prints the SQL shipped in supabase/agent-ltm.sql, byte for byte, and opens no database', async () => {
    const run = await cli(['supabase-sql'], { env: { AGENT_LTM_DB: join(dir, 'never-created.db') } })
    expect(run).toMatchObject({ code: 0, stderr: '' })
    expect(run.stdout).toBe(readFileSync(join(ROOT, 'supabase/agent-ltm.sql'), 'utf8'))
    expect(run.stdout).toMatch(/create or replace function public\.agent_ltm_search/)
    expect(existsSync(join(dir, 'never-created.db'))).toBe(false)
    expect((await cli(['supabase-sql', 'extra'])).code).toBe(2)
  })
})

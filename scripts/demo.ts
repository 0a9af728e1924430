/**
 * A scripted agent session on the embedded default (a SQLite file in a temporary folder, no server).
 * Run with `npm run demo`. The last step reopens the file in a new process: `--phase=reopen <db>`.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { preview, table } from '../src/cli/output.js'
import { createLTM, type BatchEntry, type JsonValue, type LTM, type SearchResult } from '../src/index.node.js'

const USER = 'user-42'
const HOUR = 3_600_000

const MEMORIES: BatchEntry[] = [
  pref('pref:coffee', 'Takes coffee as a flat white with oat milk, no sugar', 2),
  pref('pref:coffee-time', 'Only drinks coffee before noon; decaf in the afternoon', 1),
  pref('pref:tea', 'Likes green tea in the evening', 1),
  pref('pref:meetings', 'Prefers meetings after 10am, never on Friday afternoons', 2),
  pref('pref:style', 'Wants answers in British English, short and to the point', 3),
  pref('pref:editor', 'Uses Vim keybindings in every editor', 1),
  pref('pref:music', 'Listens to jazz while working', 1),
  fact('fact:name', "The user's name is Dana Reyes", 3),
  fact('fact:city', 'Lives in Lisbon, Portugal (timezone Europe/Lisbon)', 2),
  fact('fact:job', 'Data engineer at a logistics company, on the warehouse project', 2),
  fact('fact:allergy', 'Allergic to peanuts', 3),
  fact('fact:dog', 'Has a dog called Miso who needs a walk at 6pm', 1),
  fact('fact:team', 'Team of five; the manager is Priya', 1),
  task('task:report', 'Finish the Q3 project report before the Friday deadline', 3),
  task('task:slides', 'Prepare slides for the project kickoff on Monday', 2),
  task('task:migration', 'Migrate the billing pipeline to the new warehouse; deadline end of month', 3),
  task('task:review', "Review Priya's pull request on the ingestion job", 2),
  task('task:dentist', 'Book a dentist appointment', 1),
  task('task:beans', 'Order coffee beans from the roastery', 1),
  task('task:visa', 'Renew visa documents; deadline in six weeks', 1),
]

function pref(key: string, text: string, priority: number): BatchEntry {
  return { key, value: text, metadata: { type: 'preference', priority } }
}
function fact(key: string, text: string, priority: number): BatchEntry {
  return { key, value: text, metadata: { type: 'fact', priority } }
}
function task(key: string, text: string, priority: number): BatchEntry {
  return { key, value: { text, done: false }, metadata: { type: 'task', priority } }
}

// ---- output -------------------------------------------------------------------------------------

let section = 0
function heading(title: string, ...explanation: string[]): void {
  section++
  console.log(`\n== ${section}. ${title} ${'='.repeat(Math.max(3, 70 - title.length))}`)
  for (const line of explanation) console.log(`   ${line}`)
}
function say(text = ''): void {
  console.log(text === '' ? '' : `   ${text}`)
}
/** A memory's value on one line: a task's text (and whether it is done), else the value itself. */
function describe(value: JsonValue): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof value.text === 'string') {
    return preview(`${value.text}${value.done === true ? ' [done]' : ''}`, 56)
  }
  return preview(value, 56)
}
/** Search hits as a table; listings without a query have no score to show. */
function showHits(result: SearchResult, scored = true): void {
  if (!result.success) throw new Error(`search failed: ${result.error}`)
  if (result.count === 0) return say('(no results)')
  const rows = result.results.map((hit, i) => [
    String(i + 1),
    ...(scored ? [hit.score.toFixed(3)] : []),
    hit.key,
    String(hit.metadata.type),
    String(hit.metadata.priority),
    describe(hit.value),
  ])
  const header = ['#', ...(scored ? ['score'] : []), 'key', 'type', 'prio', 'value']
  for (const line of table([header, ...rows], scored ? [0, 1, 4] : [0, 3])) say(line)
}
function check(ok: boolean, text: string): void {
  console.log(`   ${ok ? '✓' : '✗'} ${text}`)
  if (!ok) process.exitCode = 1
}

// ---- the session ---------------------------------------------------------------------------------

async function session(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-ltm-demo-'))
  const path = join(dir, 'memory.db')
  let clock = Date.now()
  let ltm: LTM | undefined
  try {
    console.log('agent-ltm demo: an agent remembering things about one user')
    console.log(`database: ${path} (embedded SQLite, no server)`)
    ltm = await createLTM({ backend: 'sqlite', path, namespace: USER, now: () => clock })

    heading('Store memories', `One storeBatch writes ${MEMORIES.length} memories into namespace "${USER}", atomically.`)
    const batch = await ltm.storeBatch(MEMORIES)
    if (!batch.success) throw new Error(batch.error)
    const byType = (type: string) => MEMORIES.filter((m) => m.metadata?.type === type).length
    say(`stored ${batch.stored_count} memories: ${byType('preference')} preferences, ${byType('fact')} facts, ${byType('task')} tasks`)
    say('each has metadata like {"type":"task","priority":3}; tasks have a JSON value {"text":...,"done":false}')

    heading('Ranked search', 'BM25 full-text ranking: higher score = more relevant. Rare words weigh more.')
    say('search("coffee"):')
    showHits(await ltm.search('coffee'))
    say()
    say('search("deadline project"): a memory with both words ranks above one with a single word')
    showHits(await ltm.search('deadline project'))
    say()
    say('search("deadline project", null, 10, { match: "all" }): only memories with every word')
    showHits(await ltm.search('deadline project', null, 10, { match: 'all' }))

    heading('Search with a metadata filter', 'Filters narrow the candidates before ranking: {type:"task", priority:{$gte:2}}.')
    say('search("deadline project", { type: "task", priority: { $gte: 2 } }):')
    showHits(await ltm.search('deadline project', { type: 'task', priority: { $gte: 2 } }))
    say('compared with section 2, the fact and the priority-1 task are filtered out')
    heading('Filter-only listing', 'Without a query, search lists the memories whose metadata match, newest first.')
    say('search(null, { type: "task", priority: { $gte: 2 } }): the open, important tasks')
    showHits(await ltm.search(null, { type: 'task', priority: { $gte: 2 } }), false)
    say()
    say('search(null, { type: "fact", priority: 3 }): a bare value means equality')
    showHits(await ltm.search(null, { type: 'fact', priority: 3 }), false)

    heading('Memories that expire', 'A ttl (seconds) makes a memory temporary. The demo fast-forwards an injected clock.')
    const trip = await ltm.store('context:trip', 'In Berlin this week for a data conference', { type: 'fact', priority: 1 }, { ttl: 3600 })
    if (!trip.success) throw new Error(trip.error)
    say(`store("context:trip", ..., { ttl: 3600 }) -> expires_at ${trip.expires_at}`)
    const before = await ltm.retrieve('context:trip')
    check(before.success && before.found, 'now: retrieve("context:trip") finds it')
    clock += 2 * HOUR
    say(`clock moved forward 2 hours, to ${new Date(clock).toISOString()}`)
    const after = await ltm.retrieve('context:trip')
    const berlin = await ltm.search('Berlin')
    check(after.success && !after.found && berlin.success && berlin.count === 0, 'expired: context:trip is gone (retrieve: not found, search "Berlin": 0 results)')
    const cleanup = await ltm.cleanupExpired()
    if (!cleanup.success) throw new Error(cleanup.error)
    say(`cleanupExpired() deleted ${cleanup.deleted_count} expired ${cleanup.deleted_count === 1 ? 'memory' : 'memories'} from the file`)

    heading('Deduplication', 'Storing the same value and metadata again writes nothing; a changed value updates.')
    const coffee = MEMORIES[0]!
    const same = await ltm.store(coffee.key, coffee.value, coffee.metadata)
    check(same.success && !same.stored && same.deduplicated, `re-store ${coffee.key} unchanged -> stored: false, deduplicated: true`)
    const changed = await ltm.store(coffee.key, 'Takes coffee as a cortado with oat milk, no sugar', coffee.metadata)
    check(changed.success && changed.stored && !changed.created, `store ${coffee.key} with a new value -> stored: true, created: false (updated)`)

    heading('Transactions', 'Writes inside transaction() commit together, or not at all.')
    const rolledBack = await ltm.transaction(async (tx) => {
      await tx.store('task:temp', { text: 'Draft that may be abandoned', done: false }, { type: 'task', priority: 1 })
      await tx.delete('fact:allergy')
      const inside = await tx.retrieve('task:temp')
      say(`inside: stored task:temp (visible: ${inside.success && inside.found}) and deleted fact:allergy, then tx.rollback()`)
      tx.rollback()
    })
    const temp = await ltm.retrieve('task:temp')
    const allergy = await ltm.retrieve('fact:allergy')
    check(
      rolledBack.success && rolledBack.rolled_back && temp.success && !temp.found && allergy.success && allergy.found,
      'rolled back: task:temp was never stored and fact:allergy is still there',
    )
    const committed = await ltm.transaction(async (tx) => {
      await tx.store('task:dentist', { text: 'Book a dentist appointment', done: true }, { type: 'task', priority: 1 })
      await tx.store('fact:dentist', 'Dentist appointment booked for the 14th', { type: 'fact', priority: 1 })
      return 'booked'
    })
    check(committed.success && committed.committed, 'committed: task:dentist marked done and fact:dentist added together')

    heading('Survives a restart', 'Close the handle, then open the same file from a brand-new process.')
    await ltm.close()
    ltm = undefined
    const child = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), '--phase=reopen', path], { encoding: 'utf8' })
    for (const line of child.stdout.trimEnd().split('\n')) say(`| ${line}`)
    if (child.stderr.trim() !== '') say(`| stderr: ${child.stderr.trim()}`)
    check(child.status === 0 && child.stdout.includes('pref:coffee'), `the new process (exit ${child.status}) found pref:coffee: memories survived the restart`)
  } finally {
    await ltm?.close()
    rmSync(dir, { recursive: true, force: true })
  }
  console.log(process.exitCode ? '\ndemo failed: see the ✗ lines above' : '\ndemo done: every check passed')
}

/** The child process of the restart step: open the file again and search it. */
async function reopen(path: string): Promise<void> {
  const ltm = await createLTM({ backend: 'sqlite', path, namespace: USER })
  try {
    console.log(`process ${process.pid} opened ${path}`)
    console.log('search("coffee oat milk", null, 3):')
    const result = await ltm.search('coffee oat milk', null, 3)
    if (!result.success) throw new Error(`${result.error} (${result.error_type})`)
    for (const line of table(result.results.map((hit) => [hit.score.toFixed(3), hit.key, describe(hit.value)]), [0])) console.log(`  ${line}`)
  } finally {
    await ltm.close()
  }
}

const phase = process.argv.find((arg) => arg.startsWith('--phase='))?.slice('--phase='.length) ?? 'session'
if (phase === 'reopen') await reopen(process.argv[process.argv.length - 1]!)
else await session()

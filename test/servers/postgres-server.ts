// A real PostgreSQL 15 for the tests: initdb on a temporary data directory, the server listening on
// 127.0.0.1 on a free port, password (SCRAM) authentication for every TCP connection, so a wrong
// password is refused by the real server. As root, initdb and postgres run as the `postgres` user
// (PostgreSQL refuses to run as root); otherwise as the current user.
//
// Durability is traded for speed (fsync and full_page_writes off): commits still reach the operating
// system before they are acknowledged, so a killed server keeps them, but not a machine crash; the
// data directory is thrown away after the run. Missing binaries fail loudly: this never skips.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { freePort } from './free-port.js'

export const PG_BIN = process.env.LTM_PG_BIN ?? '/usr/lib/postgresql/15/bin'

export interface PostgresServer {
  host: string
  port: number
  /** Superuser, for test setup (creating databases, holding locks). */
  adminUrl: string
  /** The test role: not a superuser, may create databases, authenticates with `password`. */
  user: string
  password: string
  /** The test role on its own database `ltm_test`. */
  url: string
  /** A URL for the test role on `database`, optionally with another password. */
  urlFor(database: string, password?: string): string
  /** Creates an empty database owned by the test role and returns its URL. */
  createDatabase(): Promise<string>
  /** Drops a database made by createDatabase, ending its connections. */
  dropDatabase(url: string): Promise<void>
  /**
   * Creates an empty schema owned by the test role in `ltm_test` and returns a URL whose connections
   * use it (`?options=-c search_path=...`): a fresh store in milliseconds, where CREATE DATABASE takes
   * a tenth of a second or more.
   */
  createSchema(): Promise<string>
  /** Drops a schema made by createSchema with everything in it. */
  dropSchema(url: string): Promise<void>
  /** Runs SQL as the superuser on `database` (default `ltm_test`). */
  adminQuery(sql: string, values?: unknown[], database?: string): Promise<pg.QueryResult>
  /** SIGKILL to the postmaster and every backend at once: a crash, not a shutdown. */
  kill(): Promise<void>
  /** SIGSTOP to the whole server: connections stay open and nothing answers (a hung server or a partition). */
  pause(): void
  /** SIGCONT after pause(). */
  resume(): void
  /** Starts the server again on the same data directory and port (after kill or stop). */
  restart(): Promise<void>
  /** Stops the server (fast shutdown) and deletes the data directory. */
  stop(): Promise<void>
}

interface Account {
  uid: number
  gid: number
}

/** The `postgres` account when running as root (PostgreSQL refuses root); null to run as ourselves. */
function serverAccount(): Account | null {
  if (process.getuid?.() !== 0) return null
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'))
  if (!line) throw new Error('postgres-server: running as root but there is no `postgres` user to run PostgreSQL as (apt-get install -y postgresql-15 creates it)')
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

/**
 * The server's live processes: the postmaster and the children it forked (each backend starts its own
 * process group, so a group signal would miss them). Read from /proc; zombies hold nothing and are skipped.
 */
function serverProcesses(postmaster: number): number[] {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      // Fields after the command name (which may contain spaces): state, ppid, ...
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (state !== 'Z' && (Number(name) === postmaster || Number(ppid) === postmaster)) pids.push(Number(name))
    } catch {
      // exited while listing
    }
  }
  return pids
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {
      // exited meanwhile
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Every server started by this process, killed at exit if a test run forgot (or crashed before) stop(). */
const running = new Set<{ postmaster: () => number | undefined; dir: string }>()
function killAllNow(): void {
  for (const server of running) {
    const postmaster = server.postmaster()
    if (postmaster) signalAll(serverProcesses(postmaster), 'SIGKILL')
    rmSync(server.dir, { recursive: true, force: true })
  }
  running.clear()
}
process.once('exit', killAllNow)
// A test worker ended by a signal runs no 'exit' handlers: clean up, then end as the signal would have.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAllNow()
    process.kill(process.pid, signal)
  })
}

export async function startPostgresServer(): Promise<PostgresServer> {
  for (const tool of ['initdb', 'postgres']) {
    if (!existsSync(join(PG_BIN, tool))) {
      throw new Error(`postgres-server: ${join(PG_BIN, tool)} is missing. Install PostgreSQL 15 (apt-get install -y postgresql-15; scripts/test-all.sh does) or set LTM_PG_BIN`)
    }
  }
  const account = serverAccount()
  const asServer = account ? { uid: account.uid, gid: account.gid } : {}
  const dir = mkdtempSync(join(tmpdir(), 'ltm-postgres-'))
  if (account) chownSync(dir, account.uid, account.gid)
  const data = join(dir, 'data')
  const adminPassword = randomBytes(12).toString('hex')
  const password = `pw-${randomBytes(12).toString('hex')}`
  const pwfile = join(dir, 'admin-password')
  writeFileSync(pwfile, adminPassword, { mode: 0o600 })
  if (account) chownSync(pwfile, account.uid, account.gid)

  const init = spawnSync(
    join(PG_BIN, 'initdb'),
    ['-D', data, '-U', 'ltm_admin', `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '-N'],
    { ...asServer, encoding: 'utf8', cwd: dir },
  )
  rmSync(pwfile, { force: true })
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`postgres-server: initdb failed (${init.status ?? init.signal}): ${init.stderr || init.error?.message}`)
  }

  const host = '127.0.0.1'
  const port = await freePort()
  let child: ChildProcess | undefined
  let log = ''
  const entry = { postmaster: () => child?.pid, dir }
  running.add(entry)

  const admin = (database = 'postgres'): pg.Client =>
    new pg.Client({ host, port, user: 'ltm_admin', password: adminPassword, database, connectionTimeoutMillis: 2000 })

  async function launch(): Promise<void> {
    log = ''
    const args = [
      '-D', data, '-p', String(port),
      '-c', `listen_addresses=${host}`, '-c', 'unix_socket_directories=',
      '-c', 'fsync=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=200', '-c', 'shared_buffers=64MB', '-c', 'log_min_messages=warning',
    ]
    // detached: not in the test runner's process group, so a Ctrl-C reaches it only through our handlers.
    const proc = spawn(join(PG_BIN, 'postgres'), args, { ...asServer, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    proc.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()))
    proc.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()))
    let exited: string | null = null
    proc.once('exit', (code, signal) => (exited = `exit ${code ?? signal}`))
    const deadline = Date.now() + 30_000
    for (;;) {
      if (exited) throw new Error(`postgres-server: postgres stopped while starting (${exited}): ${log.slice(-2000)}`)
      const client = admin()
      try {
        await client.connect()
        await client.query('SELECT 1')
        await client.end()
        return
      } catch (error) {
        await client.end().catch(() => undefined)
        if (Date.now() > deadline) throw new Error(`postgres-server: not ready after 30 s (${(error as Error).message}): ${log.slice(-2000)}`)
        await sleep(50)
      }
    }
  }

  async function waitForExit(proc: ChildProcess | undefined): Promise<void> {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    await new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  }

  // One small pool per database for setup queries; after a kill its idle connections die and are replaced.
  const adminPools = new Map<string, pg.Pool>()
  async function adminQuery(sql: string, values: unknown[] = [], database = 'ltm_test'): Promise<pg.QueryResult> {
    let pool = adminPools.get(database)
    if (!pool) {
      pool = new pg.Pool({ host, port, user: 'ltm_admin', password: adminPassword, database, max: 2, connectionTimeoutMillis: 5000 })
      pool.on('error', () => undefined)
      adminPools.set(database, pool)
    }
    return pool.query(sql, values)
  }
  const endAdminPools = async (): Promise<void> => {
    await Promise.all([...adminPools.values()].map((pool) => pool.end().catch(() => undefined)))
    adminPools.clear()
  }

  try {
    await launch()
    await adminQuery(`CREATE ROLE ltm_test LOGIN CREATEDB PASSWORD '${password}'`, [], 'postgres')
    await adminQuery('CREATE DATABASE ltm_test OWNER ltm_test', [], 'postgres')
  } catch (error) {
    if (child?.pid) signalAll(serverProcesses(child.pid), 'SIGKILL')
    running.delete(entry)
    rmSync(dir, { recursive: true, force: true })
    throw error
  }

  const urlFor = (database: string, pw = password): string => `postgres://ltm_test:${encodeURIComponent(pw)}@${host}:${port}/${database}`
  let databases = 0
  let schemas = 0

  return {
    host,
    port,
    adminUrl: `postgres://ltm_admin:${adminPassword}@${host}:${port}/postgres`,
    user: 'ltm_test',
    password,
    url: urlFor('ltm_test'),
    urlFor,
    adminQuery,
    async createDatabase() {
      const name = `ltm_db_${++databases}`
      await adminQuery(`CREATE DATABASE ${name} OWNER ltm_test`, [], 'postgres')
      return urlFor(name)
    },
    async dropDatabase(url) {
      const name = new URL(url).pathname.slice(1)
      if (!/^ltm_db_\d+$/.test(name)) throw new Error(`postgres-server: ${name} was not made by createDatabase`)
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, [], 'postgres')
    },
    async createSchema() {
      const name = `ltm_s_${++schemas}`
      await adminQuery(`CREATE SCHEMA ${name} AUTHORIZATION ltm_test`)
      return `${urlFor('ltm_test')}?options=${encodeURIComponent(`-c search_path=${name}`)}`
    },
    async dropSchema(url) {
      const name = /search_path=(ltm_s_\d+)$/.exec(new URL(url).searchParams.get('options') ?? '')?.[1]
      if (!name) throw new Error(`postgres-server: ${url} does not name a schema made by createSchema`)
      await adminQuery(`DROP SCHEMA ${name} CASCADE`)
    },
    async kill() {
      const proc = child
      if (!proc?.pid) return
      // All at once, as a crash would: the postmaster and every backend.
      const deadline = Date.now() + 10_000
      for (let pids = serverProcesses(proc.pid); pids.length > 0 && Date.now() < deadline; pids = serverProcesses(proc.pid)) {
        signalAll(pids, 'SIGKILL')
        await sleep(20)
      }
      await waitForExit(proc)
    },
    pause() {
      if (child?.pid) signalAll(serverProcesses(child.pid), 'SIGSTOP')
    },
    resume() {
      if (child?.pid) signalAll(serverProcesses(child.pid), 'SIGCONT')
    },
    async restart() {
      await launch()
    },
    async stop() {
      await endAdminPools()
      const proc = child
      if (proc?.pid && proc.exitCode === null && proc.signalCode === null) {
        signalAll(serverProcesses(proc.pid), 'SIGCONT') // in case a test left it paused
        process.kill(proc.pid, 'SIGINT') // fast shutdown
        const stopped = await Promise.race([waitForExit(proc).then(() => true), sleep(5000).then(() => false)])
        if (!stopped) signalAll(serverProcesses(proc.pid), 'SIGKILL')
        await waitForExit(proc)
      }
      running.delete(entry)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

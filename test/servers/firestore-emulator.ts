// The official Cloud Firestore emulator (Debian package google-cloud-cli-firestore-emulator, Java),
// started for a test file on a free loopback port. Every memory the Firestore backend's tests write
// lands in this real emulator: queries, preconditions, transforms and transactions (with its
// pessimistic locks) are Firestore's own. The emulator enforces no composite indexes (index
// requirements are documented, not tested) and, without a rules file, no auth (auth failures are then
// tested through the fault proxy); with `rules` it enforces security rules on Firebase Auth ID tokens.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { freePort } from './free-port.js'

export const EMULATOR_JAR = '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar'
const MAIN_CLASS = 'com.google.cloud.datastore.emulator.firestore.CloudFirestore'

export interface FirestoreEmulator {
  /** `127.0.0.1:PORT`, the FIRESTORE_EMULATOR_HOST form. */
  host: string
  /** REST base for the backend's `baseUrl`: `http://127.0.0.1:PORT/v1`. */
  baseUrl: string
  /** A project id no store has used yet: a fresh, empty database. */
  newProjectId(prefix?: string): string
  /** Deletes every document of a project's default database (the emulator's own endpoint). */
  reset(projectId: string): Promise<void>
  stop(): Promise<void>
}

function hasJava(): boolean {
  const path = process.env.PATH ?? ''
  return path.split(':').some((dir) => dir !== '' && existsSync(`${dir}/java`))
}

let projects = 0

/**
 * Starts the emulator and resolves once it answers; fails loudly (never skips) if Java or the jar is missing.
 * With `rules` (a security rules file) the emulator enforces them on every request except those bearing
 * `owner` (the admin token), as production enforces them on client SDK requests.
 */
export async function startFirestoreEmulator(options: { timeoutMs?: number; rules?: string } = {}): Promise<FirestoreEmulator> {
  if (!existsSync(EMULATOR_JAR)) {
    throw new Error(`Firestore emulator jar not found at ${EMULATOR_JAR}: apt-get install -y google-cloud-cli-firestore-emulator (see /work/shared/platform.md)`)
  }
  if (!hasJava()) throw new Error('java is not on PATH: the Firestore emulator needs Java 17 (apt-get install -y openjdk-17-jre-headless)')
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const child: ChildProcess = spawn('java', ['-cp', EMULATOR_JAR, MAIN_CLASS, '--host', '127.0.0.1', '--port', String(port), ...(options.rules ? ['--rules', options.rules] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-8000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const killOnExit = (): void => void child.kill('SIGKILL')
  process.once('exit', killOnExit)
  let exited: number | null | undefined
  child.once('exit', (code) => (exited = code))

  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  for (;;) {
    if (exited !== undefined) throw new Error(`the Firestore emulator exited (code ${exited}) before answering:\n${log}`)
    try {
      const response = await fetch(`http://${host}/`)
      if (response.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`the Firestore emulator did not answer on ${host} within ${options.timeoutMs ?? 30_000} ms:\n${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  return {
    host,
    baseUrl: `http://${host}/v1`,
    newProjectId(prefix = 'ltm') {
      return `${prefix}-${process.pid}-${++projects}-${Math.random().toString(36).slice(2, 8)}`
    },
    async reset(projectId) {
      const response = await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' })
      if (!response.ok) throw new Error(`emulator reset of ${projectId} answered ${response.status}: ${await response.text()}`)
    },
    async stop() {
      process.removeListener('exit', killOnExit)
      if (exited !== undefined) return
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    },
  }
}

// The official Cloud Firestore emulator (Debian package google-cloud-cli-firestore-emulator, Java),
// started for a test file on a free loopback port. Every memory the Firestore backend's tests write
// lands in this real emulator: queries, preconditions, transforms and transactions (with its
// pessimistic locks) are Firestore's own. The emulator enforces no composite indexes (index
// requirements are documented, not tested) and, without a rules file, no auth (auth failures are then
// tested through the fault proxy); with `rules` it enforces security rules on Firebase Auth ID tokens.
import { existsSync } from 'node:fs'
import { startEmulatorProcess } from './emulator-process.js'
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
  const emulator = await startEmulatorProcess({
    name: 'the Firestore emulator',
    command: 'java',
    args: ['-cp', EMULATOR_JAR, MAIN_CLASS, '--host', '127.0.0.1', '--port', String(port), ...(options.rules ? ['--rules', options.rules] : [])],
    host,
    answers: async () => (await fetch(`http://${host}/`)).ok,
    timeoutMs: options.timeoutMs ?? 30_000,
  })

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
    stop: () => emulator.stop('SIGTERM'),
  }
}

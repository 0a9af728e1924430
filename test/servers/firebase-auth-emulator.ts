// The official Firebase Authentication emulator (firebase-tools, a dev dependency; it is JavaScript,
// unlike firebase-tools' Java emulators, so it runs here), started for a test file on free loopback
// ports. The `firebase` package signs users up and in against it exactly as against Firebase Auth;
// the ID tokens it issues are unsigned JWTs that the Firestore emulator accepts and evaluates
// security rules with (request.auth.uid), so rules tests exercise the real chain user -> token -> rules.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmulatorProcess } from './emulator-process.js'
import { freePort } from './free-port.js'

export interface FirebaseAuthEmulator {
  /** `http://127.0.0.1:PORT`, for `connectAuthEmulator(auth, url)`. */
  url: string
  /** `127.0.0.1:PORT`, the FIREBASE_AUTH_EMULATOR_HOST form. */
  host: string
  /** The project the emulator serves (a `demo-` project: no real credentials are ever used). */
  projectId: string
  /** Deletes every account (the emulator's own endpoint). */
  reset(): Promise<void>
  stop(): Promise<void>
}

const PROJECT_ID = 'demo-agent-ltm'

/** Starts the emulator and resolves once it answers; fails loudly (never skips) if firebase-tools is missing. */
export async function startFirebaseAuthEmulator(options: { timeoutMs?: number } = {}): Promise<FirebaseAuthEmulator> {
  let cli: string
  try {
    cli = createRequire(import.meta.url).resolve('firebase-tools/lib/bin/firebase.js')
  } catch {
    throw new Error('firebase-tools is not installed: run npm install (it is a dev dependency; its Auth emulator needs no Java and no download)')
  }
  const port = await freePort()
  const hubPort = await freePort()
  const loggingPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'ltm-auth-emulator-'))
  writeFileSync(
    join(dir, 'firebase.json'),
    JSON.stringify({
      emulators: {
        auth: { host: '127.0.0.1', port },
        hub: { host: '127.0.0.1', port: hubPort },
        logging: { host: '127.0.0.1', port: loggingPort },
        ui: { enabled: false },
        singleProjectMode: true,
      },
    }),
  )
  const host = `127.0.0.1:${port}`
  const url = `http://${host}`
  const emulator = await startEmulatorProcess({
    name: 'the Firebase Auth emulator',
    command: process.execPath,
    args: [cli, 'emulators:start', '--only', 'auth', '--project', PROJECT_ID],
    spawnOptions: {
      cwd: dir,
      // No prompts, no update check, no usage reporting: nothing here may wait on the network or a human.
      env: { ...process.env, CI: 'true', NO_UPDATE_NOTIFIER: '1', FIREBASE_CLI_DISABLE_USAGE_COLLECTION: 'true', XDG_CONFIG_HOME: dir },
    },
    host,
    answers: async () => {
      const response = await fetch(`${url}/`)
      return response.ok && ((await response.json()) as { authEmulator?: { ready?: boolean } }).authEmulator?.ready === true
    },
    timeoutMs: options.timeoutMs ?? 60_000,
  })

  return {
    url,
    host,
    projectId: PROJECT_ID,
    async reset() {
      const response = await fetch(`${url}/emulator/v1/projects/${PROJECT_ID}/accounts`, { method: 'DELETE' })
      if (!response.ok) throw new Error(`auth emulator reset answered ${response.status}: ${await response.text()}`)
    },
    async stop() {
      await emulator.stop('SIGINT') // firebase-tools shuts its emulators down on SIGINT
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

// A test server run as a child process (the Firestore and Firebase Auth emulators): its output kept
// for error messages, killed if the test process exits, ready once it answers, stopped by a signal.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'

export interface EmulatorProcess {
  /** Sends `signal` (the process's own shutdown), then SIGKILL after 5 s; resolves once it has exited. */
  stop(signal: NodeJS.Signals): Promise<void>
}

export interface EmulatorStart {
  /** For messages: "the Firestore emulator". */
  name: string
  command: string
  args: string[]
  spawnOptions?: Omit<SpawnOptions, 'stdio'>
  /** Where it should answer, for messages. */
  host: string
  /** Resolves true once the server is ready; a throw counts as not listening yet. */
  answers(): Promise<boolean>
  timeoutMs: number
}

export async function startEmulatorProcess(start: EmulatorStart): Promise<EmulatorProcess> {
  const child: ChildProcess = spawn(start.command, start.args, { ...start.spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] })
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

  const deadline = Date.now() + start.timeoutMs
  for (;;) {
    if (exited !== undefined) throw new Error(`${start.name} exited (code ${exited}) before answering:\n${log}`)
    try {
      if (await start.answers()) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${start.name} did not answer on ${start.host} within ${start.timeoutMs} ms:\n${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  return {
    async stop(signal) {
      process.removeListener('exit', killOnExit)
      if (exited !== undefined) return
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    },
  }
}

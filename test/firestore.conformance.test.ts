// Cloud Firestore over its REST API, against the official Firestore emulator (Java), started here.
import { afterAll, beforeAll } from 'vitest'
import { createLTM, migrate } from '../src/index.node.js'
import { runConformance, type ConformanceHarness } from './conformance/suite.js'
import { startFirestoreEmulator, type FirestoreEmulator } from './servers/firestore-emulator.js'

let emulator: FirestoreEmulator

beforeAll(async () => {
  emulator = await startFirestoreEmulator()
}, 60_000)
afterAll(async () => {
  await emulator?.stop()
})

const options = (projectId: string) => ({ backend: 'firestore' as const, projectId, collection: 'memories', auth: 'owner', baseUrl: emulator.baseUrl })

/** Each open() gets a fresh project (an empty database); reopen() the last one; cleanup() empties them. */
function harness(): ConformanceHarness {
  const used: string[] = []
  return {
    async open(extra) {
      const projectId = emulator.newProjectId()
      used.push(projectId)
      return createLTM({ ...options(projectId), ...extra })
    },
    async reopen(extra) {
      return createLTM({ ...options(used.at(-1)!), ...extra })
    },
    async cleanup() {
      await Promise.all(used.splice(0).map((projectId) => emulator.reset(projectId)))
    },
  }
}

runConformance('firestore (REST, official emulator)', harness(), migrate)

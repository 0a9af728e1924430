// PostgreSQL 15, started by the test itself on a temporary data directory (test/servers/postgres-server.ts).
import { afterAll, beforeAll } from 'vitest'
import { createLTM, migrate } from '../src/index.node.js'
import { runConformance, type ConformanceHarness } from './conformance/suite.js'
import { startPostgresServer, type PostgresServer } from './servers/postgres-server.js'

let server: PostgresServer

beforeAll(async () => {
  server = await startPostgresServer()
}, 60_000)

afterAll(async () => {
  await server?.stop()
})

/** Each open() gets a new, empty schema (its URL sets search_path); reopen() opens the last one again. */
function harness(): ConformanceHarness {
  const databases: string[] = []
  return {
    async open(options) {
      const url = await server.createSchema()
      databases.push(url)
      return createLTM({ backend: 'postgres', url, ...options })
    },
    async reopen(options) {
      return createLTM({ backend: 'postgres', url: databases.at(-1)!, ...options })
    },
    async cleanup() {
      for (const url of databases.splice(0)) await server.dropSchema(url)
    },
  }
}

runConformance('postgres 15', harness(), migrate)

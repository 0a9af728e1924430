// Turso / libSQL over HTTP, through the real @libsql/client/web and the SDK's transport, against
// test/servers/hrana-server.ts: a Hrana server over a real libSQL engine (no sqld can be installed here).
import { afterEach, describe, expect, it } from 'vitest'
import { createLTM, migrate, type LTM } from '../src/index.node.js'
import { runConformance, type ConformanceHarness } from './conformance/suite.js'
import { ok } from './conformance/harness.js'
import { startHranaServer, type HranaServer } from './servers/hrana-server.js'

const TOKEN = 'turso-test-token-2a7d4f'

/** Each open() gets a new server over a new database; reopen() connects to the last one again. */
function harness(): ConformanceHarness {
  const servers: HranaServer[] = []
  const open = (server: HranaServer, extra?: { now?: () => number }) => createLTM({ backend: 'turso', url: server.url, authToken: TOKEN, ...extra })
  return {
    async open(extra) {
      const server = await startHranaServer({ authToken: TOKEN })
      servers.push(server)
      return open(server, extra)
    },
    async reopen(extra) {
      return open(servers.at(-1)!, extra)
    },
    async cleanup() {
      await Promise.all(servers.splice(0).map((server) => server.close()))
    },
  }
}

runConformance('turso (Hrana over HTTP, real libSQL engine)', harness(), migrate)

describe('turso: round trips and options', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  async function connect(): Promise<{ ltm: LTM; server: HranaServer }> {
    const server = await startHranaServer({ authToken: TOKEN })
    const ltm = await createLTM({ backend: 'turso', url: server.url, authToken: TOKEN })
    cleanups.push(() => server.close(), () => ltm.close())
    return { ltm, server }
  }

  it('every single operation, a batch of 500 and a search are exactly one HTTP request', async () => {
    const { ltm, server } = await connect()
    const operation = (): number => server.log.filter((entry) => entry.method === 'POST').length
    const cost = async (run: () => Promise<unknown>): Promise<number> => {
      const before = operation()
      ok((await run()) as never)
      return operation() - before
    }
    expect(await cost(() => ltm.store('k', 'hello round trips', { n: 1 }))).toBe(1)
    expect(await cost(() => ltm.retrieve('k'))).toBe(1)
    expect(await cost(() => ltm.search('round trips', { n: 1 }))).toBe(1)
    expect(await cost(() => ltm.storeBatch(Array.from({ length: 500 }, (_, i) => ({ key: `b${i}`, value: `batch memory ${i}` }))))).toBe(1)
    expect(await cost(() => ltm.retrieveBatch(['k', 'b1', 'b499']))).toBe(1)
    expect(await cost(() => ltm.delete('k'))).toBe(1)
    expect(await cost(() => ltm.cleanupExpired())).toBe(1)
  })

  it('opening costs one request on a database that has the schema, three on a new one', async () => {
    const { ltm, server } = await connect() // a new database: the version read fails, the check, the creation
    expect(server.log.filter((entry) => entry.method === 'POST')).toHaveLength(3)
    ok(await ltm.store('k', 'v'))
    const before = server.log.length
    const again = await createLTM({ backend: 'turso', url: server.url, authToken: TOKEN })
    cleanups.push(() => again.close())
    expect(server.log.slice(before).filter((entry) => entry.method === 'POST')).toHaveLength(1)
    expect(await again.retrieve('k')).toMatchObject({ success: true, found: true, value: 'v' })
  })

  it('the transport counts what went over the wire, and stats() shows it', async () => {
    const { ltm } = await connect()
    ok(await ltm.store('a', 'counted'))
    const stats = ok(await ltm.stats()) as unknown as { transport: { requests: number; bytes_sent: number; bytes_received: number; failures: number } }
    expect(stats.transport.requests).toBeGreaterThanOrEqual(3)
    expect(stats.transport.bytes_sent).toBeGreaterThan(0)
    expect(stats.transport.bytes_received).toBeGreaterThan(0)
    expect(stats.transport.failures).toBe(0)
  })

  it('a wrong token gives auth_failed from every call, without the token in the message', async () => {
    const server = await startHranaServer({ authToken: TOKEN })
    cleanups.push(() => server.close())
    const ltm = await createLTM({ backend: 'turso', url: server.url, authToken: 'wrong-token-99' })
    const result = await ltm.store('k', 'v')
    expect(result).toMatchObject({ success: false, error_type: 'auth_failed' })
    expect(JSON.stringify(result)).not.toContain('wrong-token-99')
    expect(await ltm.retrieve('k')).toMatchObject({ success: false, error_type: 'auth_failed' })
  })

  it('an unreachable server gives connection_timeout', async () => {
    const server = await startHranaServer({ authToken: TOKEN })
    await server.close()
    const ltm = await createLTM({ backend: 'turso', url: server.url, authToken: TOKEN, retry: false })
    expect(await ltm.retrieve('k')).toMatchObject({ success: false, error_type: 'connection_timeout' })
  })

  it('a bad URL is a configuration error (LtmError invalid_argument)', async () => {
    await expect(createLTM({ backend: 'turso', url: 'ftp://nope' })).rejects.toMatchObject({ name: 'LtmError', code: 'invalid_argument' })
  })
})

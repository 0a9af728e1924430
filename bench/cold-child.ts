/**
 * Child process for the cold-start measurement: import the SDK, open an existing database, first
 * retrieve. No static imports, so `start_ms` is Node + tsx boot alone. Prints one JSON line.
 *   node --import tsx bench/cold-child.ts baseline
 *   node --import tsx bench/cold-child.ts sdk <driver> <path> <key>
 */
const start = performance.now()

export interface ColdResult {
  /** ms from process start until this module ran (Node boot + tsx loader). */
  start_ms: number
  import_ms?: number
  create_ms?: number
  first_retrieve_ms?: number
}

async function main(): Promise<void> {
  const [mode, driver, path, key] = process.argv.slice(2)
  const result: ColdResult = { start_ms: start }
  if (mode === 'sdk') {
    const t0 = performance.now()
    const { createLTM } = await import('../src/index.node.js')
    const t1 = performance.now()
    const ltm = await createLTM({ backend: 'sqlite', path: path!, driver: driver as 'better-sqlite3' | 'libsql' })
    const t2 = performance.now()
    const found = await ltm.retrieve(key!)
    const t3 = performance.now()
    if (!found.success || !found.found) throw new Error(`cold start: retrieve failed: ${JSON.stringify(found)}`)
    await ltm.close()
    Object.assign(result, { import_ms: t1 - t0, create_ms: t2 - t1, first_retrieve_ms: t3 - t2 })
  } else if (mode !== 'baseline') {
    throw new Error('usage: cold-child.ts baseline | sdk <driver> <path> <key>')
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

await main()

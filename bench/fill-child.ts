/**
 * Child process: fills a fresh database with N corpus memories in batches of 500 (SDK storeBatch
 * or the raw equivalent) and reports throughput and memory. Run with --expose-gc so the memory
 * figures are after a full collection. Prints one JSON line.
 *   node --expose-gc --import tsx bench/fill-child.ts <sdk|raw> <driver> <size> <path>
 */
import { BATCH_SIZE, memories, toBatch } from './corpus.js'
import { RawStore, prepareWriteStatements, type Driver } from './raw.js'
import { check, openSdk } from './sdk.js'
import { elapsedNs, now } from './stats.js'

export interface FillResult {
  side: 'sdk' | 'raw'
  driver: Driver
  size: number
  batch_size: number
  /** Time inside storeBatch (SDK) or inside the BEGIN..COMMIT (raw); corpus generation excluded. */
  seconds: number
  memories_per_s: number
  memory_before: NodeJS.MemoryUsage
  memory_after: NodeJS.MemoryUsage
  max_rss_bytes: number
}

function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    gc()
    gc()
  }
  return process.memoryUsage()
}

async function main(): Promise<void> {
  const [side, driver, sizeText, path] = process.argv.slice(2) as ['sdk' | 'raw', Driver, string, string]
  const size = Number(sizeText)
  if ((side !== 'sdk' && side !== 'raw') || !path || !Number.isInteger(size)) throw new Error('usage: fill-child.ts <sdk|raw> <driver> <size> <path>')
  let inside = 0
  let memoryBefore: NodeJS.MemoryUsage
  let memoryAfter: NodeJS.MemoryUsage
  if (side === 'sdk') {
    const ltm = await openSdk(driver, path)
    memoryBefore = collect()
    for (let i = 0; i < size; i += BATCH_SIZE) {
      const entries = toBatch(memories(i, Math.min(BATCH_SIZE, size - i)))
      const start = now()
      const result = await ltm.storeBatch(entries)
      inside += elapsedNs(start)
      check(result, 'storeBatch')
    }
    memoryAfter = collect()
    await ltm.close()
  } else {
    const raw = await RawStore.open(driver, path)
    memoryBefore = collect()
    for (let i = 0; i < size; i += BATCH_SIZE) {
      const statements = await prepareWriteStatements(memories(i, Math.min(BATCH_SIZE, size - i)), Date.now())
      const start = now()
      raw.write(statements)
      inside += elapsedNs(start)
    }
    memoryAfter = collect()
    raw.close()
  }
  const seconds = inside / 1e9
  const result: FillResult = {
    side,
    driver,
    size,
    batch_size: BATCH_SIZE,
    seconds,
    memories_per_s: size / seconds,
    memory_before: memoryBefore,
    memory_after: memoryAfter,
    max_rss_bytes: process.resourceUsage().maxRSS * 1024,
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

await main()

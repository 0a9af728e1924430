/** Latency samples and their summaries. Times are nanoseconds from process.hrtime.bigint(). */

export interface LatencySummary {
  /** Number of samples. */
  n: number
  p50_us: number
  p99_us: number
  mean_us: number
  min_us: number
  max_us: number
}

/** Nearest-rank percentile (p in 0..100) of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50)
}

const round = (x: number, digits = 1): number => Number(x.toFixed(digits))

/** Summary of nanosecond samples, in microseconds. */
export function summarize(samplesNs: readonly number[]): LatencySummary {
  const sorted = [...samplesNs].sort((a, b) => a - b)
  const sum = sorted.reduce((a, b) => a + b, 0)
  return {
    n: sorted.length,
    p50_us: round(percentile(sorted, 50) / 1e3),
    p99_us: round(percentile(sorted, 99) / 1e3),
    mean_us: round(sum / Math.max(1, sorted.length) / 1e3),
    min_us: round((sorted[0] ?? Number.NaN) / 1e3),
    max_us: round((sorted[sorted.length - 1] ?? Number.NaN) / 1e3),
  }
}

export const now = (): bigint => process.hrtime.bigint()
export const elapsedNs = (start: bigint): number => Number(process.hrtime.bigint() - start)

/** Times one call of an async (or sync) function, in ns. */
export async function timeOnce(fn: () => unknown): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start)
}

/** ns per call of a synchronous function, over `iterations` calls after `warmup` calls. */
export function nsPerCall(fn: (i: number) => unknown, iterations: number, warmup = Math.min(1000, iterations)): number {
  for (let i = 0; i < warmup; i++) fn(i)
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) fn(i)
  return Number(process.hrtime.bigint() - start) / iterations
}

/** ns per call of an async function, awaited one at a time. */
export async function nsPerAsyncCall(fn: (i: number) => Promise<unknown>, iterations: number, warmup = Math.min(500, iterations)): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn(i)
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) await fn(i)
  return Number(process.hrtime.bigint() - start) / iterations
}

export { round }

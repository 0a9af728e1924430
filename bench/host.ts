import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { round } from './stats.js'

/** The repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Where a bench ran, as every results file records it. */
export interface HostInfo {
  cpu_model: string
  cpus: number
  total_memory_bytes: number
  platform: string
  release: string
  node: string
  load_average_start: number[]
  /** Set when the run ends (`loadAverage()`). */
  load_average_end: number[]
}

export const loadAverage = (): number[] => os.loadavg().map((x) => round(x, 2))

export function hostInfo(loadAverageStart: number[] = loadAverage()): HostInfo {
  const cpus = os.cpus()
  return {
    cpu_model: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    total_memory_bytes: os.totalmem(),
    platform: os.platform(),
    release: os.release(),
    node: process.version,
    load_average_start: loadAverageStart,
    load_average_end: [],
  }
}

/** The installed version of a package (from node_modules), or `missing`. */
export function packageVersion(name: string, missing = 'not installed'): string {
  try {
    return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return missing
  }
}

/** Writes `results` as one line of JSON to outDir/fileName; returns the file's path. */
export function writeResultsJson(outDir: string, fileName: string, results: unknown): string {
  mkdirSync(outDir, { recursive: true })
  const file = path.join(outDir, fileName)
  writeFileSync(file, JSON.stringify(results) + '\n')
  return file
}

/**
 * Rewrites BENCHMARKS.md through `update` (given its current text, or a bare heading): the one in
 * `outDir` when the run was given `--out`, else the repository's. Returns the file's path.
 */
export function updateBenchmarks(outDir: string | undefined, update: (markdown: string) => string): string {
  const file = outDir ? path.join(outDir, 'BENCHMARKS.md') : path.join(REPO_ROOT, 'BENCHMARKS.md')
  writeFileSync(file, update(existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n'))
  return file
}

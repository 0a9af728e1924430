/** Small display helpers. */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–'
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`
}

/** Browsers coarsen performance.now() to 0.1 ms without cross-origin isolation: no false precision. */
export function formatMs(ms: number): string {
  if (ms < 0.1) return '<0.1 ms'
  if (ms < 10) return `${ms.toFixed(1)} ms`
  return `${Math.round(ms)} ms`
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'short' })
const STEPS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Infinity],
]

/** "in 5 min", "3 sec. ago", "now". */
export function relativeTime(iso: string, now: number = Date.now()): string {
  let amount = (Date.parse(iso) - now) / 1000
  if (!Number.isFinite(amount)) return iso
  if (Math.abs(amount) < 5) return 'just now'
  for (const [unit, size] of STEPS) {
    if (Math.abs(Math.round(amount)) < size) return relative.format(Math.round(amount), unit)
    amount /= size
  }
  return iso
}

/** `sha256:0d90db7a…f710`: enough to tell hashes apart at a glance. */
export function shortHash(hash: string): string {
  const [algorithm, hex] = hash.includes(':') ? (hash.split(':', 2) as [string, string]) : ['', hash]
  const short = hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex
  return algorithm ? `${algorithm}:${short}` : short
}

/** A JSON value on one line, for metadata tags. */
export function compactJson(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

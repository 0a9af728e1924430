/**
 * Sections of BENCHMARKS.md that a bench of their own writes between marker comments (`npm run
 * bench:browser`, `npm run bench:remote`), and that `npm run bench` puts back, rendered from that
 * bench's newest results file, when it regenerates the whole file.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'results')

export interface MarkedSectionOptions<R> {
  /** Marker name: `<!-- ${id}:begin — ... -->` … `<!-- ${id}:end -->`. */
  id: string
  /** The npm script that writes the section, named in its begin marker. */
  command: string
  /** Results files are `${prefix}-YYYY-MM-DD.json` (full runs) and `${prefix}-YYYY-MM-DD-quick.json`. */
  prefix: string
  render(results: R): string
  /**
   * Where a section that is not there yet goes: before the first of these strings found in the
   * file (another section's begin marker), else at the end.
   */
  insertBefore?: string[]
}

export interface MarkedSection<R> {
  begin: string
  end: string
  resultsFile(date: string, quick: boolean): string
  /** The section between its markers. */
  wrap(section: string): string
  /** Replaces the marked section of `markdown` with `section`, or inserts it (see `insertBefore`). */
  replace(markdown: string, section: string): string
  /** The newest full (not --quick) results file in `dir`, or null. */
  newest(dir?: string): { file: string; results: R } | null
  /** The marked section rendered from the newest results file, or '' when there is none (for bench/report.ts). */
  fromNewestResults(dir?: string): string
}

export function markedSection<R>(options: MarkedSectionOptions<R>): MarkedSection<R> {
  const begin = `<!-- ${options.id}:begin — written by \`${options.command}\`; \`npm run bench\` keeps it -->`
  const end = `<!-- ${options.id}:end -->`
  // Matched without the command text, so a marker written by an older wording is still found.
  const beginPrefix = `<!-- ${options.id}:begin —`
  const fullRun = new RegExp(`^${options.prefix}-\\d{4}-\\d{2}-\\d{2}\\.json$`)
  const wrap = (section: string): string => `${begin}\n${section.trimEnd()}\n${end}`
  const newest = (dir: string = RESULTS_DIR): { file: string; results: R } | null => {
    if (!existsSync(dir)) return null
    const file = readdirSync(dir)
      .filter((name) => fullRun.test(name))
      .sort()
      .at(-1)
    return file ? { file, results: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as R } : null
  }
  return {
    begin,
    end,
    resultsFile: (date, quick) => `${options.prefix}-${date}${quick ? '-quick' : ''}.json`,
    wrap,
    replace(markdown, section) {
      const from = markdown.indexOf(beginPrefix)
      const to = markdown.indexOf(end)
      if (from >= 0 && to > from) return markdown.slice(0, from) + wrap(section) + markdown.slice(to + end.length)
      for (const marker of options.insertBefore ?? []) {
        const at = markdown.indexOf(marker)
        if (at >= 0) return `${markdown.slice(0, at)}${wrap(section)}\n\n${markdown.slice(at)}`
      }
      return `${markdown.trimEnd()}\n\n${wrap(section)}\n`
    },
    newest,
    fromNewestResults(dir) {
      const found = newest(dir)
      return found ? wrap(options.render(found.results)) : ''
    },
  }
}

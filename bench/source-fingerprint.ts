import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

/** sha256 over every src/**\/*.ts under `root` (paths and contents), so a results file names the code it measured. */
export function sourceFingerprint(root: string): string {
  const hash = createHash('sha256')
  const walk = (dir: string): string[] =>
    readdirSync(dir)
      .sort()
      .flatMap((name) => {
        const full = path.join(dir, name)
        return statSync(full).isDirectory() ? walk(full) : name.endsWith('.ts') ? [full] : []
      })
  for (const file of walk(path.join(root, 'src'))) hash.update(path.relative(root, file)).update('\0').update(readFileSync(file)).update('\0')
  return hash.digest('hex')
}

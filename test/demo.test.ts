/** `npm run demo` (scripts/demo.ts) runs start to finish and shows what it promises. */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { cwd: ROOT })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }))
  })
}

it('runs the scripted session and every check passes', { timeout: 60_000 }, async () => {
  const { code, stdout, stderr } = await runDemo()
  expect(stderr).toBe('')
  expect(code, stdout).toBe(0)
  expect(stdout).toContain('stored 20 memories: 7 preferences, 6 facts, 7 tasks')
  // ranked search shows scores with three decimals, best first
  expect(stdout).toMatch(/^ +1 +\d+\.\d{3} +task:report +task +3 +Finish the Q3 project report/m)
  // the metadata filter drops the fact and the priority-1 task
  const filtered = stdout.slice(stdout.indexOf('== 3.'), stdout.indexOf('== 4.'))
  expect(filtered).toContain('task:report')
  expect(filtered).not.toMatch(/task:visa|fact:job/)
  // ttl: gone after the clock moves on, then cleaned up
  expect(stdout).toContain('✓ expired: context:trip is gone')
  expect(stdout).toContain('cleanupExpired() deleted 1 expired memory')
  expect(stdout).toContain('✓ re-store pref:coffee unchanged -> stored: false, deduplicated: true')
  expect(stdout).toContain('✓ rolled back: task:temp was never stored')
  // the restart phase ran in another process and found the memory
  expect(stdout).toMatch(/\| process \d+ opened .*memory\.db/)
  expect(stdout).toMatch(/\| +\d+\.\d{3} +pref:coffee +Takes coffee as a cortado/)
  expect(stdout).toContain('✓ the new process (exit 0) found pref:coffee: memories survived the restart')
  expect(stdout).not.toContain('✗')
  expect(stdout.trimEnd().endsWith('demo done: every check passed')).toBe(true)
})

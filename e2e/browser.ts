/** Launches Debian's Chromium through playwright-core (no browser download: `npx playwright install` cannot work here). */
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** The flags from /work/shared/platform.md ("Browser"); the user-data-dir is passed by launchPersistentContext. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export interface RunningBrowser {
  context: BrowserContext
  /** Closes Chromium and removes its temporary user-data-dir. */
  close(): Promise<void>
}

/** Fails (never skips) when Chromium is not installed. */
export function assertChromiumInstalled(path: string = CHROMIUM_PATH): void {
  try {
    accessSync(path, constants.X_OK)
  } catch {
    throw new Error(
      `Chromium is not installed at ${path}. Install it with \`apt-get install -y chromium\` ` +
        '(scripts/test-all.sh does), or set CHROMIUM_PATH. The browser e2e suite never skips.',
    )
  }
}

/**
 * Launches Chromium on a fresh temporary profile, or on `userDataDir` to come back to a profile
 * (a browser restart); a given profile is left in place on close.
 */
export async function launchChromium(options: { userDataDir?: string } = {}): Promise<RunningBrowser> {
  assertChromiumInstalled()
  const owned = options.userDataDir === undefined
  const userDataDir = options.userDataDir ?? (await mkdtemp(join(tmpdir(), 'agent-ltm-e2e-chromium-')))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
    })
  } catch (error) {
    if (owned) await rm(userDataDir, { recursive: true, force: true })
    throw error
  }
  return {
    context,
    async close() {
      try {
        await context.close()
      } finally {
        if (owned) await rm(userDataDir, { recursive: true, force: true })
      }
    },
  }
}

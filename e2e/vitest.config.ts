// Runs only the browser e2e tests: `npm run e2e` (= vitest run --config e2e/vitest.config.ts).
// Needs `npm run build` first (they test dist/) and Chromium at /usr/bin/chromium.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['e2e/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
})

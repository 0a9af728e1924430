// The agent-ltm playground: `npm run playground` (dev server) or `npm run playground:build`.
// `agent-ltm` is aliased to the SDK's source entry, so the page always runs the current code.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const playgroundDir = fileURLToPath(new URL('.', import.meta.url))
const repoRoot = fileURLToPath(new URL('..', import.meta.url))

export default defineConfig({
  root: playgroundDir,
  clearScreen: false,
  resolve: {
    // Exact match only: `agent-ltm/wasm/...` keeps resolving through the package.
    alias: [{ find: /^agent-ltm$/, replacement: fileURLToPath(new URL('../src/index.browser.ts', import.meta.url)) }],
  },
  server: {
    // The SDK sources (src/) and the wasm binary (wasm/) live outside playground/.
    fs: { allow: [repoRoot] },
  },
  optimizeDeps: {
    // sql.js is CommonJS and only reached through a dynamic import: pre-bundle it at start-up so
    // the first page load does not trigger a re-optimisation and a full reload.
    include: ['sql.js'],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
})

import { defineConfig } from 'tsup'

// Two builds from one source: Node (native drivers) and browser/worker (no Node built-ins).
export default defineConfig([
  {
    entry: { 'index.node': 'src/index.node.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    dts: true,
    splitting: true,
    sourcemap: true,
    clean: true,
    external: ['better-sqlite3', 'libsql', 'sql.js'],
  },
  {
    entry: { 'index.browser': 'src/index.browser.ts' },
    format: ['esm'],
    platform: 'browser',
    target: 'es2022',
    dts: true,
    splitting: true,
    sourcemap: true,
    external: ['sql.js'],
  },
  {
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    // One file: split chunks of this build would each get the banner.
    splitting: false,
    external: ['better-sqlite3', 'libsql', 'sql.js'],
  },
])

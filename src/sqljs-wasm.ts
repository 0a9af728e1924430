/**
 * Where the sql.js WebAssembly binary shipped in `agent-ltm/wasm/` lives. This module sits directly
 * in src/ (and its build output directly in dist/), so the same relative URL reaches the package's
 * wasm/ folder from both; bundlers (Vite, webpack 5, esbuild) see `new URL(..., import.meta.url)`
 * and emit the file as an asset.
 */
export function shippedSqlJsWasmUrl(): URL {
  return new URL('../wasm/sql-wasm.wasm', import.meta.url)
}

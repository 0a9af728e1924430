/**
 * Where the SQL a Supabase project runs once for agent-ltm lives: `supabase/agent-ltm.sql` in the
 * package. This module sits directly in src/ (and is bundled into dist/cli.js, directly in dist/),
 * so the same relative URL reaches the package's supabase/ folder from both. Node only (the CLI).
 */
export function supabaseSqlUrl(): URL {
  return new URL('../supabase/agent-ltm.sql', import.meta.url)
}

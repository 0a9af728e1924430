import { LtmError } from './errors.js'
import { loadBackend, openMemory, type BackendOptions } from './registry.js'
import type { LTM } from './types.js'

export interface SettingsContext {
  /** Variables for `${VAR}` and `${VAR:-default}`. @default process.env where it exists */
  env?: Record<string, string | undefined>
  /** Values for `{{ secrets.name }}`. */
  secrets?: Record<string, string | undefined>
}

const ENV_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g
const SECRET_PATTERN = /\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g

function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function expand(value: unknown, context: Required<SettingsContext>, path: string): unknown {
  if (typeof value === 'string') {
    return value
      .replace(ENV_PATTERN, (_, name: string, fallback: string | undefined) => {
        const found = context.env[name]
        if (found !== undefined && found !== '') return found
        if (fallback !== undefined) return fallback
        throw new LtmError('invalid_argument', `settings ${path}: environment variable ${name} is not set (write \${${name}:-default} for a default)`)
      })
      .replace(SECRET_PATTERN, (_, name: string) => {
        const found = context.secrets[name]
        if (found === undefined) throw new LtmError('invalid_argument', `settings ${path}: secret "${name}" was not provided in { secrets }`)
        return found
      })
  }
  if (Array.isArray(value)) return value.map((item, i) => expand(item, context, `${path}[${i}]`))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camelCase(k), expand(v, context, `${path}.${k}`)]))
  }
  return value
}

/**
 * Finds the LTM block: `settings.ltm` (agent YAML), a top-level `ltm`, or the flat `ltm_*` keyword
 * names of the Python engine (`ltm_backend`, `ltm_url`, `ltm_auth_token`, ...).
 */
function ltmBlock(document: Record<string, unknown>): Record<string, unknown> {
  const settings = document.settings as Record<string, unknown> | undefined
  if (settings && typeof settings === 'object' && settings.ltm && typeof settings.ltm === 'object') return settings.ltm as Record<string, unknown>
  if (document.ltm && typeof document.ltm === 'object') return document.ltm as Record<string, unknown>
  const flat = Object.entries(document).filter(([key]) => key.startsWith('ltm_'))
  if (flat.length > 0) return Object.fromEntries(flat.map(([key, value]) => [key.slice(4), value]))
  throw new LtmError('invalid_argument', 'settings have no LTM configuration: expected settings.ltm, ltm, or ltm_backend keys')
}

/** Resolves settings into createLTM options without opening anything. */
export async function resolveSettings(input: string | Record<string, unknown>, context: SettingsContext = {}): Promise<BackendOptions> {
  // yaml loads only when text is given, so the core stays small for code that passes objects.
  const document = typeof input === 'string' ? ((await import('yaml')).parse(input) as unknown) : input
  if (!document || typeof document !== 'object' || Array.isArray(document)) {
    throw new LtmError('invalid_argument', 'settings must be a YAML mapping or an object')
  }
  const processEnv = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {}
  const resolved = expand(ltmBlock(document as Record<string, unknown>), { env: context.env ?? processEnv, secrets: context.secrets ?? {} }, 'ltm') as Record<string, unknown>
  const backend = resolved.backend ?? 'sqlite'
  if (typeof backend !== 'string') throw new LtmError('invalid_argument', 'settings ltm.backend must be a string')
  const definition = await loadBackend(backend)
  const missing = definition.requiredOptions.filter((key) => resolved[key] === undefined)
  if (missing.length > 0) {
    const names = missing.map((key) => `${key} (ltm_${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)})`)
    throw new LtmError('invalid_argument', `settings for backend "${backend}" are missing ${names.join(', ')}`)
  }
  return { ...resolved, backend } as BackendOptions
}

/**
 * Opens memory from the spec's agent settings.
 * @example await createLTMFromSettings('settings:\n  ltm:\n    backend: sqlite\n    path: ${LTM_PATH:-./memory.db}\n')
 */
export async function createLTMFromSettings(input: string | Record<string, unknown>, context: SettingsContext = {}): Promise<LTM> {
  return openMemory(await resolveSettings(input, context))
}

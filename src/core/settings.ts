import { LtmError } from './errors.js'
import { loadBackend, openMemory, type BackendOptions } from './registry.js'
import type { LTM } from './types.js'

export interface SettingsContext {
  /** Variables for `${VAR}` and `${VAR:-default}`. @default process.env where it exists */
  env?: Record<string, string | undefined>
  /** Values for `{{ secrets.name }}`. */
  secrets?: Record<string, string | undefined>
}

// One pass over both forms, so a value substituted for one is never expanded again as the other.
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g
const WHOLE_PLACEHOLDER = new RegExp(`^(?:${PLACEHOLDER.source})$`)

function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function expand(value: unknown, context: Required<SettingsContext>, path: string): unknown {
  if (typeof value === 'string') {
    const expanded = value.replace(PLACEHOLDER, (_, name: string | undefined, fallback: string | undefined, secret: string | undefined) => {
      if (secret !== undefined) {
        const found = context.secrets[secret]
        if (found === undefined) throw new LtmError('invalid_argument', `settings ${path}: secret "${secret}" was not provided in { secrets }`)
        return found
      }
      const found = context.env[name!]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return fallback
      throw new LtmError('invalid_argument', `settings ${path}: environment variable ${name} is not set (write \${${name}:-default} for a default)`)
    })
    // A value that was only a placeholder takes the YAML type of what it became: `${T:-100}` is the number 100.
    return expanded !== value && WHOLE_PLACEHOLDER.test(value) ? scalar(expanded) : expanded
  }
  if (Array.isArray(value)) return value.map((item, i) => expand(item, context, `${path}[${i}]`))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camelCase(k), expand(v, context, `${path}.${k}`)]))
  }
  return value
}

function scalar(text: string): unknown {
  if (/^-?\d+(?:\.\d+)?$/.test(text)) return Number(text)
  if (text === 'true' || text === 'false') return text === 'true'
  return text
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Finds the LTM block: `settings.ltm` (agent YAML), a top-level `ltm`, or the flat `ltm_*` keyword
 * names of the Python engine (`ltm_backend`, `ltm_url`, `ltm_auth_token`, ...).
 */
function ltmBlock(document: Record<string, unknown>): Record<string, unknown> {
  const settings = document.settings
  const block = isMapping(settings) && settings.ltm !== undefined ? settings.ltm : document.ltm
  if (block !== undefined && block !== null) {
    if (!isMapping(block)) throw new LtmError('invalid_argument', 'settings ltm must be a mapping of options like { backend: sqlite, path: ./memory.db }')
    return block
  }
  const flat = Object.entries(document).filter(([key]) => key.startsWith('ltm_'))
  if (flat.length > 0) return Object.fromEntries(flat.map(([key, value]) => [key.slice(4), value]))
  throw new LtmError('invalid_argument', 'settings have no LTM configuration: expected settings.ltm, ltm, or ltm_backend keys')
}

/** Resolves settings into createLTM options without opening anything. */
export async function resolveSettings(input: string | Record<string, unknown>, context: SettingsContext = {}): Promise<BackendOptions> {
  // yaml loads only when text is given, so the core stays small for code that passes objects.
  let document: unknown = input
  if (typeof input === 'string') {
    const { parse } = await import('yaml')
    try {
      document = parse(input)
    } catch (error) {
      throw new LtmError('invalid_argument', `settings are not valid YAML: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
  }
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

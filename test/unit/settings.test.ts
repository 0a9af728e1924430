import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LtmError, createLTMFromSettings, registerBackend, resolveSettings, type SettingsContext } from '../../src/index.node.js'

const SECRET = 'TOPSECRET-8f2c1d'

/** Expects an LtmError('invalid_argument') and returns its message. */
async function rejects(input: string | Record<string, unknown>, context: SettingsContext = {}): Promise<string> {
  let thrown: unknown
  try {
    await resolveSettings(input, context)
  } catch (error) {
    thrown = error
  }
  expect(thrown, `resolveSettings(${JSON.stringify(input)}) should throw`).toBeInstanceOf(LtmError)
  expect((thrown as LtmError).code).toBe('invalid_argument')
  expect((thrown as LtmError).name).toBe('LtmError')
  return (thrown as LtmError).message
}

const tempDirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-ltm-settings-'))
  tempDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

describe('resolveSettings: where the LTM block is', () => {
  it('agent YAML with a settings.ltm block', async () => {
    const yaml = 'name: my-agent\nsettings:\n  model: gpt\n  ltm:\n    backend: sqlite\n    path: /data/memory.db\n    busy_timeout_ms: 250\n'
    expect(await resolveSettings(yaml, { env: {} })).toEqual({ backend: 'sqlite', path: '/data/memory.db', busyTimeoutMs: 250 })
  })

  it('a top-level ltm block', async () => {
    expect(await resolveSettings('ltm:\n  backend: sqlite\n  path: ./m.db\n', { env: {} })).toEqual({ backend: 'sqlite', path: './m.db' })
  })

  it('settings.ltm wins over a top-level ltm', async () => {
    expect(await resolveSettings('settings:\n  ltm:\n    path: a\nltm:\n  path: b\n', { env: {} })).toEqual({ backend: 'sqlite', path: 'a' })
  })

  it('flat ltm_* keyword names of the Python engine, in an object', async () => {
    expect(await resolveSettings({ ltm_backend: 'sqlite', ltm_path: '/b.db', ltm_busy_timeout_ms: 5, unrelated: 1, model: 'x' }, { env: {} })).toEqual({
      backend: 'sqlite',
      path: '/b.db',
      busyTimeoutMs: 5,
    })
  })

  it('flat ltm_* keys in YAML text', async () => {
    expect(await resolveSettings('ltm_backend: sqlite\nltm_path: /c.db\nltm_max_value_bytes: 1024\n', { env: {} })).toEqual({
      backend: 'sqlite',
      path: '/c.db',
      maxValueBytes: 1024,
    })
  })

  it('an object with a settings.ltm block', async () => {
    expect(await resolveSettings({ settings: { ltm: { path: '/d.db', max_key_bytes: 64 } } }, { env: {} })).toEqual({
      backend: 'sqlite',
      path: '/d.db',
      maxKeyBytes: 64,
    })
  })

  it('backend defaults to sqlite', async () => {
    expect(await resolveSettings('ltm: {}\n', { env: {} })).toEqual({ backend: 'sqlite' })
    expect(await resolveSettings({ ltm: { path: 'x' } }, { env: {} })).toEqual({ backend: 'sqlite', path: 'x' })
  })
})

describe('resolveSettings: key names', () => {
  it('snake_case becomes camelCase', async () => {
    const yaml = 'ltm:\n  busy_timeout_ms: 100\n  max_value_bytes: 2048\n  max_key_bytes: 32\n  namespace: team\n'
    expect(await resolveSettings(yaml, { env: {} })).toEqual({ backend: 'sqlite', busyTimeoutMs: 100, maxValueBytes: 2048, maxKeyBytes: 32, namespace: 'team' })
  })

  it('camelCase keys pass through', async () => {
    expect(await resolveSettings('ltm:\n  busyTimeoutMs: 7\n', { env: {} })).toEqual({ backend: 'sqlite', busyTimeoutMs: 7 })
  })

  it('values keep their YAML types', async () => {
    const resolved = (await resolveSettings('ltm:\n  a: 1\n  b: true\n  c: null\n  d: "1"\n  e: [1, x]\n', { env: {} })) as unknown as Record<string, unknown>
    expect(resolved).toEqual({ backend: 'sqlite', a: 1, b: true, c: null, d: '1', e: [1, 'x'] })
  })
})

describe('resolveSettings: ${VAR} and {{ secrets.name }}', () => {
  it('${VAR} from the given env', async () => {
    expect(await resolveSettings('ltm:\n  path: ${P}\n', { env: { P: '/from/env.db' } })).toEqual({ backend: 'sqlite', path: '/from/env.db' })
  })

  it('${VAR:-default} uses the default when unset or empty, the value when set', async () => {
    expect(await resolveSettings('ltm:\n  path: ${P:-/default.db}\n', { env: {} })).toEqual({ backend: 'sqlite', path: '/default.db' })
    expect(await resolveSettings('ltm:\n  path: ${P:-/default.db}\n', { env: { P: '' } })).toEqual({ backend: 'sqlite', path: '/default.db' })
    expect(await resolveSettings('ltm:\n  path: ${P:-/default.db}\n', { env: { P: '/set.db' } })).toEqual({ backend: 'sqlite', path: '/set.db' })
    expect(await resolveSettings('ltm:\n  path: "${P:-}x"\n', { env: {} })).toEqual({ backend: 'sqlite', path: 'x' })
  })

  it('several references in one string, in nested values and lists', async () => {
    const yaml = 'ltm:\n  path: "${DIR}/${NAME:-memory}.db"\n  extra:\n    list:\n      - ${A:-one}\n      - nested_key: ${B}\n'
    const resolved = (await resolveSettings(yaml, { env: { DIR: '/var/data', B: 'bee' } })) as unknown as Record<string, unknown>
    expect(resolved).toEqual({ backend: 'sqlite', path: '/var/data/memory.db', extra: { list: ['one', { nestedKey: 'bee' }] } })
  })

  it('the backend name itself can come from env', async () => {
    expect(await resolveSettings('ltm:\n  backend: ${B:-sqlite}\n', { env: {} })).toEqual({ backend: 'sqlite' })
  })

  it('reads process.env when no env is given', async () => {
    const name = 'AGENT_LTM_UNIT_TEST_PATH'
    process.env[name] = '/from/process.db'
    try {
      expect(await resolveSettings(`ltm:\n  path: \${${name}}\n`)).toEqual({ backend: 'sqlite', path: '/from/process.db' })
    } finally {
      delete process.env[name]
    }
  })

  it('{{ secrets.name }} from the given secrets, with or without spaces', async () => {
    expect(await resolveSettings('ltm:\n  token: "{{ secrets.db_token }}"\n', { secrets: { db_token: SECRET } })).toEqual({ backend: 'sqlite', token: SECRET })
    expect(await resolveSettings('ltm:\n  token: "{{secrets.db_token}}"\n', { secrets: { db_token: SECRET } })).toEqual({ backend: 'sqlite', token: SECRET })
    expect(await resolveSettings('ltm:\n  token: "Bearer {{ secrets.a-b.c }}!"\n', { secrets: { 'a-b.c': 'v' } })).toEqual({ backend: 'sqlite', token: 'Bearer v!' })
  })

  it('env and secrets together', async () => {
    expect(await resolveSettings('ltm:\n  url: "${HOST:-db.example}/{{ secrets.s }}"\n', { env: {}, secrets: { s: 'x' } })).toEqual({ backend: 'sqlite', url: 'db.example/x' })
  })

  it('a secret value is not expanded again as ${VAR}', async () => {
    expect(await resolveSettings('ltm:\n  token: "{{ secrets.s }}"\n', { env: {}, secrets: { s: '${NOT_EXPANDED}' } })).toEqual({ backend: 'sqlite', token: '${NOT_EXPANDED}' })
  })

  it('an env value is not expanded again as {{ secrets.name }}', async () => {
    // Values are substituted, not re-interpreted: an environment variable holding the text
    // "{{ secrets.s }}" must not pull a secret into the setting.
    const resolved = await resolveSettings('ltm:\n  path: ${P}\n', { env: { P: '{{ secrets.s }}' }, secrets: { s: SECRET } })
    expect(resolved).toEqual({ backend: 'sqlite', path: '{{ secrets.s }}' })
  })

  it('keys are not expanded', async () => {
    const resolved = (await resolveSettings({ ltm: { '${K:-k}': 1 } }, { env: {} })) as unknown as Record<string, unknown>
    expect(resolved).toEqual({ backend: 'sqlite', '${K:-k}': 1 })
  })
})

describe('resolveSettings: errors are LtmError invalid_argument', () => {
  it('a missing env var without default names the variable and the setting', async () => {
    const message = await rejects('ltm:\n  path: ${MISSING_VAR}\n', { env: {} })
    expect(message).toContain('MISSING_VAR')
    expect(message).toContain('ltm.path')
    expect(message).toContain('${MISSING_VAR:-default}')
  })

  it('a missing env var deep inside names the full path', async () => {
    const message = await rejects('ltm:\n  extra:\n    list:\n      - ok\n      - ${NOPE}\n', { env: {} })
    expect(message).toContain('ltm.extra.list[1]')
    expect(message).toContain('NOPE')
  })

  it('a missing secret names the secret', async () => {
    const message = await rejects('ltm:\n  token: "{{ secrets.db_token }}"\n', { secrets: {} })
    expect(message).toContain('"db_token"')
    expect(message).toContain('ltm.token')
    expect(await rejects('ltm:\n  token: "{{ secrets.db_token }}"\n')).toContain('db_token')
  })

  it('an unknown backend lists the registered ones', async () => {
    const message = await rejects('ltm:\n  backend: nope\n', { env: {} })
    expect(message).toContain('unknown backend "nope"')
    expect(message).toContain('sqlite')
  })

  it('a backend that is not a string', async () => {
    expect(await rejects('ltm:\n  backend: 5\n', { env: {} })).toBe('settings ltm.backend must be a string')
  })

  it('no LTM block', async () => {
    const expected = 'settings have no LTM configuration: expected settings.ltm, ltm, or ltm_backend keys'
    expect(await rejects('name: agent\nmodel: x\n')).toBe(expected)
    expect(await rejects('settings:\n  model: x\n')).toBe(expected)
    expect(await rejects({ other: 1 })).toBe(expected)
    expect(await rejects('ltm:\n')).toBe(expected)
    expect(await rejects({})).toBe(expected)
  })

  it('YAML that is not a mapping', async () => {
    const expected = 'settings must be a YAML mapping or an object'
    expect(await rejects('- a\n- b\n')).toBe(expected)
    expect(await rejects('just a string')).toBe(expected)
    expect(await rejects('42')).toBe(expected)
    expect(await rejects('')).toBe(expected)
    expect(await rejects('null')).toBe(expected)
    expect(await rejects([] as unknown as Record<string, unknown>)).toBe(expected)
  })

  it('YAML that does not parse', async () => {
    const message = await rejects(': bad: yaml: [\n')
    expect(message.length).toBeGreaterThan(0)
  })

  it('an ltm block that is a list, not a mapping', async () => {
    // Accepted today as { 0: ..., backend: 'sqlite' }: opens ./agent-memory.db in the working directory.
    await rejects('ltm:\n  - backend: sqlite\n  - path: /x.db\n', { env: {} })
  })

  it('missing required options, with their ltm_* names', async () => {
    registerBackend('unit-needs-options', async () => ({
      requiredOptions: ['url', 'authToken'],
      open: async () => {
        throw new Error('not opened in this test')
      },
    }))
    const message = await rejects({ ltm_backend: 'unit-needs-options', ltm_url: 'x' }, { env: {} })
    expect(message).toBe('settings for backend "unit-needs-options" are missing authToken (ltm_auth_token)')
    const both = await rejects('ltm:\n  backend: unit-needs-options\n', { env: {} })
    expect(both).toBe('settings for backend "unit-needs-options" are missing url (ltm_url), authToken (ltm_auth_token)')
    expect(await resolveSettings({ ltm_backend: 'unit-needs-options', ltm_url: 'u', ltm_auth_token: 't' }, { env: {} })).toEqual({
      backend: 'unit-needs-options',
      url: 'u',
      authToken: 't',
    })
  })
})

describe('resolveSettings: secrets never leak into other failures', () => {
  const secrets = { token: SECRET, other: `${SECRET}-2` }

  async function noLeak(yaml: string, context: SettingsContext): Promise<void> {
    const message = await rejects(yaml, { secrets, ...context })
    expect(message).not.toContain(SECRET)
  }

  it('unknown backend', async () => {
    await noLeak('ltm:\n  backend: nope\n  auth_token: "{{ secrets.token }}"\n', { env: {} })
  })

  it('missing env var in another setting', async () => {
    await noLeak('ltm:\n  auth_token: "{{ secrets.token }}"\n  path: ${MISSING}\n', { env: {} })
    await noLeak('ltm:\n  path: ${MISSING}\n  auth_token: "{{ secrets.token }}"\n', { env: {} })
  })

  it('missing env var in the same string', async () => {
    await noLeak('ltm:\n  url: "{{ secrets.token }}@${MISSING}"\n', { env: {} })
    await noLeak('ltm:\n  url: "${MISSING}@{{ secrets.token }}"\n', { env: {} })
  })

  it('missing secret next to a provided one', async () => {
    await noLeak('ltm:\n  a: "{{ secrets.token }}"\n  b: "{{ secrets.absent }}"\n', { env: {} })
    await noLeak('ltm:\n  a: "{{ secrets.token }}{{ secrets.absent }}"\n', { env: {} })
  })

  it('non-string backend', async () => {
    await noLeak('ltm:\n  backend: 7\n  auth_token: "{{ secrets.token }}"\n', { env: {} })
  })

  it('missing required option', async () => {
    registerBackend('unit-needs-url', async () => ({
      requiredOptions: ['url'],
      open: async () => {
        throw new Error('not opened in this test')
      },
    }))
    await noLeak('ltm:\n  backend: unit-needs-url\n  auth_token: "{{ secrets.token }}"\n', { env: {} })
  })

  it('a backend that fails to open does not echo a secret path', async () => {
    const ltm = await createLTMFromSettings('ltm:\n  path: "{{ secrets.token }}"\n', {
      env: {},
      secrets: { token: join(tempDir(), 'no-such-dir', `${SECRET}.db`) },
    })
    const result = await ltm.store('k', 'v')
    expect(result.success).toBe(false)
    if (!result.success) expect(result.error).not.toContain(SECRET)
    await ltm.close()
  })
})

describe('createLTMFromSettings', () => {
  it('opens a sqlite file that stores and retrieves, and persists across opens', async () => {
    const dir = tempDir()
    const yaml = 'settings:\n  ltm:\n    backend: sqlite\n    path: ${LTM_DIR}/memory.db\n    busy_timeout_ms: 1000\n'
    const context = { env: { LTM_DIR: dir } }
    const ltm = await createLTMFromSettings(yaml, context)
    expect(ltm.backend).toBe('sqlite')
    const stored = await ltm.store('favourite', { drink: 'coffee', sugar: 0 }, { topic: 'preferences' })
    expect(stored).toMatchObject({ success: true, stored: true, key: 'favourite', created: true, expires_at: null })
    const retrieved = await ltm.retrieve('favourite')
    expect(retrieved).toMatchObject({ success: true, found: true, key: 'favourite', value: { drink: 'coffee', sugar: 0 }, metadata: { topic: 'preferences' } })
    const found = await ltm.search('coffee')
    expect(found.success && found.results.map((r) => r.key)).toEqual(['favourite'])
    await ltm.close()
    expect(existsSync(join(dir, 'memory.db'))).toBe(true)

    const reopened = await createLTMFromSettings(yaml, context)
    expect(await reopened.retrieve('favourite')).toMatchObject({ success: true, found: true, value: { drink: 'coffee', sugar: 0 } })
    await reopened.close()
  })

  it('applies namespace and limits from flat Python keyword names', async () => {
    const dir = tempDir()
    const ltm = await createLTMFromSettings({ ltm_backend: 'sqlite', ltm_path: join(dir, 'flat.db'), ltm_namespace: 'team/alpha', ltm_max_key_bytes: 8 }, { env: {} })
    expect(ltm.namespaceName).toBe('team/alpha')
    expect(await ltm.store('short', 1)).toMatchObject({ success: true, stored: true })
    expect(await ltm.store('much-too-long-key', 1)).toMatchObject({ success: false, error_type: 'invalid_input' })
    await ltm.close()
  })

  it('a number setting from an env default works like a YAML number', async () => {
    // ${T:-100} expands to the string "100"; busy_timeout_ms: 100 is the number 100. The backend
    // then fails to open with `Expected the "timeout" option to be a positive integer`.
    const dir = tempDir()
    const ltm = await createLTMFromSettings(`ltm:\n  path: ${join(dir, 'env-number.db')}\n  busy_timeout_ms: \${T:-100}\n`, { env: {} })
    expect(await ltm.store('k', 'v')).toMatchObject({ success: true, stored: true })
    await ltm.close()
  })

  it('throws the same errors as resolveSettings', async () => {
    await expect(createLTMFromSettings('ltm:\n  backend: nope\n', { env: {} })).rejects.toThrow(LtmError)
    await expect(createLTMFromSettings('ltm:\n  path: ${MISSING}\n', { env: {} })).rejects.toThrow(/MISSING/)
  })
})

describe('resolveSettings: the spec keywords of the remote backends', () => {
  it('turso: ltm_url and ltm_auth_token, the token from secrets', async () => {
    const settings = { ltm_backend: 'turso', ltm_url: 'libsql://my-db-user.turso.io', ltm_auth_token: '{{ secrets.turso_auth_token }}' }
    expect(await resolveSettings(settings, { env: {}, secrets: { turso_auth_token: 'tok' } })).toEqual({ backend: 'turso', url: 'libsql://my-db-user.turso.io', authToken: 'tok' })
  })

  it('turso without ltm_url names the missing keyword', async () => {
    await expect(resolveSettings({ ltm_backend: 'turso' }, { env: {} })).rejects.toThrow(/url \(ltm_url\)/)
  })

  it('d1: ltm_account_id, ltm_database_id and ltm_api_token', async () => {
    const settings = 'ltm_backend: d1\nltm_account_id: acc\nltm_database_id: db-1\nltm_api_token: ${CF_TOKEN}\n'
    expect(await resolveSettings(settings, { env: { CF_TOKEN: 'cf' } })).toEqual({ backend: 'd1', accountId: 'acc', databaseId: 'db-1', apiToken: 'cf' })
  })
})

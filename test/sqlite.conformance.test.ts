import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createLTM, migrate, LtmError, type LTM } from '../src/index.node.js'
import { runConformance, type ConformanceHarness } from './conformance/suite.js'
import { expectFound, expectInvalid, ok } from './conformance/harness.js'

const memoryHarness: ConformanceHarness = {
  open: (options) => createLTM({ backend: 'sqlite', path: ':memory:', ...options }),
}

/** Each open() gets a new database file in a private temp dir; reopen() opens the last one again. */
function fileHarness(): ConformanceHarness {
  let dir: string | undefined
  let count = 0
  let lastPath: string | undefined
  return {
    async open(options) {
      dir ??= mkdtempSync(join(tmpdir(), 'agent-ltm-conformance-'))
      lastPath = join(dir, `store-${count++}.db`)
      return createLTM({ backend: 'sqlite', path: lastPath, ...options })
    },
    async reopen(options) {
      if (!lastPath) throw new Error('reopen() before open()')
      return createLTM({ backend: 'sqlite', path: lastPath, ...options })
    },
    async cleanup() {
      if (dir) rmSync(dir, { recursive: true, force: true })
      dir = undefined
      lastPath = undefined
    },
  }
}

runConformance('sqlite :memory:', memoryHarness, migrate)
runConformance('sqlite file', fileHarness(), migrate)

describe('sqlite: options outside the shared harness', () => {
  const handles: LTM[] = []
  let dir: string | undefined
  const tempPath = (name: string): string => {
    dir ??= mkdtempSync(join(tmpdir(), 'agent-ltm-options-'))
    return join(dir, name)
  }

  afterEach(async () => {
    for (const handle of handles.splice(0)) await handle.close().catch(() => {})
    if (dir) rmSync(dir, { recursive: true, force: true })
    dir = undefined
  })

  it('maxValueBytes limits the JSON size of a value', async () => {
    const ltm = await createLTM({ backend: 'sqlite', path: ':memory:', maxValueBytes: 1000 })
    handles.push(ltm)
    ok(await ltm.store('small', 'x'.repeat(900)))
    expectInvalid(await ltm.store('big', 'x'.repeat(1001)))
    expect(await ltm.retrieve('big')).toMatchObject({ success: true, found: false })
    expectInvalid(await ltm.storeBatch([{ key: 'a', value: 1 }, { key: 'b', value: 'y'.repeat(2000) }]))
    expect(await ltm.retrieve('a')).toMatchObject({ success: true, found: false })
  })

  it('maxKeyBytes limits the UTF-8 size of a key', async () => {
    const ltm = await createLTM({ backend: 'sqlite', path: ':memory:', maxKeyBytes: 10 })
    handles.push(ltm)
    ok(await ltm.store('x'.repeat(10), 1))
    expectInvalid(await ltm.store('x'.repeat(11), 1))
    expectInvalid(await ltm.store('é'.repeat(6), 1))
  })

  it('the namespace option opens a view on that namespace', async () => {
    const path = tempPath('ns.db')
    const user = await createLTM({ backend: 'sqlite', path, namespace: 'user-42' })
    handles.push(user)
    expect(user.namespaceName).toBe('user-42')
    ok(await user.store('k', 'user value'))
    const root = await createLTM({ backend: 'sqlite', path })
    handles.push(root)
    expect(root.namespaceName).toBe('')
    expect(await root.retrieve('k')).toMatchObject({ success: true, found: false })
    expect(expectFound(await root.namespace('user-42').retrieve('k')).value).toBe('user value')
    const nested = await createLTM({ backend: 'sqlite', path: ':memory:', namespace: 'a/b' })
    handles.push(nested)
    expect(nested.namespaceName).toBe('a/b')
  })

  it('an invalid namespace option throws LtmError', async () => {
    for (const namespace of ['a//b', '/a', 'a/']) {
      await expect(createLTM({ backend: 'sqlite', path: ':memory:', namespace })).rejects.toBeInstanceOf(LtmError)
    }
  })

  it('two handles on one file see each other’s writes', async () => {
    const path = tempPath('shared.db')
    const a = await createLTM({ backend: 'sqlite', path })
    const b = await createLTM({ backend: 'sqlite', path })
    handles.push(a, b)
    ok(await a.store('shared', { from: 'a', text: 'shared walrus' }))
    expect(expectFound(await b.retrieve('shared')).value).toEqual({ from: 'a', text: 'shared walrus' })
    expect(ok(await b.search('walrus')).results.map((h) => h.key)).toEqual(['shared'])
  })
})

/**
 * A minimal in-page stand-in for 'vitest', so the shared conformance suite runs unchanged inside
 * a browser. esbuild aliases 'vitest' to this file when it bundles e2e/conformance.page.ts.
 *
 * - describe / it (alias test) / beforeEach / afterEach / beforeAll / afterAll: nested, async,
 *   collected first and then run one test at a time, in order. Hooks follow vitest's defaults:
 *   beforeEach outermost first, afterEach innermost first (sequence.hooks 'stack'), afterEach runs
 *   even when the test or a beforeEach failed. Every test and hook has a timeout.
 * - expect: vitest's own matchers (@vitest/expect on chai), wired up the way vitest does it, so
 *   toEqual, toMatchObject, toStrictEqual, asymmetric matchers, .not, .rejects/.resolves behave
 *   exactly as they do in Node.
 *
 * Anything else the suite might start using (it.skip, it.each, vi, ...) is missing on purpose: the
 * bundle fails to build or the run reports an error, never silently skips.
 */
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  ChaiStyleAssertions,
  GLOBAL_EXPECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  chai,
  customMatchers,
  getState,
  setState,
  type ExpectStatic,
  type MatcherState,
  type MatchersObject,
} from '@vitest/expect'

// ------------------------------------------------------------------------------------------ expect

chai.use(JestExtend)
chai.use(JestChaiExpect)
chai.use(ChaiStyleAssertions)
chai.use(JestAsymmetricMatchers)

function createExpect(): ExpectStatic {
  const expect = ((value: unknown, message?: string) => {
    const { assertionCalls } = getState(expect)
    setState({ assertionCalls: assertionCalls + 1 }, expect)
    return chai.expect(value, message)
  }) as unknown as ExpectStatic
  Object.assign(expect, chai.expect)
  Object.assign(expect, (globalThis as Record<PropertyKey, unknown>)[ASYMMETRIC_MATCHERS_OBJECT])
  expect.getState = () => getState<MatcherState>(expect)
  expect.setState = (state) => setState(state as Partial<MatcherState>, expect)
  setState(
    {
      assertionCalls: 0,
      isExpectingAssertions: false,
      isExpectingAssertionsError: null,
      expectedAssertionsNumber: null,
      expectedAssertionsNumberErrorGen: null,
      testPath: 'test/conformance/suite.ts',
      currentTestName: '',
    },
    expect,
  )
  // Registers matchers on chai and on this expect (untyped in chai's declarations).
  const chaiExpect = chai.expect as unknown as { extend(target: ExpectStatic, matchers: MatchersObject): void }
  expect.extend = (matchers) => chaiExpect.extend(expect, matchers)
  expect.extend(customMatchers)
  return expect
}

export const expect: ExpectStatic = createExpect()
Object.defineProperty(globalThis, GLOBAL_EXPECT, { value: expect, writable: true, configurable: true })

// ------------------------------------------------------------------------------------------ runner

type Fn = () => unknown
/** Per-test and per-hook timeout, as in vitest.config.ts (testTimeout 30 s). */
export const DEFAULT_TIMEOUT_MS = 30_000

interface TestNode {
  kind: 'test'
  name: string
  fn: Fn
  timeout: number
}
interface SuiteNode {
  kind: 'suite'
  name: string
  parent: SuiteNode | undefined
  children: Array<TestNode | SuiteNode>
  beforeAll: Array<{ fn: Fn; timeout: number }>
  afterAll: Array<{ fn: Fn; timeout: number }>
  beforeEach: Array<{ fn: Fn; timeout: number }>
  afterEach: Array<{ fn: Fn; timeout: number }>
}

export interface TestResult {
  /** Full name: the describe blocks and the test, joined with ' > '. */
  name: string
  status: 'passed' | 'failed'
  /** The first error (test, hook or timeout), with the first lines of its stack. */
  error?: string
  durationMs: number
}

function newSuite(name: string, parent: SuiteNode | undefined): SuiteNode {
  return { kind: 'suite', name, parent, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] }
}

const root = newSuite('', undefined)
let current: SuiteNode = root
let collecting = true

function assertCollecting(what: string): void {
  if (!collecting) throw new Error(`vitest-shim: ${what} called while tests are running; only calls at collection time are supported`)
}

function timeoutOf(options: number | { timeout?: number } | undefined): number {
  if (typeof options === 'number') return options
  return options?.timeout ?? DEFAULT_TIMEOUT_MS
}

export function describe(name: string, factory: () => void): void {
  assertCollecting('describe')
  const suite = newSuite(name, current)
  current.children.push(suite)
  const parent = current
  current = suite
  try {
    const returned = factory() as unknown
    if (returned instanceof Promise) throw new Error(`vitest-shim: describe('${name}') got an async factory; collection is synchronous`)
  } finally {
    current = parent
  }
}

export function it(name: string, fn: Fn, options?: number | { timeout?: number }): void {
  assertCollecting('it')
  current.children.push({ kind: 'test', name, fn, timeout: timeoutOf(options) })
}
export const test = it

export function beforeEach(fn: Fn, timeout = DEFAULT_TIMEOUT_MS): void {
  assertCollecting('beforeEach')
  current.beforeEach.push({ fn, timeout })
}
export function afterEach(fn: Fn, timeout = DEFAULT_TIMEOUT_MS): void {
  assertCollecting('afterEach')
  current.afterEach.push({ fn, timeout })
}
export function beforeAll(fn: Fn, timeout = DEFAULT_TIMEOUT_MS): void {
  assertCollecting('beforeAll')
  current.beforeAll.push({ fn, timeout })
}
export function afterAll(fn: Fn, timeout = DEFAULT_TIMEOUT_MS): void {
  assertCollecting('afterAll')
  current.afterAll.push({ fn, timeout })
}

/** Runs fn, failing after `ms` (the timer is cleared either way). */
async function withTimeout(label: string, fn: Fn, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} timed out in ${ms} ms`)), ms)
  })
  try {
    await Promise.race([Promise.resolve().then(fn), timeout])
  } finally {
    clearTimeout(timer)
  }
}

const MAX_MESSAGE_CHARS = 2_000

/** The error's name and message (capped: suite messages can quote megabyte values) and a few stack lines. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, MAX_MESSAGE_CHARS)
  let message = `${error.name}: ${error.message}`
  if (message.length > MAX_MESSAGE_CHARS) message = `${message.slice(0, MAX_MESSAGE_CHARS)}… (${message.length} chars)`
  const stack = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line)).slice(0, 5).join('\n')
  return stack ? `${message}\n${stack}` : message
}

/** Number of tests registered so far (call after the suite is imported). */
export function countRegisteredTests(suite: SuiteNode = root): number {
  return suite.children.reduce((n, child) => n + (child.kind === 'test' ? 1 : countRegisteredTests(child)), 0)
}

function chain(suite: SuiteNode): SuiteNode[] {
  const out: SuiteNode[] = []
  for (let s: SuiteNode | undefined = suite; s; s = s.parent) out.unshift(s)
  return out
}

function fullName(suite: SuiteNode, testName: string): string {
  return [...chain(suite).map((s) => s.name).filter((n) => n !== ''), testName].join(' > ')
}

async function runTest(suite: SuiteNode, node: TestNode, onResult: (result: TestResult) => void): Promise<void> {
  const name = fullName(suite, node.name)
  const started = performance.now()
  const errors: unknown[] = []
  expect.setState({ currentTestName: name, assertionCalls: 0 })
  const suites = chain(suite)
  let setupOk = true
  for (const s of suites) {
    for (const hook of s.beforeEach) {
      if (!setupOk) break
      try {
        await withTimeout(`beforeEach of "${name}"`, hook.fn, hook.timeout)
      } catch (error) {
        errors.push(error)
        setupOk = false
      }
    }
  }
  if (setupOk) {
    try {
      await withTimeout(`test "${name}"`, node.fn, node.timeout)
    } catch (error) {
      errors.push(error)
    }
  }
  for (const s of [...suites].reverse()) {
    for (const hook of [...s.afterEach].reverse()) {
      try {
        await withTimeout(`afterEach of "${name}"`, hook.fn, hook.timeout)
      } catch (error) {
        errors.push(error)
      }
    }
  }
  const durationMs = Math.round(performance.now() - started)
  const result: TestResult = errors.length === 0 ? { name, status: 'passed', durationMs } : { name, status: 'failed', error: describeError(errors[0]), durationMs }
  onResult(result)
}

async function runSuite(suite: SuiteNode, onResult: (result: TestResult) => void): Promise<void> {
  let failedSetup: unknown
  for (const hook of suite.beforeAll) {
    try {
      await withTimeout(`beforeAll of "${fullName(suite, '')}"`, hook.fn, hook.timeout)
    } catch (error) {
      failedSetup = error
      break
    }
  }
  for (const child of suite.children) {
    if (child.kind === 'suite') await runSuite(child, onResult)
    else if (failedSetup !== undefined) onResult({ name: fullName(suite, child.name), status: 'failed', error: `beforeAll failed: ${describeError(failedSetup)}`, durationMs: 0 })
    else await runTest(suite, child, onResult)
  }
  for (const hook of [...suite.afterAll].reverse()) {
    try {
      await withTimeout(`afterAll of "${fullName(suite, '')}"`, hook.fn, hook.timeout)
    } catch (error) {
      onResult({ name: fullName(suite, '(afterAll)'), status: 'failed', error: describeError(error), durationMs: 0 })
    }
  }
}

/** Runs every collected test in order; `onResult` sees each result as soon as it is known. */
export async function runCollected(onResult: (result: TestResult) => void): Promise<void> {
  collecting = false
  await runSuite(root, onResult)
}

import './style.css'
import { createLTM, type BrowserSqliteOptions, type JsonValue, type LTM, type Metadata, type MetadataFilter, type SearchHit, type StoreOptions } from 'agent-ltm'
import sqlWasmUrl from '../../wasm/sql-wasm.wasm?url'
import { compactJson, formatBytes, formatMs, relativeTime, shortHash, truncate } from './format.js'
import { appendHighlighted, appendJsonHighlighted, queryMatcher } from './highlight.js'
import { SEED_MEMORIES, SUGGESTIONS } from './seed.js'
import { PERSIST_OPTIONS, detectStorage, isAvailable, storageEstimate, type PersistMode, type PersistOption } from './storage.js'

const STORE_NAME = 'playground'
const TYPE_PRESETS = ['preference', 'fact', 'task'] as const
const HISTORY_LENGTH = 6
const MAX_VALUE_CHARS = 1200

// ---------------------------------------------------------------------------------------------
// DOM helpers

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id)
  if (!element) throw new Error(`playground: #${id} is missing from index.html`)
  return element as T
}

interface Props {
  class?: string
  text?: string
  title?: string
  testid?: string
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  if (props.class) element.className = props.class
  if (props.text !== undefined) element.textContent = props.text
  if (props.title) element.title = props.title
  if (props.testid) element.dataset.testid = props.testid
  element.append(...children)
  return element
}

function checkedValue(form: HTMLFormElement, name: string): string {
  return (form.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value ?? '').trim()
}

const ui = {
  fatal: byId('fatal'),
  persistSelect: byId<HTMLSelectElement>('persist-select'),
  persistHint: byId('persist-hint'),
  storeForm: byId<HTMLFormElement>('store-form'),
  storeKey: byId<HTMLInputElement>('store-key'),
  storeValue: byId<HTMLTextAreaElement>('store-value'),
  storeMetadata: byId<HTMLTextAreaElement>('store-metadata'),
  storeTtl: byId<HTMLInputElement>('store-ttl'),
  storeButton: byId<HTMLButtonElement>('store-button'),
  storeResult: byId('store-result'),
  metadataChips: byId('metadata-chips'),
  searchForm: byId<HTMLFormElement>('search-form'),
  searchQuery: byId<HTMLInputElement>('search-query'),
  searchFilter: byId<HTMLInputElement>('search-filter'),
  searchLimit: byId<HTMLInputElement>('search-limit'),
  searchError: byId('search-error'),
  suggestions: byId('suggestions'),
  resultsSummary: byId('results-summary'),
  results: byId('results'),
  status: {
    mode: byId('status-mode'),
    name: byId('status-name'),
    opfs: byId('status-opfs'),
    idb: byId('status-idb'),
    estimate: byId('status-estimate'),
    count: byId('status-count'),
    size: byId('status-size'),
    latency: byId('status-latency'),
    lastCall: byId('status-last-call'),
    history: byId('status-history'),
  },
}

// ---------------------------------------------------------------------------------------------
// State and timed calls

let ltm: LTM | undefined
let persist: PersistMode = 'memory'
/** Live memories in the store, from stats(); null before the first refresh. */
let memoryCount: number | null = null
const support = detectStorage()

/** A failure the page itself found (bad JSON in a field) or an exception a call threw. */
interface PageFailure {
  success: false
  error: string
  error_type: string
}

interface Operation {
  op: string
  call: string
  ms: number
  ok: boolean
}

const operations: Operation[] = []

function failureOf(error: unknown): PageFailure {
  const code = (error as { code?: unknown } | null)?.code
  const message = error instanceof Error ? error.message : String(error)
  return { success: false, error_type: typeof code === 'string' ? code : error instanceof Error ? error.name : 'error', error: message }
}

/**
 * Runs one SDK call and measures it. `record` puts it in the status panel as the last operation;
 * the refreshes the page does on its own (re-listing after a write) are measured but not recorded.
 */
async function timed<T extends { success: boolean }>(
  op: string,
  call: string,
  fn: () => Promise<T>,
  record = true,
): Promise<{ result: T | PageFailure; ms: number }> {
  const start = performance.now()
  let result: T | PageFailure
  try {
    result = await fn()
  } catch (error) {
    result = failureOf(error)
  }
  const ms = performance.now() - start
  if (record) recordOperation({ op, call, ms, ok: result.success })
  return { result, ms }
}

function recordOperation(operation: Operation): void {
  operations.unshift(operation)
  operations.length = Math.min(operations.length, HISTORY_LENGTH)
  renderActivity()
}

/** `"text"` as a JS literal, shortened for display. */
function literal(value: unknown, max = 48): string {
  return truncate(JSON.stringify(value) ?? 'undefined', max)
}

// ---------------------------------------------------------------------------------------------
// Opening the store

function persistOption(mode: PersistMode): PersistOption {
  return PERSIST_OPTIONS.find((option) => option.value === mode) ?? PERSIST_OPTIONS[0]!
}

function initialPersistMode(): PersistMode {
  const requested = new URLSearchParams(location.search).get('persist')
  const option = PERSIST_OPTIONS.find((candidate) => candidate.value === requested && isAvailable(candidate, support))
  return (option ?? PERSIST_OPTIONS.find((candidate) => isAvailable(candidate, support)) ?? PERSIST_OPTIONS[0]!).value
}

function renderPersistPicker(): void {
  ui.persistSelect.replaceChildren(
    ...PERSIST_OPTIONS.map((option) => {
      const available = isAvailable(option, support)
      const item = el('option', { text: available ? option.label : `${option.label} (not available here)` })
      item.value = option.value
      item.disabled = !available
      item.selected = option.value === persist
      return item
    }),
  )
  // With a single mode there is nothing to choose; the select still shows where memories live.
  ui.persistSelect.disabled = PERSIST_OPTIONS.length < 2
  ui.persistSelect.title = ui.persistSelect.disabled ? 'The only mode this build of the SDK accepts' : ''
  ui.persistHint.textContent = persistOption(persist).description
}

async function open(mode: PersistMode): Promise<void> {
  document.body.dataset.ready = 'false'
  const previous = ltm
  ltm = undefined
  if (previous) await previous.close().catch(() => undefined)
  persist = mode
  renderPersistPicker()
  ui.persistSelect.disabled = true // until this store is open
  ui.fatal.hidden = true
  const options: BrowserSqliteOptions = { backend: 'sqlite', name: STORE_NAME, persist: mode, wasmUrl: sqlWasmUrl }
  const call = `createLTM({ backend: "sqlite", name: ${literal(STORE_NAME)}, persist: ${literal(mode)} })`
  const start = performance.now()
  try {
    ltm = await createLTM(options)
  } catch (error) {
    const failure = failureOf(error)
    recordOperation({ op: 'createLTM', call, ms: performance.now() - start, ok: false })
    ui.fatal.replaceChildren(el('strong', { text: 'Could not open the memory store. ' }), el('code', { text: failure.error_type }), ` ${failure.error}`)
    ui.fatal.hidden = false
    renderPersistPicker() // another mode may work
    document.body.dataset.ready = 'error'
    return
  }
  recordOperation({ op: 'createLTM', call, ms: performance.now() - start, ok: true })
  renderPersistPicker()
  await refreshStatus()
  await runSearch(false)
  document.body.dataset.ready = 'true'
}

// ---------------------------------------------------------------------------------------------
// Status panel

function availability(target: HTMLElement, available: boolean, note?: string): void {
  target.replaceChildren(el('span', { class: available ? 'dot dot-ok' : 'dot dot-off' }), available ? 'available' : 'not available')
  if (note) target.append(el('span', { class: 'muted', text: ` · ${note}` }))
}

async function refreshStatus(): Promise<void> {
  const option = persistOption(persist)
  ui.status.mode.replaceChildren(el('strong', { text: option.label }), el('span', { class: 'status-note', text: option.description }))
  ui.status.name.textContent = STORE_NAME
  const insecure = window.isSecureContext ? undefined : 'needs https or localhost'
  availability(ui.status.opfs, support.opfs, insecure)
  availability(ui.status.idb, support.indexeddb)

  const [stats, estimate] = await Promise.all([ltm ? ltm.stats().catch(failureOf) : undefined, storageEstimate()])
  ui.status.estimate.textContent = estimate ? `${formatBytes(estimate.usage)} used · ${formatBytes(estimate.quota)} quota` : 'not reported by this browser'
  if (stats?.success) {
    const bytes = typeof stats.database_bytes === 'number' ? stats.database_bytes : NaN
    memoryCount = typeof stats.memories === 'number' ? stats.memories : null
    ui.status.size.textContent = formatBytes(bytes)
    ui.status.size.title = Number.isFinite(bytes) ? `${bytes.toLocaleString('en')} bytes (stats().database_bytes)` : ''
    ui.status.count.textContent = memoryCount === null ? '–' : memoryCount.toLocaleString('en')
  } else {
    memoryCount = null
    ui.status.size.textContent = '–'
    ui.status.count.textContent = '–'
  }
  ui.suggestions.hidden = !memoryCount
}

function renderActivity(): void {
  const last = operations[0]
  if (!last) return
  ui.status.latency.textContent = formatMs(last.ms)
  ui.status.lastCall.textContent = last.call
  ui.status.lastCall.classList.toggle('failed', !last.ok)
  ui.status.history.replaceChildren(
    ...operations.map((operation) =>
      el(
        'li',
        { class: operation.ok ? '' : 'failed', title: operation.call },
        el('span', { class: 'history-op', text: operation.op }),
        el('span', { class: 'history-ms', text: formatMs(operation.ms) }),
        el('span', { class: operation.ok ? 'history-ok' : 'history-fail', text: operation.ok ? 'ok' : 'failed' }),
      ),
    ),
  )
}

// ---------------------------------------------------------------------------------------------
// Results of a call, inline

function renderFailure(target: HTMLElement, failure: { error: string; error_type: string }): void {
  target.replaceChildren(
    el('div', { class: 'error-box', testid: 'error' }, el('span', { class: 'error-type', text: failure.error_type }), el('span', { text: failure.error })),
  )
}

// ---------------------------------------------------------------------------------------------
// Adding a memory

type Parsed<T> = { ok: true; value: T } | { ok: false; failure: PageFailure }

function parseJsonField(text: string, field: string): Parsed<JsonValue> {
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue }
  } catch (error) {
    return { ok: false, failure: { success: false, error_type: 'invalid JSON', error: `${field}: ${(error as Error).message}` } }
  }
}

interface StoreInput {
  key: string
  value: JsonValue
  metadata: Metadata | undefined
  options: StoreOptions | undefined
}

function readStoreForm(): Parsed<StoreInput> {
  const key = ui.storeKey.value
  let value: JsonValue = ui.storeValue.value
  if (checkedValue(ui.storeForm, 'value-kind') === 'json') {
    const parsed = parseJsonField(ui.storeValue.value, 'value')
    if (!parsed.ok) return parsed
    value = parsed.value
  }
  let metadata: Metadata | undefined
  if (ui.storeMetadata.value.trim()) {
    const parsed = parseJsonField(ui.storeMetadata.value, 'metadata')
    if (!parsed.ok) return parsed
    metadata = parsed.value as Metadata // the SDK checks it is a plain object
  }
  const ttlText = ui.storeTtl.value.trim()
  const options = ttlText ? { ttl: Number(ttlText) } : undefined
  return { ok: true, value: { key, value, metadata, options } }
}

function storeCall({ key, value, metadata, options }: StoreInput): string {
  const args = [literal(key, 32), literal(value)]
  if (metadata || options) args.push(metadata ? literal(metadata) : 'undefined')
  if (options) args.push(`{ ttl: ${options.ttl} }`)
  return `ltm.store(${args.join(', ')})`
}

async function onStore(event: SubmitEvent): Promise<void> {
  event.preventDefault()
  const memory = ltm
  if (!memory) return
  const input = readStoreForm()
  if (!input.ok) {
    renderFailure(ui.storeResult, input.failure)
    return
  }
  const { key, value, metadata, options } = input.value
  ui.storeButton.disabled = true
  try {
    const { result } = await timed('store', storeCall(input.value), () => memory.store(key, value, metadata, options))
    if (!result.success) renderFailure(ui.storeResult, result)
    else {
      const outcome = !result.stored ? 'deduplicated' : result.created ? 'created' : 'updated'
      const details = el('div', { class: 'store-details' }, el('code', { text: shortHash(result.content_hash), title: result.content_hash }))
      details.append(result.expires_at ? ` · expires ${relativeTime(result.expires_at)}` : ' · no expiry')
      if (!result.stored) details.append(' · already stored, nothing written')
      const line = el(
        'div',
        { class: 'store-ok', testid: 'store-ok' },
        el('div', { class: 'store-line' }, el('span', { class: `pill pill-${outcome}`, text: outcome }), el('code', { class: 'store-key', text: result.key })),
        details,
      )
      ui.storeResult.replaceChildren(line)
    }
    await refreshStatus()
    await runSearch(false)
  } finally {
    ui.storeButton.disabled = false
  }
}

function currentMetadataObject(): Record<string, JsonValue> | null {
  const text = ui.storeMetadata.value.trim()
  if (!text) return {}
  try {
    const parsed = JSON.parse(text) as unknown
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, JsonValue>) : null
  } catch {
    return null
  }
}

function renderMetadataChips(): void {
  const current = currentMetadataObject()
  ui.metadataChips.replaceChildren(
    ...TYPE_PRESETS.map((type) => {
      const chip = el('button', { class: 'chip', title: `Set "type": "${type}" in the metadata` }, el('span', { class: 'chip-key', text: 'type' }), type)
      chip.type = 'button'
      chip.dataset.type = type
      chip.setAttribute('aria-pressed', String(current?.type === type))
      chip.addEventListener('click', () => toggleType(type))
      return chip
    }),
  )
}

function toggleType(type: string): void {
  const current = currentMetadataObject()
  if (!current) {
    renderFailure(ui.storeResult, { error_type: 'invalid JSON', error: 'metadata: fix the JSON (or clear it) before using a preset' })
    return
  }
  if (current.type === type) delete current.type
  else current.type = type
  ui.storeMetadata.value = Object.keys(current).length ? JSON.stringify(current, null, 1).replace(/\n\s*/g, ' ') : ''
  renderMetadataChips()
}

function onValueKindChange(): void {
  const json = checkedValue(ui.storeForm, 'value-kind') === 'json'
  ui.storeValue.classList.toggle('mono', json)
  ui.storeValue.placeholder = json ? '{"drink": "flat white", "milk": "oat"}' : 'Takes coffee as a flat white with oat milk'
}

// ---------------------------------------------------------------------------------------------
// Searching

let searchSequence = 0

interface SearchInput {
  query: string
  filter: MetadataFilter | undefined
  limit: number
  match: 'any' | 'all'
}

function readSearchForm(): Parsed<SearchInput> {
  let filter: MetadataFilter | undefined
  if (ui.searchFilter.value.trim()) {
    const parsed = parseJsonField(ui.searchFilter.value, 'filter')
    if (!parsed.ok) return parsed
    filter = parsed.value as MetadataFilter // the SDK checks the shape
  }
  const limitText = ui.searchLimit.value.trim()
  const limit = limitText === '' ? 10 : Number(limitText)
  const match = checkedValue(ui.searchForm, 'match') === 'all' ? 'all' : 'any'
  return { ok: true, value: { query: ui.searchQuery.value, filter, limit, match } }
}

function searchCall({ query, filter, limit, match }: SearchInput): string {
  const args = [query.trim() ? literal(query, 40) : 'null', filter ? literal(filter, 60) : 'null', String(limit)]
  if (match === 'all') args.push(`{ match: 'all' }`)
  return `ltm.search(${args.join(', ')})`
}

async function runSearch(record: boolean): Promise<void> {
  const memory = ltm
  if (!memory) return
  const input = readSearchForm()
  const sequence = ++searchSequence
  if (!input.ok) {
    renderFailure(ui.searchError, input.failure)
    return
  }
  const { query, filter, limit, match } = input.value
  const { result, ms } = await timed('search', searchCall(input.value), () => memory.search(query, filter, limit, { match }), record)
  if (sequence !== searchSequence) return // a newer search has started
  if (!result.success) {
    renderFailure(ui.searchError, result)
    ui.resultsSummary.textContent = ''
    ui.results.replaceChildren()
    return
  }
  ui.searchError.replaceChildren()
  renderResults(result.results, input.value, ms)
}

let searchTimer: ReturnType<typeof setTimeout> | undefined
function scheduleSearch(): void {
  clearTimeout(searchTimer)
  searchTimer = setTimeout(() => void runSearch(true), 180)
}

function renderResults(hits: SearchHit[], input: SearchInput, ms: number): void {
  const matcher = queryMatcher(input.query)
  const listing = !input.query.trim()
  // An empty store gets the welcome below, not "0 memories".
  if (memoryCount === 0 && hits.length === 0) ui.resultsSummary.replaceChildren()
  else ui.resultsSummary.replaceChildren(summaryText(hits.length, input), el('span', { class: 'summary-ms', text: ` · ${formatMs(ms)}` }))
  if (hits.length === 0) {
    ui.results.replaceChildren(emptyState())
    return
  }
  const now = Date.now()
  ui.results.replaceChildren(...hits.map((hit) => resultCard(hit, matcher, !listing, now)))
}

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`
}

function summaryText(shown: number, { query, filter, limit }: SearchInput): string {
  const filtered = filter ? ' matching the filter' : ''
  const capped = shown > 0 && shown === limit ? ` (limit ${limit})` : ''
  if (query.trim()) return `${plural(shown, 'result', 'results')} for “${truncate(query.trim(), 60)}”${filtered}${capped}`
  if (!filter && memoryCount !== null && shown < memoryCount) return `Newest ${shown} of ${plural(memoryCount, 'memory', 'memories')}`
  return `${plural(shown, 'memory', 'memories')}${filtered}, newest first${capped}`
}

function emptyState(): HTMLElement {
  if (memoryCount === 0) {
    const seed = el('button', { class: 'button primary', text: `Add ${SEED_MEMORIES.length} example memories`, testid: 'seed' })
    seed.type = 'button'
    seed.addEventListener('click', () => void onSeed(seed))
    return el(
      'div',
      { class: 'empty', testid: 'empty' },
      el('p', { class: 'empty-title', text: 'Nothing remembered yet' }),
      el('p', { class: 'muted', text: 'Add a memory with the form, or load a few about an example user (their coffee, their dog, a trip to Tokyo) and start searching.' }),
      seed,
    )
  }
  return el(
    'div',
    { class: 'empty', testid: 'empty' },
    el('p', { class: 'empty-title', text: 'No memory matches' }),
    el('p', { class: 'muted', text: 'Try fewer words, a prefix such as allerg*, “any word” matching, or a looser filter.' }),
  )
}

function resultCard(hit: SearchHit, matcher: ReturnType<typeof queryMatcher>, showScore: boolean, now: number): HTMLElement {
  const head = el('header', { class: 'hit-head' }, el('code', { class: 'hit-key', text: hit.key, testid: 'hit-key' }))
  if (showScore) head.append(el('span', { class: 'score', text: hit.score.toFixed(3), title: 'BM25 score: higher is better', testid: 'hit-score' }))
  const remove = el('button', { class: 'icon-button', title: `Delete ${hit.key}`, testid: 'hit-delete' })
  remove.type = 'button'
  remove.setAttribute('aria-label', `Delete ${hit.key}`)
  remove.innerHTML =
    '<svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true"><path fill="currentColor" d="M8 2h4a1 1 0 0 1 1 1v1h4v2H3V4h4V3a1 1 0 0 1 1-1Zm-3 5h10l-.8 10.1A1 1 0 0 1 13.2 18H6.8a1 1 0 0 1-1-.9L5 7Zm3 2v7h1.5V9H8Zm2.5 0v7H12V9h-1.5Z"/></svg>'
  head.append(remove)

  let value: HTMLElement
  if (typeof hit.value === 'string') {
    value = el('p', { class: 'hit-value', testid: 'hit-value' })
    appendHighlighted(value, truncate(hit.value, MAX_VALUE_CHARS), matcher)
  } else {
    value = el('pre', { class: 'hit-value hit-json', testid: 'hit-value' })
    appendJsonHighlighted(value, hit.value, matcher)
  }

  const meta = el('footer', { class: 'hit-meta' })
  for (const [key, metaValue] of Object.entries(hit.metadata)) {
    meta.append(el('span', { class: 'tag', title: `${key}: ${JSON.stringify(metaValue)}` }, el('span', { class: 'tag-key', text: key }), truncate(compactJson(metaValue), 40)))
  }
  const times = el('span', { class: 'hit-times' })
  if (hit.expires_at) times.append(el('span', { class: 'expiry', text: `expires ${relativeTime(hit.expires_at, now)}`, title: hit.expires_at, testid: 'hit-expiry' }))
  times.append(el('span', { text: `updated ${relativeTime(hit.updated_at, now)}`, title: hit.updated_at }))
  meta.append(times)

  const card = el('article', { class: 'hit', testid: 'hit' }, head, value, meta)
  card.dataset.key = hit.key
  const cardError = el('div', { class: 'op-result' })
  card.append(cardError)
  remove.addEventListener('click', () => void onDelete(hit.key, card, remove, cardError))
  return card
}

async function onDelete(key: string, card: HTMLElement, button: HTMLButtonElement, errorTarget: HTMLElement): Promise<void> {
  const memory = ltm
  if (!memory) return
  button.disabled = true
  const { result } = await timed('delete', `ltm.delete(${literal(key, 40)})`, () => memory.delete(key))
  if (!result.success) {
    button.disabled = false
    renderFailure(errorTarget, result)
    return
  }
  card.classList.add('removing')
  await refreshStatus()
  await runSearch(false)
}

// ---------------------------------------------------------------------------------------------
// Seeding

async function onSeed(button: HTMLButtonElement): Promise<void> {
  const memory = ltm
  if (!memory) return
  button.disabled = true
  await refreshStatus()
  if (memoryCount) {
    // Only an empty store is seeded: never mix the examples into someone's own memories.
    await runSearch(false)
    return
  }
  const { result } = await timed('storeBatch', `ltm.storeBatch([ ${SEED_MEMORIES.length} example memories ])`, () => memory.storeBatch(SEED_MEMORIES))
  if (!result.success) {
    button.disabled = false
    renderFailure(ui.searchError, result)
    return
  }
  await refreshStatus()
  await runSearch(false)
}

function renderSuggestions(): void {
  ui.suggestions.replaceChildren(
    el('span', { class: 'muted', text: 'Try' }),
    ...SUGGESTIONS.map(({ query, filter }) => {
      const chip = el('button', { class: 'chip chip-suggestion' })
      chip.type = 'button'
      if (query) chip.append(el('span', { text: query }))
      if (filter) chip.append(el('code', { class: 'chip-filter', text: filter }))
      chip.addEventListener('click', () => {
        ui.searchQuery.value = query
        ui.searchFilter.value = filter ?? ''
        void runSearch(true)
      })
      return chip
    }),
  )
}

// ---------------------------------------------------------------------------------------------
// Wiring

ui.storeForm.addEventListener('submit', (event) => void onStore(event))
for (const field of [ui.storeValue, ui.storeMetadata]) {
  field.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.metaKey || event.ctrlKey)) ui.storeForm.requestSubmit()
  })
}
ui.storeMetadata.addEventListener('input', renderMetadataChips)
for (const radio of ui.storeForm.querySelectorAll<HTMLInputElement>('input[name="value-kind"]')) radio.addEventListener('change', onValueKindChange)

ui.searchForm.addEventListener('submit', (event) => {
  event.preventDefault()
  clearTimeout(searchTimer)
  void runSearch(true)
})
ui.searchForm.addEventListener('input', scheduleSearch)

ui.persistSelect.addEventListener('change', () => {
  const mode = ui.persistSelect.value as PersistMode
  const url = new URL(location.href)
  url.searchParams.set('persist', mode)
  history.replaceState(null, '', url)
  void open(mode)
})

renderMetadataChips()
renderSuggestions()
onValueKindChange()
void open(initialPersistMode())

/**
 * Deterministic benchmark corpus: agent-style memories (short sentences) drawn from a Zipf-like
 * vocabulary, plus a fixed list of search queries in three frequency classes.
 * Everything derives from a seeded PRNG, so every run and every variant sees the same data.
 */
import type { BatchEntry, JsonValue, Metadata, MetadataFilter } from '../src/core/types.js'

export { prng } from '../test/support/prng.js'
import { prng } from '../test/support/prng.js'

// Ranked by intended frequency: function words first, then the content words agents write about.
const COMMON = `the to and a of in is for that on with user it at be this as was by from has prefers
project meeting about will they not have are an or team wants needs time asked said should next
week today likes work uses code before after when new file data issue we his her their our call
email note task deadline customer report review plan update release bug fix test build server
database api account order payment invoice budget travel flight hotel morning afternoon evening
monday tuesday wednesday thursday friday weekend coffee lunch dinner tea breakfast doctor
appointment birthday family daughter son wife husband friend manager colleague office home
remote laptop phone password login error crash slow fast feature request ticket sprint roadmap
design document draft final version branch commit merge deploy production staging backup
schedule reminder follow up share send receive reply discuss agree decide prefer avoid dislike
allergic vegetarian vegan gluten dairy spicy sweet music book movie podcast running gym yoga
cycling hiking swimming language english spanish french german python typescript rust java
kotlin swift docker kubernetes linux windows mac cloud storage memory search index query cache
latency timeout retry limit quota price cost discount subscription plan trial renewal contract
legal compliance privacy security audit incident outage monitoring alert dashboard metric goal
quarter revenue growth hiring interview candidate offer salary vacation holiday sick leave
morning standup retro demo onboarding training workshop conference talk slides video recording
transcript summary action item owner status blocked done pending urgent important low high
medium priority`.split(/\s+/).filter(Boolean)

const SYLLABLES = `ka lo mi ren ta vo sel dun bri qua nex tor pel zan fi gor lu mer sta vin cro del
pha tis om ar ul ek ny jo wex rad ple fu sko yr gan tri bel mo`.split(/\s+/).filter(Boolean)

/** A few thousand rarer words: names, product codes, jargon. Deterministic pseudo-words. */
function rareWords(count: number, seed: number): string[] {
  const random = prng(seed)
  const seen = new Set<string>(COMMON)
  const words: string[] = []
  while (words.length < count) {
    const parts = 2 + Math.floor(random() * 3)
    let word = ''
    for (let i = 0; i < parts; i++) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)]
    if (random() < 0.05) word += String(Math.floor(random() * 100))
    if (!seen.has(word)) {
      seen.add(word)
      words.push(word)
    }
  }
  return words
}

const RARE_COUNT = 4000
const ZIPF_EXPONENT = 1.0

export const VOCABULARY: readonly string[] = [...new Set(COMMON)].concat(rareWords(RARE_COUNT, 7))

/** Cumulative Zipf weights over VOCABULARY ranks, for sampling by binary search. */
const CUMULATIVE = (() => {
  const weights = VOCABULARY.map((_, rank) => 1 / Math.pow(rank + 1, ZIPF_EXPONENT))
  const total = weights.reduce((a, b) => a + b, 0)
  let sum = 0
  return weights.map((w) => (sum += w / total))
})()

function zipfWord(random: () => number): string {
  const u = random()
  let lo = 0
  let hi = CUMULATIVE.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (CUMULATIVE[mid]! < u) lo = mid + 1
    else hi = mid
  }
  return VOCABULARY[lo]!
}

const OPENERS = [
  'User said', 'Remember that', 'Note:', 'The user mentioned', 'Preference:', 'Follow up:', 'Decided',
  'Observed', 'Customer reported', 'Meeting summary:', 'Todo:', 'Fact:', 'Reminder:', 'Learned that',
]
const TYPES = ['fact', 'preference', 'event', 'task', 'conversation', 'note'] as const
const TYPE_WEIGHTS = [0.3, 0.2, 0.15, 0.15, 0.1, 0.1]
export const USERS = 100

export interface Memory {
  key: string
  value: JsonValue
  metadata: Metadata
}

function pickWeighted<T>(items: readonly T[], weights: number[], random: () => number): T {
  let u = random()
  for (let i = 0; i < items.length; i++) {
    u -= weights[i]!
    if (u <= 0) return items[i]!
  }
  return items[items.length - 1]!
}

function sentence(random: () => number): string {
  const length = 8 + Math.floor(random() * 33) // 8..40 words
  const words = [OPENERS[Math.floor(random() * OPENERS.length)]!]
  while (words.join(' ').split(' ').length < length) words.push(zipfWord(random))
  return words.join(' ') + '.'
}

/**
 * Memory number `i` of the stream `seed`: the same (seed, i) always gives the same memory.
 * 80% plain sentences, 20% small objects with text, source and tags.
 */
export function memory(i: number, seed = 1, keyPrefix = 'mem'): Memory {
  const random = prng((seed * 2654435761 + i * 40503) >>> 0)
  random()
  const text = sentence(random)
  const value: JsonValue =
    random() < 0.8 ? text : { text, source: random() < 0.5 ? 'chat' : 'tool', tags: [zipfWord(random), zipfWord(random)] }
  const metadata: Metadata = {
    type: pickWeighted(TYPES, TYPE_WEIGHTS, random),
    priority: 1 + Math.floor(random() * 5),
    user: `user-${Math.floor(random() * USERS)}`,
  }
  return { key: `${keyPrefix}-${String(i).padStart(7, '0')}`, value, metadata }
}

export function memories(from: number, count: number, seed = 1, keyPrefix = 'mem'): Memory[] {
  return Array.from({ length: count }, (_, j) => memory(from + j, seed, keyPrefix))
}

/** storeBatch throughput is measured with batches of this many memories. */
export const BATCH_SIZE = 500

export function toBatch(items: Memory[]): BatchEntry[] {
  return items.map((m) => ({ key: m.key, value: m.value, metadata: m.metadata }))
}

export type QueryClass = 'rare' | 'medium' | 'common'
export interface BenchQuery {
  text: string
  class: QueryClass
}

/**
 * The fixed query list: 24 queries of 1-3 words per class. Classes by vocabulary rank, i.e. by
 * document frequency: common = ranks 1-40 (words in roughly 5-90% of memories), medium = ranks
 * 60-250 (roughly 0.5-4%), rare = pseudo-words beyond rank 1500 (under 0.1%). The run reports the
 * measured matching-document counts per class.
 */
export function queryList(): BenchQuery[] {
  const random = prng(99)
  const pick = (from: number, to: number): string => VOCABULARY[from + Math.floor(random() * (to - from))]!
  const make = (cls: QueryClass, from: number, to: number, n: number): BenchQuery[] =>
    Array.from({ length: n }, (_, i) => ({ class: cls, text: Array.from({ length: 1 + (i % 3) }, () => pick(from, to)).join(' ') }))
  return [...make('rare', 1500, VOCABULARY.length, 24), ...make('medium', 60, 250, 24), ...make('common', 0, 40, 24)]
}

/** `count` queries drawn (seeded) from the list, each class equally often. */
export function querySample(count: number, seed = 5): BenchQuery[] {
  const list = queryList()
  const random = prng(seed)
  return Array.from({ length: count }, () => list[Math.floor(random() * list.length)]!)
}

/** Metadata filters for the filtered-search measurements (alternating). */
export const FILTERS: { name: string; filter: MetadataFilter }[] = [
  { name: 'type = preference', filter: { type: 'preference' } },
  { name: 'user = user-7 AND priority >= 3', filter: { user: 'user-7', priority: { $gte: 3 } } },
]

/** The filter of the filter-only listing: one user's important memories (0.6% of the corpus). */
export const LIST_FILTER: MetadataFilter = { user: 'user-7', priority: { $gte: 3 } }

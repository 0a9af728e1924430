/** Example memories about one user, so a first-time visitor can search right away. */
import type { BatchEntry } from 'agent-ltm'

export const SEED_MEMORIES: BatchEntry[] = [
  { key: 'pref:coffee', value: 'Takes coffee as a flat white with oat milk, never after 3 pm', metadata: { type: 'preference', topic: 'food', priority: 2 } },
  { key: 'pref:tea', value: 'Prefers green tea in the afternoon; finds black tea too bitter', metadata: { type: 'preference', topic: 'food' } },
  { key: 'pref:answers', value: 'Likes short, direct answers: code example first, explanation after', metadata: { type: 'preference', topic: 'style', priority: 1 } },
  { key: 'pref:units', value: 'Uses metric units and 24-hour time', metadata: { type: 'preference', topic: 'style' } },
  { key: 'pref:weekend', value: 'Spends weekend mornings surfing at Carcavelos when the swell is good', metadata: { type: 'preference', topic: 'hobbies' } },
  { key: 'fact:home', value: 'Lives in Lisbon, in Alfama, with a rescue dog called Miso', metadata: { type: 'fact', topic: 'personal' } },
  { key: 'fact:work', value: 'Backend engineer on the payments team, mostly TypeScript and PostgreSQL', metadata: { type: 'fact', topic: 'work' } },
  { key: 'fact:allergy', value: 'Allergic to peanuts and cashews: always check restaurant menus', metadata: { type: 'fact', topic: 'health', priority: 1 } },
  { key: 'fact:languages', value: 'Speaks Portuguese and English; learning Japanese on weekends', metadata: { type: 'fact', topic: 'personal' } },
  { key: 'fact:birthday', value: 'Birthday on 14 March; prefers a quiet dinner to a party', metadata: { type: 'fact', topic: 'personal' } },
  { key: 'fact:editor', value: { editor: 'Neovim', theme: 'gruvbox dark', font: 'JetBrains Mono', size: 14 }, metadata: { type: 'fact', topic: 'work' } },
  { key: 'task:passport', value: 'Renew the passport before the Tokyo trip in May', metadata: { type: 'task', status: 'open', topic: 'travel', priority: 1 } },
  { key: 'task:dentist', value: 'Book a dentist appointment, ideally a Friday morning', metadata: { type: 'task', status: 'open', topic: 'health' } },
  { key: 'task:review', value: 'Review the refund service pull request before Thursday', metadata: { type: 'task', status: 'done', topic: 'work' } },
  { key: 'event:trip', value: 'Two weeks in Tokyo and Kyoto in May, travelling mostly by train', metadata: { type: 'event', topic: 'travel' } },
  { key: 'session:mood', value: 'Felt tired after a long week: keep suggestions light today', metadata: { type: 'note', topic: 'personal' }, ttl: 6 * 3600 },
]

/** Queries worth trying on the seeded memories: [label, query, filter]. */
export const SUGGESTIONS: ReadonlyArray<{ query: string; filter?: string }> = [
  { query: 'coffee milk' },
  { query: 'allerg*' },
  { query: 'tokyo' },
  { query: 'weekend' },
  { query: '', filter: '{"type": "task", "status": "open"}' },
  { query: 'typescript', filter: '{"topic": {"$in": ["work", "style"]}}' },
]

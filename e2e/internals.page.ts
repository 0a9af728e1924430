/**
 * Runs in Chromium: exposes internal persistence modules (from src/, not the bundle) so e2e tests
 * can drive races the public API cannot schedule deterministically.
 */
import { IndexedDbChangeLog } from '../src/persistence/indexeddb-log.js'
import { OpfsImages } from '../src/persistence/opfs-images.js'

declare global {
  interface Window {
    ltmInternals?: { IndexedDbChangeLog: typeof IndexedDbChangeLog; OpfsImages: typeof OpfsImages }
  }
}

window.ltmInternals = { IndexedDbChangeLog, OpfsImages }
document.title = 'agent-ltm e2e: internals ready'

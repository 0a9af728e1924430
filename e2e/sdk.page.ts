/**
 * Runs in Chromium: puts the BUILT browser bundle on window so e2e tests can script it with
 * page.evaluate (persistence across reloads and browser restarts, several tabs).
 */
import * as sdk from '../dist/index.browser.js'

declare global {
  interface Window {
    agentLtm?: typeof sdk
  }
}

window.agentLtm = sdk
document.title = 'agent-ltm e2e: sdk ready'

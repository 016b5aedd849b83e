/**
 * Injects the overlay's script into a tab. Nothing is declared in the
 * manifest (see site-scripts.ts), so this is how every CRM tab gets it: when
 * it finishes loading, and, for tabs that were open before the extension was
 * installed or updated or before their site was added, right away. An overlay
 * already running in the tab keeps running; one left by an older version
 * gives way (the content script checks).
 */
import { browser } from 'wxt/browser';

const CONTENT_SCRIPT = '/content-scripts/crm.js';
/** The overlay's mark on its world's global object (entrypoints/crm.content/mount.tsx). */
const RUNNING = 'deskbell.overlay';

export async function injectIntoTab(tabId: number): Promise<void> {
  try {
    const target = { tabId };
    // A tab whose overlay runs (a same-document navigation, a page back from the back/forward cache) is left alone,
    // without evaluating the whole script again to find that out.
    const [probe] = await browser.scripting.executeScript({
      target,
      func: (mark: string) => (globalThis as Record<symbol, { alive?: boolean } | undefined>)[Symbol.for(mark)]?.alive === true,
      args: [RUNNING],
    });
    if (probe?.result === true) return;
    await browser.scripting.executeScript({ target, files: [CONTENT_SCRIPT] });
  } catch (error) {
    // A tab that navigated on, crashed or shows an error page: it gets the script on its next load.
    console.warn(`[deskbell] could not add the overlay to tab ${tabId}:`, error);
  }
}

export async function injectIntoOpenTabs(patterns: string[]): Promise<void> {
  if (patterns.length === 0) return;
  const tabs = await browser.tabs.query({ url: patterns });
  await Promise.all(tabs.map((tab) => (tab.id === undefined || tab.discarded || tab.status !== 'complete' ? undefined : injectIntoTab(tab.id))));
}

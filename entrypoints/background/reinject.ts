/**
 * Chrome does not put content scripts into tabs that were open before the
 * extension was installed or updated, or before a CRM site was added.
 * Agents keep their CRM open all day, so the worker injects the overlay into
 * those tabs; an overlay already running in a tab keeps running (the content
 * script checks), and one left by an older version gives way.
 */
import { browser } from 'wxt/browser';

const CONTENT_SCRIPT = '/content-scripts/crm.js';

export async function injectIntoOpenTabs(patterns: string[]): Promise<void> {
  if (patterns.length === 0) return;
  const tabs = await browser.tabs.query({ url: patterns });
  await Promise.all(
    tabs.map(async (tab) => {
      if (tab.id === undefined || tab.discarded) return;
      try {
        await browser.scripting.executeScript({ target: { tabId: tab.id }, files: [CONTENT_SCRIPT] });
      } catch (error) {
        // A tab that is loading, crashed or an error page: it gets the script on its next load.
        console.warn(`[deskbell] could not add the overlay to tab ${tab.id}:`, error);
      }
    }),
  );
}

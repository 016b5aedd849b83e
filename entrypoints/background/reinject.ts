/**
 * Chrome does not put content scripts into tabs that were open before the
 * extension was installed or updated. Agents keep their CRM open all day, so
 * after an install or update the worker injects the overlay into those tabs;
 * the old overlay (if any) removes itself when its context is invalidated, and
 * the new one replaces whatever is left.
 */
import { browser } from 'wxt/browser';
import { BUILT_IN_CRM_MATCHES } from '../../utils/crm-sites';

const CONTENT_SCRIPT = '/content-scripts/crm.js';

export async function injectIntoOpenTabs(): Promise<void> {
  const tabs = await browser.tabs.query({ url: BUILT_IN_CRM_MATCHES });
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

/**
 * Puts the overlay into CRM pages, after they have loaded.
 *
 * Declared content scripts (manifest or registered) run at `document_idle`,
 * which Chromium fits in before the load event: even an empty one holds a
 * large CRM page's load back by hundreds of milliseconds. So nothing is
 * declared; the worker hears that a tab finished loading (`tabs.onUpdated`,
 * no permission: the tab's URL is visible only on sites Deskbell has host
 * access to) and injects the overlay then, with `scripting.executeScript`.
 *
 * The sites are the built-in CRMs and the admin's sites whose host permission
 * is granted; a site set by policy without the permission, or whose
 * permission was revoked, is reported, not run on.
 */
import { browser } from 'wxt/browser';
import { BUILT_IN_CRM_MATCHES, LEGACY_SITE_SCRIPT_PREFIX } from '../../utils/crm-sites';
import { webUrl } from '../../utils/format';
import { injectIntoOpenTabs, injectIntoTab } from './reinject';

export interface SiteStatus {
  active: string[];
  /** Sites in the settings that Chrome has not granted access to. */
  missingPermission: string[];
}

export class CrmPages {
  /** Match patterns of the pages the overlay runs on; undefined until the settings are first applied. */
  #patterns: string[] | undefined;

  /** Follows the CRM sites in the settings; tabs already open on a newly added site get the overlay now. */
  async sync(sites: readonly string[]): Promise<SiteStatus> {
    const wanted = [...new Set(sites)].filter((s) => !BUILT_IN_CRM_MATCHES.includes(s));
    const granted = await Promise.all(wanted.map((origin) => browser.permissions.contains({ origins: [origin] })));
    const active = wanted.filter((_, i) => granted[i]);
    const missingPermission = wanted.filter((_, i) => !granted[i]);
    const before = this.#patterns;
    this.#patterns = [...BUILT_IN_CRM_MATCHES, ...active];
    if (before === undefined) await dropLegacyRegistrations();
    // At the worker's start every site looks new; tabs loaded while it slept woke it with their own event.
    else await injectIntoOpenTabs(active.filter((site) => !before.includes(site)));
    return { active, missingPermission };
  }

  /** A tab finished loading: the overlay goes in if the page is one of the CRM sites. */
  async loaded(tabId: number, url: string): Promise<void> {
    const patterns = this.#patterns;
    if (!patterns || !webUrl(url)) return;
    // Chrome's own matcher, the one the declared scripts used: the tab is among those the patterns match.
    const matching = await browser.tabs.query({ url: patterns });
    if (matching.some((tab) => tab.id === tabId)) await injectIntoTab(tabId);
  }
}

/** Earlier versions registered a content script per admin site, kept across browser restarts. */
async function dropLegacyRegistrations(): Promise<void> {
  try {
    const ids = (await browser.scripting.getRegisteredContentScripts()).map((s) => s.id).filter((id) => id.startsWith(LEGACY_SITE_SCRIPT_PREFIX));
    if (ids.length) await browser.scripting.unregisterContentScripts({ ids });
  } catch (error) {
    // Left over, such a script only mounts an overlay the injected one would have mounted anyway.
    console.warn('[deskbell] could not remove the content scripts an earlier version registered:', error);
  }
}

/**
 * True when Deskbell may run on this page: its site is a built-in CRM or one
 * whose host permission is granted. A permission the agent revoked (site
 * access in chrome://extensions) makes it false for pages already open.
 */
export async function mayRunOn(url: string | undefined): Promise<boolean> {
  const page = webUrl(url);
  if (!page) return false;
  const { protocol, hostname } = new URL(page);
  return browser.permissions.contains({ origins: [`${protocol}//${hostname}/*`] });
}

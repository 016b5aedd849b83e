/**
 * Keeps the runtime content-script registrations equal to the CRM sites in
 * the settings: one registration per site that has its host permission.
 * A site without the permission (set by policy, or the permission was
 * revoked) is reported, not registered.
 */
import { browser } from 'wxt/browser';
import { BUILT_IN_CRM_MATCHES, SITE_SCRIPT_PREFIX } from '../../utils/crm-sites';
import { webUrl } from '../../utils/format';
import { injectIntoOpenTabs } from './reinject';

const CONTENT_SCRIPT = '/content-scripts/crm.js';

export interface SiteStatus {
  active: string[];
  /** Sites in the settings that Chrome has not granted access to. */
  missingPermission: string[];
}

export async function syncCrmSites(sites: readonly string[]): Promise<SiteStatus> {
  const wanted = [...new Set(sites)].filter((s) => !BUILT_IN_CRM_MATCHES.includes(s));
  const granted = await Promise.all(wanted.map((origin) => browser.permissions.contains({ origins: [origin] })));
  const active = wanted.filter((_, i) => granted[i]);
  const missingPermission = wanted.filter((_, i) => !granted[i]);

  const registered = (await browser.scripting.getRegisteredContentScripts()).filter((s) => s.id.startsWith(SITE_SCRIPT_PREFIX));
  const registeredIds = new Set(registered.map((s) => s.id));
  const activeIds = new Set(active.map((s) => SITE_SCRIPT_PREFIX + s));
  const stale = registered.filter((s) => !activeIds.has(s.id)).map((s) => s.id);
  const added = active.filter((s) => !registeredIds.has(SITE_SCRIPT_PREFIX + s));
  if (stale.length) await browser.scripting.unregisterContentScripts({ ids: stale });
  if (added.length) {
    await browser.scripting.registerContentScripts(
      added.map((site) => ({ id: SITE_SCRIPT_PREFIX + site, matches: [site], js: [CONTENT_SCRIPT], runAt: 'document_idle' as const, persistAcrossSessions: true })),
    );
    // Tabs already open on a new site get the overlay now, not on their next load.
    await injectIntoOpenTabs(added);
  }
  return { active, missingPermission };
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

/**
 * How the worker reaches a CRM org: Dynamics 365 through the content script
 * in one of the org's tabs (same-origin requests with the agent's session),
 * Salesforce directly with the session id of the agent's Lightning tab.
 */
import { browser } from 'wxt/browser';
import { CRM_LABELS, CrmApi, CrmError, type CrmTransport } from '../../utils/crm/api';
import { orgOfPage } from '../../utils/crm';
import { salesforceTransport } from '../../utils/crm/salesforce';
import type { CrmOrg } from '../../utils/crm/types';
import { t } from '../../utils/i18n';
import { sendMessage } from '../../utils/messages';

/** Tabs showing a CRM org's pages, with their org: the active tab first, then the most recently used. */
async function crmTabs(): Promise<{ tabId: number; org: CrmOrg }[]> {
  const tabs = await browser.tabs.query({});
  return tabs
    .sort((a, b) => Number(b.active) - Number(a.active) || (b.lastAccessed ?? 0) - (a.lastAccessed ?? 0))
    .flatMap((tab) => {
      const org = tab.id === undefined ? undefined : orgOfPage(tab.url);
      return org ? [{ tabId: tab.id!, org }] : [];
    });
}

/** The CRM orgs open in the agent's tabs, the active tab's first, then the most recently used. */
export async function findOrgs(): Promise<CrmOrg[]> {
  const orgs = new Map<string, CrmOrg>();
  for (const { org } of await crmTabs()) if (!orgs.has(org.origin)) orgs.set(org.origin, org);
  return [...orgs.values()];
}

/** Tabs showing the org's pages, the active one first. */
export async function orgTabs(org: CrmOrg): Promise<number[]> {
  return (await crmTabs()).filter((t) => t.org.origin === org.origin).map((t) => t.tabId);
}

/** How often, and how far apart, the org's tabs are asked again when none answered (one was loading, say). */
const TAB_ROUNDS = 3;
const TAB_ROUND_GAP_MS = 500;

function orgTabTransport(org: CrmOrg): CrmTransport {
  return async (request) => {
    // A POST whose answer was lost may have been done: it is never sent a second time (reads and upserts are).
    const once = request.method === 'POST';
    let lastError = '';
    for (let round = 0; round < (once ? 1 : TAB_ROUNDS); round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, TAB_ROUND_GAP_MS));
      const tabs = await orgTabs(org);
      if (tabs.length === 0) throw new CrmError('unreachable', t('crm_no_tab', CRM_LABELS[org.crm]));
      for (const tabId of tabs) {
        // A tab whose page is (re)loading has no content script to answer yet.
        const answer = await sendMessage('crmRequest', request, tabId).catch((error: unknown) => ({ error: String(error) }));
        if (answer && typeof answer === 'object' && 'status' in answer && typeof answer.status === 'number') return answer;
        lastError = answer && 'error' in answer ? String(answer.error) : 'no answer';
        if (once) break;
      }
    }
    throw new CrmError('unreachable', t('crm_unreachable', CRM_LABELS[org.crm], lastError));
  };
}

async function salesforceSession(apiOrigin: string): Promise<string | undefined> {
  const cookie = await browser.cookies.get({ url: apiOrigin, name: 'sid' }).catch(() => null);
  return cookie?.value || undefined;
}

export function crmApi(org: CrmOrg): CrmApi {
  return new CrmApi(org, org.crm === 'salesforce' ? salesforceTransport(org, salesforceSession) : orgTabTransport(org));
}

/** The CRM adapters, one per CRM; everything else asks this module, never a CRM by name. */
import type { CrmAdapter } from './api';
import { dynamics365 } from './dynamics365';
import { salesforce } from './salesforce';
import type { CrmId, CrmOrg } from './types';

export const ADAPTERS: Record<CrmId, CrmAdapter> = { dynamics365, salesforce };

/** The CRM org a page belongs to, if it is one Deskbell has an adapter for. */
export function orgOfPage(url: string | undefined): CrmOrg | undefined {
  if (!url) return undefined;
  for (const adapter of Object.values(ADAPTERS)) if (adapter.matchesPage(url)) return { crm: adapter.id, origin: new URL(url).origin };
  return undefined;
}

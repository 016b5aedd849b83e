/**
 * The part of the Dynamics 365 adapter that runs in the org's tab (content
 * script): same-origin Web API requests with the agent's own session. Kept
 * apart, and free of heavy imports, so the content script stays small.
 */
import type { CrmRequest, CrmResponse } from './api';
import { readResponse } from './http';

export const API_PATH = '/api/data/v9.2/';

/** A Dynamics 365 org page: *.dynamics.com, or any host serving the unified interface (main.aspx). */
export function isDynamicsPage(url: string): boolean {
  try {
    const u = new URL(url);
    return /^https?:$/.test(u.protocol) && (u.hostname.endsWith('.dynamics.com') || u.pathname.endsWith('/main.aspx'));
  } catch {
    return false;
  }
}

/** What a page transport may be asked: Web API paths on the page's own org, and three methods. */
export function checkPageRequest(input: unknown): CrmRequest | undefined {
  const r = input as Partial<CrmRequest> | null;
  if (!r || typeof r.path !== 'string' || !r.path.startsWith(API_PATH) || r.path.includes('..') || r.path.length > 4000) return undefined;
  if (r.method !== 'GET' && r.method !== 'POST' && r.method !== 'PATCH') return undefined;
  const prefer = typeof r.headers?.Prefer === 'string' ? r.headers.Prefer.slice(0, 200) : undefined;
  return { method: r.method, path: r.path, ...(r.body !== undefined ? { body: r.body } : {}), ...(prefer ? { headers: { Prefer: prefer } } : {}) };
}

/** Runs in the org's tab (content script): a same-origin Web API request with the agent's session. */
export async function fetchInOrgTab(input: unknown): Promise<CrmResponse | { error: string }> {
  if (!isDynamicsPage(location.href)) return { error: 'This tab is not a Dynamics 365 org.' };
  const request = checkPageRequest(input);
  if (!request) return { error: 'Refused: not a Dataverse Web API request.' };
  try {
    const res = await fetch(new URL(request.path, location.origin), {
      method: request.method,
      credentials: 'include',
      headers: {
        Accept: 'application/json',
        'OData-Version': '4.0',
        'OData-MaxVersion': '4.0',
        ...(request.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...request.headers,
      },
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
    });
    return await readResponse(res);
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Reading a CRM's HTTP answer, shared by the org-tab transport (content script) and the worker's: no heavy imports. */
import type { CrmResponse } from './api';

/** Status, JSON body (null when empty or not JSON), Retry-After seconds and a created record's address. */
export async function readResponse(res: Response): Promise<CrmResponse> {
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const retryAfter = Number(res.headers.get('Retry-After'));
  const location = res.headers.get('OData-EntityId') ?? res.headers.get('Location');
  return { status: res.status, body, ...(retryAfter > 0 ? { retryAfter } : {}), ...(location ? { location } : {}) };
}

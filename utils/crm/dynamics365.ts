/**
 * Dynamics 365 (Dataverse) adapter. The lookup runs where the agent already
 * has a session: the content script in the org's tab fetches the Web API on
 * its own origin (`findContactsInPage`); the worker builds nothing but the
 * digits to look for, and checks and compares what comes back.
 *
 * Mobile numbers in a CRM are typed by hand ("06-1234 5678", "+31 6 …"), so
 * no OData filter can match them exactly: the query asks for contacts whose
 * mobile phone contains the last four digits (also split "56 78", "56-78"),
 * and the worker keeps those whose number, normalised, equals the sender's.
 */
import * as v from 'valibot';
import type { CrmContact } from './types';

export const API_PATH = '/api/data/v9.2/contacts';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A Dynamics 365 org page: *.dynamics.com, or any host serving the unified interface (main.aspx). */
export function isDynamicsPage(url: string): boolean {
  try {
    const u = new URL(url);
    return /^https?:$/.test(u.protocol) && (u.hostname.endsWith('.dynamics.com') || u.pathname.endsWith('/main.aspx'));
  } catch {
    return false;
  }
}

/** How the last four digits of a number may be written in a hand-typed field. */
export function digitTails(e164: string): string[] {
  const d = e164.replace(/\D/g, '');
  const four = d.slice(-4);
  return [four, `${four.slice(0, 2)} ${four.slice(2)}`, `${four.slice(0, 2)}-${four.slice(2)}`, `${four.slice(0, 2)}.${four.slice(2)}`];
}

/** The Web API query for contacts whose mobile phone contains one of the tails. */
export function contactsQuery(tails: readonly string[]): string {
  const safe = tails.filter((t) => /^[\d .-]{2,8}$/.test(t));
  const filter = safe.map((t) => `contains(mobilephone,'${t}')`).join(' or ');
  const params = new URLSearchParams({ $select: 'contactid,fullname,emailaddress1,mobilephone', $filter: filter, $top: '200' });
  return `${API_PATH}?${params.toString().replace(/\+/g, '%20')}`;
}

const ContactsResponse = v.object({
  value: v.array(
    v.object({
      contactid: v.pipe(v.string(), v.regex(GUID)),
      fullname: v.nullish(v.string()),
      emailaddress1: v.nullish(v.string()),
      mobilephone: v.nullish(v.string()),
    }),
  ),
});

/** Checks a Web API answer and turns it into contacts with links into the org. */
export function parseContacts(body: unknown, origin: string): { ok: true; contacts: CrmContact[] } | { ok: false; error: string } {
  const result = v.safeParse(ContactsResponse, body);
  if (!result.success) return { ok: false, error: `Dynamics 365 answered in an unexpected shape (${v.summarize(result.issues).split('\n')[0]}).` };
  return {
    ok: true,
    contacts: result.output.value.map((c) => ({
      id: c.contactid,
      name: c.fullname || '(no name)',
      ...(c.emailaddress1 ? { email: c.emailaddress1 } : {}),
      ...(c.mobilephone ? { phone: c.mobilephone } : {}),
      recordUrl: `${origin}/main.aspx?pagetype=entityrecord&etn=contact&id=${c.contactid}`,
    })),
  };
}

export type PageLookup = { ok: true; origin: string; body: unknown } | { ok: false; error: string };

/** Runs in the org's tab (content script): a same-origin Web API request with the agent's session. */
export async function findContactsInPage(tails: string[]): Promise<PageLookup> {
  if (!isDynamicsPage(location.href)) return { ok: false, error: 'This tab is not a Dynamics 365 org.' };
  try {
    const res = await fetch(new URL(contactsQuery(tails), location.origin), {
      credentials: 'include',
      headers: { Accept: 'application/json', 'OData-Version': '4.0', 'OData-MaxVersion': '4.0' },
    });
    if (!res.ok) return { ok: false, error: `Dynamics 365 answered ${res.status} ${res.statusText}`.trim() };
    return { ok: true, origin: location.origin, body: await res.json() };
  } catch (error) {
    return { ok: false, error: `Dynamics 365 could not be reached (${(error as Error).message}).` };
  }
}

/**
 * Dynamics 365 (Dataverse Web API). Requests run where the agent already has
 * a session: the content script in the org's tab fetches the Web API on its
 * own origin (`fetchInOrgTab`, below); everything else (queries, paging,
 * comparing numbers) happens in the worker.
 *
 * Phone numbers in a CRM are typed by hand ("06-1234 5678", "+31 6 …"), so
 * no `$filter` can match them exactly. The query asks for contacts whose
 * mobile, business or home phone contains the number's last four digits
 * (also written "56 78", "56-78", "56.78"), reads every page Dataverse
 * offers (`@odata.nextLink`, never a `$top` that could cut the right contact
 * off), and keeps those whose number, normalised, equals the customer's. In
 * an org where more than `MAX_PHONE_ROWS` contacts share those digits the
 * search stops and says so, rather than "no contact".
 */
import * as v from 'valibot';
import { type ConversationRecord, type CrmAdapter, recordKey, recordSubject, recordText, splitName } from './api';
import { API_PATH, isDynamicsPage } from './dynamics365-page';
import { digitTails, type PhonePages, safeTails, searchPhonePages } from './phone-search';
import type { CrmActivity, CrmCase, CrmContact, CrmOrg, MatchedBy } from './types';

export { API_PATH, digitTails, isDynamicsPage };
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE_SIZE = 500;
/** The most rows a phone search reads (ten pages) before it says "too many to check". */
export const MAX_PHONE_ROWS = 5000;
const PHONE_FIELDS = { mobilephone: 'mobile', telephone1: 'business', telephone2: 'home' } as const satisfies Record<string, MatchedBy>;
const CONTACT_SELECT = 'contactid,fullname,emailaddress1,mobilephone,telephone1,telephone2';

/** An OData string literal: quotes doubled. */
export const odataString = (text: string) => `'${text.replace(/'/g, "''")}'`;

const query = (entitySet: string, params: Record<string, string>) =>
  `${API_PATH}${entitySet}?${new URLSearchParams(params).toString().replace(/\+/g, '%20')}`;

/** The Web API query for contacts whose phone fields contain one of the tails. */
export function phoneQuery(tails: readonly string[]): string {
  const safe = safeTails(tails);
  const filter = Object.keys(PHONE_FIELDS)
    .flatMap((field) => safe.map((t) => `contains(${field},${odataString(t)})`))
    .join(' or ');
  return query('contacts', { $select: CONTACT_SELECT, $filter: filter });
}

const Nullable = v.nullish(v.string());
const ContactRow = v.object({
  contactid: v.pipe(v.string(), v.regex(GUID)),
  fullname: Nullable,
  emailaddress1: Nullable,
  mobilephone: Nullable,
  telephone1: Nullable,
  telephone2: Nullable,
});
type ContactRow = v.InferOutput<typeof ContactRow>;
const Page = <S extends v.GenericSchema>(row: S) => v.object({ value: v.array(row), '@odata.nextLink': v.optional(v.string()) });

const recordUrl = (org: CrmOrg, entity: string, id: string) => `${org.origin}/main.aspx?pagetype=entityrecord&etn=${entity}&id=${id}`;

function toContact(org: CrmOrg, c: ContactRow, matchedBy?: MatchedBy): CrmContact {
  const phone = matchedBy === 'business' ? c.telephone1 : matchedBy === 'home' ? c.telephone2 : (c.mobilephone ?? c.telephone1 ?? c.telephone2);
  return {
    id: c.contactid,
    name: c.fullname || '(no name)',
    ...(c.emailaddress1 ? { email: c.emailaddress1 } : {}),
    ...(phone ? { phone } : {}),
    ...(matchedBy ? { matchedBy } : {}),
    recordUrl: recordUrl(org, 'contact', c.contactid),
  };
}

/** `@odata.nextLink` as a path on the org, only when it stays on the Web API. */
function nextPath(link: string | undefined, origin: string): string | undefined {
  if (!link) return undefined;
  try {
    const url = new URL(link, origin);
    return url.origin === origin && url.pathname.startsWith(API_PATH) ? url.pathname + url.search : undefined;
  } catch {
    return undefined;
  }
}

const STATE_NAMES: Record<number, string> = { 0: 'Active', 1: 'Resolved', 2: 'Cancelled' };
const FORMATTED = '@OData.Community.Display.V1.FormattedValue';
const annotations = { Prefer: 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"' };

export const dynamics365: CrmAdapter = {
  id: 'dynamics365',
  matchesPage: isDynamicsPage,

  findByPhone(api, e164, region, maxRows = MAX_PHONE_ROWS) {
    const pages: PhonePages<ContactRow> = {
      first: phoneQuery(digitTails(e164)),
      page: async (path) => {
        const page = await api.json({ method: 'GET', path, headers: { Prefer: `odata.maxpagesize=${PAGE_SIZE}` } }, Page(ContactRow));
        return { rows: page.value, next: nextPath(page['@odata.nextLink'], api.org.origin) };
      },
      fields: PHONE_FIELDS,
      toContact: (row, matchedBy) => toContact(api.org, row, matchedBy),
    };
    return searchPhonePages(pages, e164, region, maxRows);
  },

  async findByEmail(api, email) {
    const literal = odataString(email.trim());
    const filter = ['emailaddress1', 'emailaddress2', 'emailaddress3'].map((f) => `${f} eq ${literal}`).join(' or ');
    const page = await api.json({ method: 'GET', path: query('contacts', { $select: CONTACT_SELECT, $filter: filter, $top: '20' }) }, Page(ContactRow));
    return page.value.map((row) => toContact(api.org, row, 'email'));
  },

  async findByName(api, text) {
    const filter = `contains(fullname,${odataString(text.trim())})`;
    const page = await api.json({ method: 'GET', path: query('contacts', { $select: CONTACT_SELECT, $filter: filter, $orderby: 'fullname asc', $top: '20' }) }, Page(ContactRow));
    return page.value.map((row) => toContact(api.org, row));
  },

  async contact(api, id) {
    if (!GUID.test(id)) return undefined;
    const filter = `contactid eq ${id}`;
    const page = await api.json({ method: 'GET', path: query('contacts', { $select: CONTACT_SELECT, $filter: filter }) }, Page(ContactRow));
    return page.value[0] && toContact(api.org, page.value[0], 'crm-id');
  },

  async details(api, contactId) {
    if (!GUID.test(contactId)) return { cases: [], activities: [] };
    const contact = await api.json(
      { method: 'GET', path: query(`contacts(${contactId})`, { $select: 'jobtitle', $expand: 'parentcustomerid_account($select=accountid,name,telephone1,websiteurl)' }) },
      v.object({
        jobtitle: Nullable,
        parentcustomerid_account: v.nullish(v.object({ accountid: v.pipe(v.string(), v.regex(GUID)), name: Nullable, telephone1: Nullable, websiteurl: Nullable })),
      }),
    );
    const cases = await api.json(
      {
        method: 'GET',
        path: query('incidents', { $select: 'incidentid,ticketnumber,title,statecode,createdon', $filter: `_customerid_value eq ${contactId}`, $orderby: 'createdon desc', $top: '5' }),
        headers: annotations,
      },
      Page(v.looseObject({ incidentid: v.pipe(v.string(), v.regex(GUID)), ticketnumber: Nullable, title: Nullable, statecode: v.nullish(v.number()), createdon: Nullable })),
    );
    const activities = await api.json(
      {
        method: 'GET',
        path: query('activitypointers', {
          $select: 'activityid,subject,activitytypecode,scheduledend',
          $filter: `_regardingobjectid_value eq ${contactId} and statecode eq 0`,
          $orderby: 'scheduledend asc',
          $top: '5',
        }),
        headers: annotations,
      },
      Page(v.looseObject({ activityid: v.pipe(v.string(), v.regex(GUID)), subject: Nullable, activitytypecode: Nullable, scheduledend: Nullable })),
    );
    const account = contact.parentcustomerid_account;
    return {
      ...(contact.jobtitle ? { jobTitle: contact.jobtitle } : {}),
      ...(account
        ? {
            account: {
              name: account.name || '(no name)',
              ...(account.telephone1 ? { phone: account.telephone1 } : {}),
              ...(account.websiteurl ? { website: account.websiteurl } : {}),
              url: recordUrl(api.org, 'account', account.accountid),
            },
          }
        : {}),
      cases: cases.value.map(
        (c): CrmCase => ({
          id: c.incidentid,
          ...(c.ticketnumber ? { number: c.ticketnumber } : {}),
          title: c.title || '(no title)',
          status: formatted(c, 'statecode') ?? STATE_NAMES[c.statecode ?? -1] ?? '',
          ...(c.createdon ? { createdOn: c.createdon } : {}),
          url: recordUrl(api.org, 'incident', c.incidentid),
        }),
      ),
      activities: activities.value.map(
        (a): CrmActivity => ({
          id: a.activityid,
          subject: a.subject || '(no subject)',
          ...((formatted(a, 'activitytypecode') ?? a.activitytypecode) ? { kind: formatted(a, 'activitytypecode') ?? a.activitytypecode! } : {}),
          ...(a.scheduledend ? { due: a.scheduledend } : {}),
        }),
      ),
    };
  },

  recordUrl: (org, contactId) => recordUrl(org, 'contact', contactId),

  async createContact(api, input) {
    const { first, last } = splitName(input.name);
    const body = { ...(first ? { firstname: first } : {}), lastname: last, ...(input.phone ? { mobilephone: input.phone } : {}), ...(input.email ? { emailaddress1: input.email } : {}) };
    const row = await api.json({ method: 'POST', path: `${API_PATH}contacts?$select=${CONTACT_SELECT}`, body, headers: { Prefer: 'return=representation' } }, ContactRow);
    return toContact(api.org, row, 'created');
  },

  /**
   * The conversation becomes a completed task on the contact's timeline. Its
   * id is derived from the org and the conversation, and it is written with
   * an upsert (PATCH to that id), so a retry after a lost answer updates the
   * same task instead of adding a second one.
   */
  async writeBack(api, contactId, record) {
    const id = await recordKey(api.org, record.conversationId);
    await api.send({ method: 'PATCH', path: `${API_PATH}tasks(${id})`, body: taskBody(contactId, record) });
  },
};

function formatted(row: Record<string, unknown>, field: string): string | undefined {
  const value = row[`${field}${FORMATTED}`];
  return typeof value === 'string' && value ? value : undefined;
}

export function taskBody(contactId: string, r: ConversationRecord) {
  return {
    subject: recordSubject(r).slice(0, 200),
    description: recordText(r),
    'regardingobjectid_contact@odata.bind': `/contacts(${contactId})`,
    category: r.channel,
    actualstart: new Date(r.startedAt).toISOString(),
    actualend: new Date(r.endedAt).toISOString(),
    actualdurationminutes: Math.max(1, Math.round((r.endedAt - r.startedAt) / 60_000)),
    statecode: 1,
    statuscode: 5,
  };
}

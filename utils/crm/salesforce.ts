/**
 * Salesforce (REST API). Deskbell asks for no password: like the well-known
 * Salesforce extensions (Salesforce Inspector among them) it uses the session
 * the agent's Lightning tab already has. The session id is the `sid` cookie
 * of the org's `*.my.salesforce.com` domain (HttpOnly: a page cannot read
 * it, the worker can with the `cookies` permission and the host permission
 * it already holds), sent as `Authorization: Bearer`. When it is missing or
 * expired, the agent is told to sign in to their Salesforce tab.
 *
 * Phone numbers are found like in Dynamics 365: a SOQL `LIKE` on the last
 * four digits across MobilePhone, Phone and HomePhone, every batch read
 * (`nextRecordsUrl`), numbers compared after normalising.
 */
import * as v from 'valibot';
import { type ConversationRecord, type CrmAdapter, CrmError, type CrmTransport, recordKey, recordSubject, recordText, splitName } from './api';
import { digitTails, type PhonePages, safeTails, searchPhonePages } from './phone-search';
import { readResponse } from './http';
import type { CrmContact, CrmOrg, MatchedBy } from './types';
import { t } from '../i18n';

export const API_VERSION = 'v60.0';
export const DATA_PATH = `/services/data/${API_VERSION}/`;
const ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
export const MAX_PHONE_ROWS = 5000;
const PHONE_FIELDS = { MobilePhone: 'mobile', Phone: 'business', HomePhone: 'home' } as const satisfies Record<string, MatchedBy>;
const CONTACT_FIELDS = 'Id, Name, Email, MobilePhone, Phone, HomePhone';

/** A Salesforce page: Lightning Experience or a My Domain page (or, on a local test org, any /lightning/ path). */
export function isSalesforcePage(url: string): boolean {
  try {
    const u = new URL(url);
    return /^https?:$/.test(u.protocol) && (u.hostname.endsWith('.lightning.force.com') || u.hostname.endsWith('.my.salesforce.com') || u.pathname.startsWith('/lightning/'));
  } catch {
    return false;
  }
}

/** Where the REST API and its session cookie live: `acme.lightning.force.com` → `acme.my.salesforce.com`. */
export function apiOrigin(pageOrigin: string): string {
  const u = new URL(pageOrigin);
  if (u.hostname.endsWith('.lightning.force.com')) u.hostname = u.hostname.replace(/\.lightning\.force\.com$/, '.my.salesforce.com');
  return u.origin;
}

/** A SOQL string literal's content: backslash and quote escaped; `like` also escapes the wildcards. */
export function soqlString(text: string, like = false): string {
  const escaped = text.replace(/[\\']/g, (c) => `\\${c}`);
  return `'${like ? escaped.replace(/[%_]/g, (c) => `\\${c}`) : escaped}'`;
}

const soql = (q: string) => `${DATA_PATH}query?q=${encodeURIComponent(q)}`;

export function phoneQuery(tails: readonly string[]): string {
  const safe = safeTails(tails);
  const where = Object.keys(PHONE_FIELDS)
    .flatMap((field) => safe.map((t) => `${field} LIKE ${soqlString(`%${t}%`)}`))
    .join(' OR ');
  return soql(`SELECT ${CONTACT_FIELDS} FROM Contact WHERE ${where}`);
}

const Nullable = v.nullish(v.string());
const ContactRow = v.object({ Id: v.pipe(v.string(), v.regex(ID)), Name: Nullable, Email: Nullable, MobilePhone: Nullable, Phone: Nullable, HomePhone: Nullable });
type ContactRow = v.InferOutput<typeof ContactRow>;
const Result = <S extends v.GenericSchema>(row: S) => v.object({ totalSize: v.number(), done: v.boolean(), records: v.array(row), nextRecordsUrl: v.optional(v.string()) });

const lightning = (org: CrmOrg, object: string, id: string) => `${org.origin}/lightning/r/${object}/${id}/view`;

function toContact(org: CrmOrg, c: ContactRow, matchedBy?: MatchedBy): CrmContact {
  const phone = matchedBy === 'business' ? c.Phone : matchedBy === 'home' ? c.HomePhone : (c.MobilePhone ?? c.Phone ?? c.HomePhone);
  return {
    id: c.Id,
    name: c.Name || '(no name)',
    ...(c.Email ? { email: c.Email } : {}),
    ...(phone ? { phone } : {}),
    ...(matchedBy ? { matchedBy } : {}),
    recordUrl: lightning(org, 'Contact', c.Id),
  };
}

const nextPath = (url: string | undefined) => (url && url.startsWith(`${DATA_PATH}query/`) && !url.includes('..') ? url : undefined);

/** The reference a written-back task carries in its subject, to find it again before writing a second time. */
export const taskReference = async (org: CrmOrg, conversationId: string) => `DB-${(await recordKey(org, conversationId)).slice(0, 13)}`;

export const salesforce: CrmAdapter = {
  id: 'salesforce',
  matchesPage: isSalesforcePage,

  findByPhone(api, e164, region, maxRows = MAX_PHONE_ROWS) {
    const pages: PhonePages<ContactRow> = {
      first: phoneQuery(digitTails(e164)),
      page: async (path) => {
        const result = await api.json({ method: 'GET', path, headers: { 'Sforce-Query-Options': 'batchSize=2000' } }, Result(ContactRow));
        return { rows: result.records, next: result.done ? undefined : nextPath(result.nextRecordsUrl) };
      },
      fields: PHONE_FIELDS,
      toContact: (row, matchedBy) => toContact(api.org, row, matchedBy),
    };
    return searchPhonePages(pages, e164, region, maxRows);
  },

  async findByEmail(api, email) {
    const result = await api.json({ method: 'GET', path: soql(`SELECT ${CONTACT_FIELDS} FROM Contact WHERE Email = ${soqlString(email.trim())} LIMIT 20`) }, Result(ContactRow));
    return result.records.map((row) => toContact(api.org, row, 'email'));
  },

  async findByName(api, text) {
    const like = soqlString(text.trim(), true).slice(1, -1);
    const result = await api.json({ method: 'GET', path: soql(`SELECT ${CONTACT_FIELDS} FROM Contact WHERE Name LIKE '%${like}%' ORDER BY Name LIMIT 20`) }, Result(ContactRow));
    return result.records.map((row) => toContact(api.org, row));
  },

  async contact(api, id) {
    if (!ID.test(id)) return undefined;
    const result = await api.json({ method: 'GET', path: soql(`SELECT ${CONTACT_FIELDS} FROM Contact WHERE Id = ${soqlString(id)}`) }, Result(ContactRow));
    return result.records[0] && toContact(api.org, result.records[0], 'crm-id');
  },

  async details(api, contactId) {
    if (!ID.test(contactId)) return { cases: [], activities: [] };
    const id = soqlString(contactId);
    const contact = await api.json(
      { method: 'GET', path: soql(`SELECT Title, Account.Id, Account.Name, Account.Phone, Account.Website FROM Contact WHERE Id = ${id}`) },
      Result(v.object({ Title: Nullable, Account: v.nullish(v.object({ Id: v.pipe(v.string(), v.regex(ID)), Name: Nullable, Phone: Nullable, Website: Nullable })) })),
    );
    const cases = await api.json(
      { method: 'GET', path: soql(`SELECT Id, CaseNumber, Subject, Status, CreatedDate FROM Case WHERE ContactId = ${id} ORDER BY CreatedDate DESC LIMIT 5`) },
      Result(v.object({ Id: v.pipe(v.string(), v.regex(ID)), CaseNumber: Nullable, Subject: Nullable, Status: Nullable, CreatedDate: Nullable })),
    );
    const tasks = await api.json(
      { method: 'GET', path: soql(`SELECT Id, Subject, TaskSubtype, ActivityDate FROM Task WHERE WhoId = ${id} AND IsClosed = false ORDER BY ActivityDate ASC LIMIT 5`) },
      Result(v.object({ Id: v.pipe(v.string(), v.regex(ID)), Subject: Nullable, TaskSubtype: Nullable, ActivityDate: Nullable })),
    );
    const row = contact.records[0];
    const account = row?.Account;
    return {
      ...(row?.Title ? { jobTitle: row.Title } : {}),
      ...(account
        ? { account: { name: account.Name || '(no name)', ...(account.Phone ? { phone: account.Phone } : {}), ...(account.Website ? { website: account.Website } : {}), url: lightning(api.org, 'Account', account.Id) } }
        : {}),
      cases: cases.records.map((c) => ({
        id: c.Id,
        ...(c.CaseNumber ? { number: c.CaseNumber } : {}),
        title: c.Subject || '(no subject)',
        status: c.Status ?? '',
        ...(c.CreatedDate ? { createdOn: c.CreatedDate } : {}),
        url: lightning(api.org, 'Case', c.Id),
      })),
      activities: tasks.records.map((a) => ({ id: a.Id, subject: a.Subject || '(no subject)', ...(a.TaskSubtype ? { kind: a.TaskSubtype } : {}), ...(a.ActivityDate ? { due: a.ActivityDate } : {}) })),
    };
  },

  recordUrl: (org, contactId) => lightning(org, 'Contact', contactId),

  async createContact(api, input) {
    const { first, last } = splitName(input.name);
    const body = { ...(first ? { FirstName: first } : {}), LastName: last, ...(input.phone ? { MobilePhone: input.phone } : {}), ...(input.email ? { Email: input.email } : {}) };
    const created = await api.json({ method: 'POST', path: `${DATA_PATH}sobjects/Contact`, body }, v.object({ id: v.pipe(v.string(), v.regex(ID)), success: v.literal(true) }));
    return { id: created.id, name: input.name.trim() || last, ...(input.email ? { email: input.email } : {}), ...(input.phone ? { phone: input.phone } : {}), matchedBy: 'created', recordUrl: lightning(api.org, 'Contact', created.id) };
  },

  /**
   * A completed Task linked to the contact. Salesforce has no upsert on a
   * standard Task without a custom external-id field, so the subject carries
   * a reference derived from the conversation, and every attempt after the
   * first looks for it before writing: an answer lost after the write cannot
   * add a second task.
   */
  async writeBack(api, contactId, record, attempt) {
    if (!ID.test(contactId)) throw new CrmError('failed', t('crm_failed', api.label, 'not a contact id'));
    const ref = await taskReference(api.org, record.conversationId);
    if (attempt > 0) {
      const found = await api.json(
        { method: 'GET', path: soql(`SELECT Id FROM Task WHERE WhoId = ${soqlString(contactId)} AND Subject LIKE ${soqlString(`%[${ref}]`)}`) },
        Result(v.object({ Id: v.string() })),
      );
      if (found.records.length > 0) return;
    }
    await api.send({ method: 'POST', path: `${DATA_PATH}sobjects/Task`, body: taskBody(contactId, record, ref) });
  },
};

export function taskBody(contactId: string, r: ConversationRecord, ref: string) {
  const subject = recordSubject(r).slice(0, 255 - ref.length - 3);
  return {
    WhoId: contactId,
    Subject: `${subject} [${ref}]`,
    Description: recordText(r).slice(0, 32_000),
    Status: 'Completed',
    Priority: 'Normal',
    TaskSubtype: 'Task',
    ActivityDate: new Date(r.endedAt).toISOString().slice(0, 10),
  };
}

/**
 * The worker's transport to a Salesforce org: the REST API on the org's My
 * Domain, with the Lightning tab's session id as bearer token.
 */
export function salesforceTransport(org: CrmOrg, sessionId: (apiOrigin: string) => Promise<string | undefined>, fetchImpl: typeof fetch = fetch): CrmTransport {
  const base = apiOrigin(org.origin);
  return async (request) => {
    const sid = await sessionId(base);
    if (!sid) throw new CrmError('signin', t('crm_signin', 'Salesforce'));
    const res = await fetchImpl(new URL(request.path, base), {
      method: request.method,
      credentials: 'omit',
      headers: { Accept: 'application/json', Authorization: `Bearer ${sid}`, ...(request.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...request.headers },
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
    });
    return readResponse(res);
  };
}

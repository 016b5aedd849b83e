/**
 * Both adapters against the fake orgs over real HTTP: the fakes parse every
 * query with a real OData or SOQL parser and refuse what the real CRMs
 * refuse, so these tests show the adapters' queries are ones the CRMs take.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDataverse } from '../../demo/fake-crm/dataverse';
import { FakeSalesforce } from '../../demo/fake-crm/salesforce';
import { generateSeed, type Seed } from '../../demo/fake-crm/seed';
import { type ConversationRecord, CrmApi, CrmError } from './api';
import { dynamics365 } from './dynamics365';
import { salesforce, salesforceTransport } from './salesforce';
import type { CrmOrg } from './types';

const MARIA = {
  first: 'Maria',
  last: 'Jansen',
  business: '+31 (0)6 1234 5678',
  email: 'maria.jansen@example.nl',
  title: 'Owner',
  account: 'bakery',
  cases: [
    { number: 'CAS-0107', title: 'Oven warranty', state: 'resolved' as const, createdOn: '2026-10-02T09:00:00Z' },
    { number: 'CAS-0199', title: 'Double charge on invoice', state: 'active' as const, createdOn: '2026-11-20T10:00:00Z' },
  ],
  tasks: ['Call back about the refund'],
};
const TWINS = [
  { first: 'Jan', last: 'de Boer', mobile: '+31 6 55512345', email: 'jan@example.nl' },
  { first: 'Jan', last: 'de Boer jr.', home: '06-555 123 45' },
];
const SEED: Seed = generateSeed({
  customers: [MARIA, ...TWINS, { first: 'Siobhan', last: "O'Neill", email: 'siobhan@example.ie' }],
  accounts: [{ key: 'bakery', name: 'Jansen Bakkerij', phone: '020 123 4567' }],
  total: 4000,
  crowdTail: '5678',
  crowd: 1200,
});

const record: ConversationRecord = {
  conversationId: 'conv-42',
  channel: 'sms',
  customerName: 'Maria Jansen',
  agentName: 'Alex Agent',
  startedAt: Date.UTC(2026, 10, 29, 9, 0),
  endedAt: Date.UTC(2026, 10, 29, 9, 12),
  transcript: '09:00 Maria Jansen: I was charged twice.\n09:02 Alex Agent: Refunded.',
};

interface Harness {
  org: CrmOrg;
  fake: FakeDataverse | FakeSalesforce;
  api: (sleep?: (ms: number) => Promise<void>) => CrmApi;
  adapter: typeof dynamics365;
  contactId: (name: string) => string;
  tasks: (contactId: string) => unknown[];
}

async function dataverse(): Promise<Harness> {
  const fake = await FakeDataverse.start(SEED);
  const transport = await fake.signedInTransport();
  const org: CrmOrg = { crm: 'dynamics365', origin: fake.origin };
  return {
    org,
    fake,
    api: (sleep) => new CrmApi(org, transport, sleep),
    adapter: dynamics365,
    contactId: (name) => String(fake.contact(name).contactid),
    tasks: (id) => fake.tasksOf(id).filter((t) => t.statecode === 1),
  };
}

async function salesforceOrg(): Promise<Harness> {
  const fake = await FakeSalesforce.start(SEED);
  fake.batchLimit = 500;
  const org: CrmOrg = { crm: 'salesforce', origin: fake.origin };
  const transport = salesforceTransport(org, async () => fake.sid);
  return {
    org,
    fake,
    api: (sleep) => new CrmApi(org, transport, sleep),
    adapter: salesforce,
    contactId: (name) => String(fake.contact(name).Id),
    tasks: (id) => fake.tasksOf(id).filter((t) => t.Status === 'Completed'),
  };
}

describe.each([
  ['Dynamics 365', dataverse],
  ['Salesforce', salesforceOrg],
])('%s adapter against its fake org', (_name, start) => {
  let h: Harness;
  beforeAll(async () => void (h = await start()));
  afterAll(() => h.fake.close());

  it('finds the one contact among thousands, reading every page of the 1,200 that share its last four digits', async () => {
    h.fake.requests.length = 0;
    const found = await h.adapter.findByPhone(h.api(), '+31612345678', 'NL');
    expect(found).toMatchObject({ complete: true, contacts: [{ name: 'Maria Jansen', matchedBy: 'business', phone: '+31 (0)6 1234 5678' }] });
    expect(h.fake.requests.length).toBeGreaterThan(2);
    expect(found.contacts[0]!.recordUrl).toBe(h.fake.recordUrl(h.org.crm === 'salesforce' ? 'Contact' : 'contact', h.contactId('Maria Jansen')));
  });

  it('says it stopped, rather than "no contact", when more candidates share the digits than it may read', async () => {
    const found = await h.adapter.findByPhone(h.api(), '+31699995678', 'NL', 1000);
    expect(found).toMatchObject({ complete: false, contacts: [] });
  });

  it('returns every contact with the number, whichever phone field holds it', async () => {
    const found = await h.adapter.findByPhone(h.api(), '+31655512345', 'NL');
    expect(found.contacts.map((c) => `${c.name}: ${c.matchedBy}`).sort()).toEqual(['Jan de Boer jr.: home', 'Jan de Boer: mobile']);
  });

  it('finds by email, and by name with a quote in it (escaped, not injected)', async () => {
    expect((await h.adapter.findByEmail(h.api(), 'MARIA.JANSEN@example.nl')).map((c) => c.name)).toEqual(['Maria Jansen']);
    const oneill = await h.adapter.findByName(h.api(), "O'Neill");
    expect(oneill.length).toBeGreaterThan(0);
    expect(oneill.every((c) => c.name.includes("O'Neill"))).toBe(true);
    expect(await h.adapter.findByName(h.api(), "x' or name != '")).toEqual([]);
  });

  it('summarises a contact: job title, account, recent cases newest first, open activities', async () => {
    const details = await h.adapter.details(h.api(), h.contactId('Maria Jansen'));
    expect(details).toMatchObject({
      jobTitle: 'Owner',
      account: { name: 'Jansen Bakkerij' },
      cases: [{ number: 'CAS-0199', title: 'Double charge on invoice' }, { number: 'CAS-0107', title: 'Oven warranty' }],
      activities: [{ subject: 'Call back about the refund' }],
    });
  });

  it('creates a contact with the name split, and the number and address given', async () => {
    const created = await h.adapter.createContact(h.api(), { name: 'Nora van Dijk', phone: '+31687654321', email: 'nora@example.nl' });
    expect(created).toMatchObject({ name: 'Nora van Dijk', matchedBy: 'created' });
    const again = await h.adapter.findByPhone(h.api(), '+31687654321', 'NL');
    expect(again.contacts.map((c) => c.id)).toEqual([created.id]);
  });

  it('writes the conversation to the timeline exactly once when the first answer is lost after the write', async () => {
    const id = h.contactId('Maria Jansen');
    h.fake.failNext({ kind: 'lost', method: h.org.crm === 'salesforce' ? 'POST' : 'PATCH' });
    const first = await h.adapter.writeBack(h.api(), id, record, 0).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(CrmError);
    expect(h.tasks(id)).toHaveLength(1); // it was written, though the answer said otherwise
    await h.adapter.writeBack(h.api(), id, record, 1);
    await h.adapter.writeBack(h.api(), id, record, 2);
    expect(h.tasks(id)).toHaveLength(1);
    expect(JSON.stringify(h.tasks(id)[0])).toContain('Refunded.');
  });

  it('says plainly when the session expired, when throttled (a short Retry-After is waited once), and when the answer is odd', async () => {
    h.fake.failNext({ kind: 'signin' });
    await expect(h.adapter.findByEmail(h.api(), 'a@b.c')).rejects.toMatchObject({ kind: 'signin', message: expect.stringContaining('Sign in to your') });

    const waits: number[] = [];
    h.fake.failNext({ kind: 'throttle', retryAfterS: 2 });
    const api = h.api(async (ms) => void waits.push(ms));
    expect((await h.adapter.findByEmail(api, 'maria.jansen@example.nl')).length).toBe(1);
    expect(waits).toEqual([2000]);

    h.fake.failNext({ kind: 'throttle', retryAfterS: 40 });
    await expect(h.adapter.findByEmail(h.api(), 'a@b.c')).rejects.toMatchObject({ kind: 'throttled', retryAfterS: 40 });

    const odd = new CrmApi(h.org, async () => ({ status: 200, body: '<html>login</html>' }));
    await expect(h.adapter.findByEmail(odd, 'a@b.c')).rejects.toMatchObject({ kind: 'shape' });
  });
});

describe('the fake orgs refuse what the real ones refuse', () => {
  it('Dataverse: an unknown property, an unknown option, a missing session', async () => {
    const fake = await FakeDataverse.start(SEED);
    try {
      const cookie = (await fetch(fake.orgUrl)).headers.get('set-cookie')!.split(';')[0]!;
      const get = (q: string, withCookie = true) => fetch(`${fake.origin}/api/data/v9.2/contacts?${q}`, { headers: withCookie ? { cookie } : {} });
      const unknown = await get(`$filter=${encodeURIComponent("contains(nickname,'x')")}`);
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain("'nickname'");
      expect((await get('$where=1')).status).toBe(400);
      expect((await get(`$filter=${encodeURIComponent('contains(fullname,')}`)).status).toBe(400);
      expect((await get('$top=1', false)).status).toBe(401);
    } finally {
      await fake.close();
    }
  });

  it('Salesforce: an unknown field, malformed SOQL, no bearer token', async () => {
    const fake = await FakeSalesforce.start(SEED);
    try {
      const query = (q: string, auth = true) => fetch(`${fake.origin}/services/data/v60.0/query?q=${encodeURIComponent(q)}`, { headers: auth ? { Authorization: `Bearer ${fake.sid}` } : {} });
      const unknown = await query('SELECT Id, Nickname FROM Contact');
      expect(unknown.status).toBe(400);
      expect(await unknown.json()).toEqual([expect.objectContaining({ errorCode: 'INVALID_FIELD' })]);
      expect((await query('SELECT FROM WHERE')).status).toBe(400);
      expect((await query('SELECT Id FROM Contact LIMIT 1', false)).status).toBe(401);
    } finally {
      await fake.close();
    }
  });
});

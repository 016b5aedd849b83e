import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation } from '../../protocol/feed';
import { FakeDataverse } from '../../demo/fake-crm/dataverse';
import { generateSeed } from '../../demo/fake-crm/seed';
import { CrmApi, type CrmTransport } from '../../utils/crm/api';
import type { CrmOrg } from '../../utils/crm/types';
import { fetchDetails, identifyCustomer, type IdentifyDeps } from './identify';

const conversation = (customer: Conversation['customer'], channel: Conversation['channel'] = 'sms'): Conversation => ({
  id: 'c1',
  scenario: channel === 'sms' ? 'sms' : 'chat',
  channel,
  customer,
  comment: 'Hi',
  waitingSince: 0,
  status: 'offered',
});
const sms = (phone: string) => conversation({ name: phone, phone });

let fake: FakeDataverse;
let org: CrmOrg;
let transport: CrmTransport;
beforeAll(async () => {
  fake = await FakeDataverse.start(
    generateSeed({
      customers: [
        { first: 'Maria', last: 'Jansen', mobile: '(06) 1234-5678', email: 'maria@example.nl' },
        { first: 'M.', last: 'Jansen', home: '0031 6 12345678' },
        { first: 'Tom', last: 'Becker', business: '+49 151 23456789', email: 'tom@example.de' },
      ],
      total: 300,
      crowdTail: '5678',
      crowd: 50,
    }),
  );
  org = { crm: 'dynamics365', origin: fake.origin };
  transport = await fake.signedInTransport();
});
afterAll(() => fake.close());

const deps = (over: Partial<IdentifyDeps> = {}): IdentifyDeps => ({ region: 'NL', findOrgs: async () => [org], api: (o) => new CrmApi(o, transport), ...over });

describe('identifyCustomer', () => {
  it('links the contact whose phone is the same number, however it was typed, and says which field matched', async () => {
    expect(await identifyCustomer(sms('+49 151 23456789'), deps())).toMatchObject({ status: 'matched', org, contact: { name: 'Tom Becker', matchedBy: 'business' } });
  });

  it('lets the agent pick when several contacts share the number', async () => {
    const result = await identifyCustomer(sms('0612345678'), deps());
    expect(result).toMatchObject({ status: 'ambiguous', org });
    expect(result.status === 'ambiguous' && result.candidates.map((c) => c.name).sort()).toEqual(['M. Jansen', 'Maria Jansen']);
  });

  it('looks chat customers up by email, and a CRM id from the channel by id', async () => {
    expect(await identifyCustomer(conversation({ name: 'maria', email: 'Maria@Example.nl' }, 'chat'), deps())).toMatchObject({ status: 'matched', contact: { name: 'Maria Jansen', matchedBy: 'email' } });
    const id = String(fake.contact('Tom Becker').contactid);
    expect(await identifyCustomer(conversation({ name: 'T', crmId: id }, 'chat'), deps())).toMatchObject({ status: 'matched', contact: { name: 'Tom Becker', matchedBy: 'crm-id' } });
  });

  it('says so when nothing matches, the number is unreadable, no org is open, or the CRM is slow, signed out or broken', async () => {
    expect(await identifyCustomer(sms('0611112222'), deps())).toMatchObject({ status: 'none', message: expect.stringContaining('+31611112222') });
    expect(await identifyCustomer(sms('call me'), deps())).toMatchObject({ status: 'unreadable' });
    expect(await identifyCustomer(sms('0612345678'), deps({ findOrgs: async () => [] }))).toMatchObject({ status: 'unavailable' });
    const slow = deps({ budgetMs: 50, api: (o) => new CrmApi(o, () => new Promise(() => {})) });
    expect(await identifyCustomer(sms('0612345678'), slow)).toMatchObject({ status: 'failed', message: expect.stringContaining('within') });
    fake.failNext({ kind: 'signin' });
    expect(await identifyCustomer(sms('0612345678'), deps())).toMatchObject({ status: 'failed', message: expect.stringContaining('Sign in to your Dynamics 365 tab') });
    fake.failNext({ kind: '500' });
    expect(await identifyCustomer(sms('0612345678'), deps())).toMatchObject({ status: 'failed', message: expect.stringContaining('500') });
  });

  it('asks the next open org when the first fails', async () => {
    const dead: CrmOrg = { crm: 'salesforce', origin: 'http://127.0.0.1:9' };
    const result = await identifyCustomer(sms('+49 151 23456789'), deps({ findOrgs: async () => [dead, org], api: (o) => new CrmApi(o, o === dead ? async () => ({ status: 401, body: null }) : transport) }));
    expect(result).toMatchObject({ status: 'matched', org });
  });

  it('asks the next open org when the first knows nobody by that number', async () => {
    const other: CrmOrg = { crm: 'dynamics365', origin: 'https://other.crm4.dynamics.com' };
    const empty: CrmTransport = async () => ({ status: 200, body: { value: [] } });
    const result = await identifyCustomer(sms('+49 151 23456789'), deps({ findOrgs: async () => [other, org], api: (o) => new CrmApi(o, o === other ? empty : transport) }));
    expect(result).toMatchObject({ status: 'matched', org, contact: { name: 'Tom Becker' } });
  });

  it('uses the channel customer when there is nothing to look up by', async () => {
    expect(await identifyCustomer(conversation({ name: 'Maria' }), deps())).toEqual({ status: 'channel' });
  });

  it('fetches the details of a match, or says why not', async () => {
    const id = String(fake.contact('Tom Becker').contactid);
    expect(await fetchDetails(org, id, deps())).toEqual({ details: { cases: [], activities: [] } });
    fake.failNext({ kind: 'throttle', retryAfterS: 30 });
    expect(await fetchDetails(org, id, deps())).toEqual({ detailsError: expect.stringContaining('30 s') });
  });
});

import { describe, expect, it } from 'vitest';
import type { Conversation } from '../../protocol/feed';
import { identifyCustomer, type IdentifyDeps } from './identify';

const sms = (phone: string): Conversation => ({
  id: 'c1',
  scenario: 'sms',
  channel: 'sms',
  customer: { name: phone, phone },
  comment: 'Hi',
  waitingSince: 0,
  status: 'offered',
});

const contact = (id: number, fullname: string, mobilephone: string) => ({
  contactid: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
  fullname,
  mobilephone,
});

function deps(value: unknown[], over: Partial<IdentifyDeps> = {}): IdentifyDeps {
  return {
    region: 'NL',
    findOrgTabs: async () => [7],
    askTab: async () => ({ ok: true, origin: 'https://org.crm4.dynamics.com', body: { value } }),
    ...over,
  };
}

describe('identifyCustomer', () => {
  it('links the contact whose mobile phone is the same number, however it was typed', async () => {
    const result = await identifyCustomer(sms('+31 6 12345678'), deps([contact(1, 'Maria Jansen', '(06) 1234-5678'), contact(2, 'Other', '06 9999 5678')]));
    expect(result).toMatchObject({ status: 'matched', contact: { name: 'Maria Jansen', recordUrl: expect.stringContaining('etn=contact&id=00000000-0000-4000-8000-000000000001') } });
  });

  it('lets the agent pick when several contacts share the number', async () => {
    const result = await identifyCustomer(sms('0612345678'), deps([contact(1, 'Maria Jansen', '+31612345678'), contact(2, 'M. Jansen', '0031 6 12345678')]));
    expect(result).toMatchObject({ status: 'ambiguous', candidates: [{ name: 'Maria Jansen' }, { name: 'M. Jansen' }] });
  });

  it('says so when nothing matches, the number is unreadable, no org is open, or the CRM is slow or broken', async () => {
    expect(await identifyCustomer(sms('0612345678'), deps([contact(1, 'X', '0698765678')]))).toMatchObject({ status: 'none' });
    expect(await identifyCustomer(sms('call me'), deps([]))).toMatchObject({ status: 'unreadable' });
    expect(await identifyCustomer(sms('0612345678'), deps([], { findOrgTabs: async () => [] }))).toMatchObject({ status: 'unavailable' });
    const slow = deps([], { budgetMs: 50, askTab: () => new Promise(() => {}) });
    expect(await identifyCustomer(sms('0612345678'), slow)).toMatchObject({ status: 'failed', message: expect.stringContaining('within') });
    const broken = deps([], { askTab: async () => ({ ok: false, error: 'Dynamics 365 answered 401 Unauthorized' }) });
    expect(await identifyCustomer(sms('0612345678'), broken)).toMatchObject({ status: 'failed', message: 'Dynamics 365 answered 401 Unauthorized' });
    const odd = deps([], { askTab: async () => ({ ok: true, origin: 'x', body: '<html>' }) });
    expect(await identifyCustomer(sms('0612345678'), odd)).toMatchObject({ status: 'failed', message: expect.stringContaining('unexpected shape') });
  });

  it('uses the channel customer when there is no number or the channel knows the CRM id', async () => {
    expect(await identifyCustomer({ ...sms('x'), customer: { name: 'Maria' } }, deps([]))).toEqual({ status: 'channel' });
    expect(await identifyCustomer({ ...sms('0612345678'), customer: { name: 'Maria', phone: '0612345678', crmId: 'abc' } }, deps([]))).toEqual({ status: 'channel' });
  });
});

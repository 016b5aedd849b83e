import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeSalesforce } from '../../demo/fake-crm/salesforce';
import { generateSeed } from '../../demo/fake-crm/seed';
import { CrmApi } from '../../utils/crm/api';
import { ADAPTERS } from '../../utils/crm';
import { salesforceTransport } from '../../utils/crm/salesforce';
import type { CrmOrg, Identification } from '../../utils/crm/types';
import { EMPTY_STATE, type FeedState, type SessionEntry } from '../../utils/state';
import { StateKeeper } from './state-keeper';
import { MAX_ATTEMPTS, planWriteBacks, retryDelay, WriteBacks } from './write-back';

let fake: FakeSalesforce;
let org: CrmOrg;
beforeAll(async () => {
  fake = await FakeSalesforce.start(generateSeed({ customers: [{ first: 'Maria', last: 'Jansen', mobile: '0612345678' }], total: 20, crowdTail: '0000', crowd: 0 }));
  org = { crm: 'salesforce', origin: fake.origin };
});
afterAll(() => fake.close());

const api = (o: CrmOrg) => new CrmApi(o, salesforceTransport(o, async () => fake.sid));

function session(id: string, endedBy?: SessionEntry['endedBy']): SessionEntry {
  return {
    conversationId: id,
    offerId: `o-${id}`,
    conversation: { id, scenario: 'sms', channel: 'sms', customer: { name: '+31612345678', phone: '+31612345678' }, comment: 'Hi', waitingSince: 0, status: 'active' },
    transcript: [
      { id: `${id}-m1`, conversationId: id, from: 'customer', text: 'I was charged twice.', at: Date.UTC(2026, 10, 29, 9, 0) },
      { id: `${id}-m2`, conversationId: id, from: 'agent', text: 'Refunded.', at: Date.UTC(2026, 10, 29, 9, 2), author: 'Alex' },
    ],
    acceptedAt: Date.UTC(2026, 10, 29, 8, 59),
    ...(endedBy ? { endedBy } : {}),
  };
}

const matched = (contactId: string): Identification => ({ status: 'matched', phone: '+31612345678', org, contact: { id: contactId, name: 'Maria Jansen', matchedBy: 'mobile' } });

function harness(initial: FeedState) {
  let now = Date.UTC(2026, 10, 29, 9, 10);
  const alarms: (number | undefined)[] = [];
  const keeper: StateKeeper = new StateKeeper({ load: async () => initial, save: async () => {}, onChange: (s) => writeBacks.sync(s), scheduleWake: () => {}, now: () => now });
  const writeBacks: WriteBacks = new WriteBacks(keeper, api, () => 'Alex', (at) => alarms.push(at), () => now);
  return { keeper, writeBacks, alarms, advance: (ms: number) => void (now += ms), job: (id: string) => keeper.state.writeBacks?.[id] };
}

describe('write-back of ended conversations', () => {
  it('plans a job only for an ended session with a known contact, and forgets finished jobs of closed sessions', () => {
    const id = String(fake.contact('Maria Jansen').Id);
    const state: FeedState = { ...EMPTY_STATE, sessions: { a: session('a', 'customer'), b: session('b'), c: session('c', 'agent') }, identifications: { a: matched(id), b: matched(id) } };
    const planned = planWriteBacks(state, 'Alex', 1000);
    expect(Object.keys(planned.writeBacks ?? {})).toEqual(['a']);
    // The customer is named as the CRM knows them, not by number.
    expect(planned.writeBacks!.a!.record).toMatchObject({ customerName: 'Maria Jansen', agentName: 'Alex', transcript: '09:00 Maria Jansen: I was charged twice.\n09:02 Alex: Refunded.' });
    expect(planWriteBacks(planned, 'Alex', 2000)).toBe(planned);
    const closed = { ...planned, sessions: {}, writeBacks: { a: { ...planned.writeBacks!.a!, status: 'done' as const } } };
    expect(planWriteBacks(closed, 'Alex', 3000).writeBacks).toEqual({});
  });

  it('writes exactly one task when the first answer is lost, retrying after its delay', async () => {
    const id = String(fake.contact('Maria Jansen').Id);
    const before = fake.tasksOf(id).length;
    fake.failNext({ kind: 'lost', method: 'POST', path: 'sobjects/Task' });
    const h = harness({ ...EMPTY_STATE, sessions: { x: session('x', 'customer') }, identifications: { x: matched(id) } });
    await vi.waitFor(() => expect(h.job('x')).toMatchObject({ status: 'pending', attempts: 1, error: expect.stringContaining('500') }));
    expect(fake.tasksOf(id).length).toBe(before + 1); // the write happened; its answer was lost
    expect(h.alarms.at(-1)).toBe(h.job('x')!.nextAt);
    h.advance(retryDelay(1));
    h.writeBacks.sync(h.keeper.state);
    await vi.waitFor(() => expect(h.job('x')).toMatchObject({ status: 'done', attempts: 2 }));
    expect(fake.tasksOf(id).length).toBe(before + 1);
    expect(fake.tasksOf(id).at(-1)).toMatchObject({ Status: 'Completed', Subject: expect.stringContaining('Deskbell sms conversation with Maria Jansen [DB-') });
  });

  it('a worker stopped mid-attempt: the next one looks before writing', async () => {
    const id = String(fake.contact('Maria Jansen').Id);
    // The first worker wrote the task and was stopped before it stored the outcome.
    const planned = planWriteBacks({ ...EMPTY_STATE, sessions: { y: session('y', 'agent') }, identifications: { y: matched(id) } }, 'Alex', 0);
    await ADAPTERS.salesforce.writeBack(api(org), id, planned.writeBacks!.y!.record, 0);
    const count = fake.tasksOf(id).length;
    const h = harness({ ...planned, writeBacks: { y: { ...planned.writeBacks!.y!, attempts: 1 } } });
    await vi.waitFor(() => expect(h.job('y')).toMatchObject({ status: 'done', attempts: 2 }));
    expect(fake.tasksOf(id).length).toBe(count);
  });

  it('gives up after its attempts, saying why', async () => {
    const id = String(fake.contact('Maria Jansen').Id);
    const planned = planWriteBacks({ ...EMPTY_STATE, sessions: { z: session('z', 'agent') }, identifications: { z: matched(id) } }, 'Alex', 0);
    fake.outage = 'signin';
    try {
      const h = harness({ ...planned, writeBacks: { z: { ...planned.writeBacks!.z!, attempts: MAX_ATTEMPTS - 1 } } });
      await vi.waitFor(() => expect(h.job('z')).toMatchObject({ status: 'failed', error: expect.stringContaining('Sign in to your Salesforce tab') }));
    } finally {
      fake.outage = undefined;
    }
  });

  it('waits longer each time, and at least as long as the CRM asks', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n))).toEqual([3000, 6000, 12000, 24000]);
    expect(retryDelay(20)).toBe(300_000);
    expect(retryDelay(1, 60)).toBe(60_000);
  });
});

import { signal } from '@preact/signals';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BackgroundClient } from './background-client';
import type { SessionEntry } from './state';
import type { CommandResult } from './messages';
import { createSidePanelModel, SEND_TIMEOUT_MS } from './sidepanel-model';
import type { PageSnapshot } from './snapshot';

function session(id: string, acceptedAt: number, transcript: SessionEntry['transcript'] = []): SessionEntry {
  return {
    conversationId: id,
    offerId: `o-${id}`,
    conversation: { id, scenario: 'chat', channel: 'chat', customer: { name: id }, comment: '', waitingSince: 0, status: 'active' },
    transcript,
    acceptedAt,
  };
}

function fakeClient(result: () => CommandResult = () => ({ ok: true })) {
  const view = signal<PageSnapshot | null>(null);
  const sent: [string, string, string][] = [];
  const client: BackgroundClient = {
    view,
    sendChatMessage: async (c, id, text) => (sent.push([c, id, text]), result()),
    retryDelivery: async () => ({ ok: true }),
    endConversation: async () => ({ ok: true }),
    closeSession: async () => ({ ok: true }),
    pickContact: async () => ({ ok: true }),
    searchContacts: async () => ({ ok: true }),
    createContact: async () => ({ ok: true }),
    signIn: async () => ({ ok: true }),
    signOut: async () => ({ ok: true }),
  };
  const show = (sessions: SessionEntry[], focus?: PageSnapshot['focus']) =>
    (view.value = { theme: 'dark', cards: [], sessionDetails: sessions, connection: null, sitesMissingPermission: [], identifications: {}, writeBacks: {}, skewMs: 0, pendingOffers: 0, ...(focus ? { focus } : {}) });
  return { client, sent, show };
}

describe('side panel model', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('focuses the newest session when it arrives and keeps each draft', () => {
    const f = fakeClient();
    const model = createSidePanelModel(f.client);
    f.show([session('a', 1)]);
    expect(model.selected.value?.conversationId).toBe('a');
    model.setDraft('a', 'draft a');
    f.show([session('a', 1), session('b', 2)]);
    expect(model.selected.value?.conversationId).toBe('b');
    model.select('a');
    expect(model.drafts.value).toEqual({ a: 'draft a' });
  });

  it('shows the session the agent asked for elsewhere (a toast, Open), once per ask', () => {
    const f = fakeClient();
    const model = createSidePanelModel(f.client);
    f.show([session('a', 1), session('b', 2)]);
    f.show([session('a', 1), session('b', 2)], { conversationId: 'a', at: 5 });
    expect(model.selected.value?.conversationId).toBe('a');
    model.select('b');
    f.show([session('a', 1), session('b', 2)], { conversationId: 'a', at: 5 });
    expect(model.selected.value?.conversationId).toBe('b');
  });

  it('shows a sent message as sending until the feed echoes it', async () => {
    const f = fakeClient();
    let n = 0;
    const model = createSidePanelModel(f.client, { newId: () => `m${++n}` });
    f.show([session('a', 1)]);
    model.setDraft('a', '  hello  ');
    model.send('a');
    expect(model.drafts.value.a).toBe('');
    expect(model.outgoing.value).toMatchObject([{ clientMsgId: 'm1', text: 'hello', status: 'sending' }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(f.sent).toEqual([['a', 'm1', 'hello']]);
    f.show([session('a', 1, [{ id: 's1', conversationId: 'a', from: 'agent', text: 'hello', at: 2, clientMsgId: 'm1' }])]);
    expect(model.outgoing.value).toEqual([]);
  });

  it('marks a message failed when refused or unanswered, and retries with the same id', async () => {
    let answer: CommandResult = { ok: false, error: 'Not connected to the conversation feed.' };
    const f = fakeClient(() => answer);
    const model = createSidePanelModel(f.client, { newId: () => 'm1' });
    f.show([session('a', 1)]);
    model.setDraft('a', 'hello');
    model.send('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(model.outgoing.value).toMatchObject([{ status: 'failed', error: 'Not connected to the conversation feed.' }]);

    answer = { ok: true };
    model.retry('m1');
    await vi.advanceTimersByTimeAsync(0);
    expect(model.outgoing.value).toMatchObject([{ status: 'sending' }]);
    await vi.advanceTimersByTimeAsync(SEND_TIMEOUT_MS);
    expect(model.outgoing.value).toMatchObject([{ status: 'failed', error: 'No answer from the conversation feed.' }]);
    expect(f.sent.map(([, id]) => id)).toEqual(['m1', 'm1']);
  });

  it('ignores an empty draft', () => {
    const f = fakeClient();
    const model = createSidePanelModel(f.client);
    f.show([session('a', 1)]);
    model.setDraft('a', '   ');
    model.send('a');
    expect(model.outgoing.value).toEqual([]);
  });
});

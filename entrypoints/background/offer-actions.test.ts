import { describe, expect, it } from 'vitest';
import type { FeedCommand } from './feed-client';
import { applyEvent, EMPTY_STATE, expireDue, type FeedState } from './feed-state';
import { present } from '../../utils/presentation';
import type { Conversation, Scenario, ServerEvent } from '../../protocol/feed';
import type { TemplateOverrides } from '../../utils/templates';
import { OfferActions } from './offer-actions';
import { StateKeeper } from './state-keeper';

const conversation = (id: string, scenario: Scenario = 'chat'): Conversation => ({ id, scenario, channel: 'chat', customer: { name: 'Maria' }, comment: 'hi', waitingSince: 0, status: 'offered' });
const offer = (offerId: string, conversationId = `c-${offerId}`, seq = 1): ServerEvent => ({ type: 'offer', seq, offerId, conversation: conversation(conversationId), offeredAt: 0, expiresAt: 60_000 });

function setup(events: ServerEvent[], templates: TemplateOverrides = {}, connected = true) {
  let now = 1000;
  const initial = events.reduce<FeedState>((s, e) => applyEvent(s, e, now, (sc, kind, at) => present(sc, kind, templates, at)), EMPTY_STATE);
  const sent: FeedCommand[] = [];
  const keeper = new StateKeeper({ load: async () => initial, save: async () => {}, onChange: () => {}, scheduleWake: () => {}, now: () => now });
  const feed = { connected, send: (c: FeedCommand) => (feed.connected ? (sent.push(c), true) : false) };
  const actions = new OfferActions(keeper, feed);
  return { keeper, actions, sent, feed, advance: (ms: number) => (now += ms) };
}

describe('OfferActions', () => {
  it('accepts once: the feed is asked, the offer is settled, a second accept is told it is gone', async () => {
    const t = setup([offer('o1')]);
    expect(await t.actions.accept('o1')).toEqual({ ok: true });
    expect(t.sent).toEqual([{ type: 'accept', offerId: 'o1' }]);
    expect(t.keeper.state.offers.o1?.status).toBe('accepted');
    expect(await t.actions.accept('o1')).toEqual({ ok: false, error: 'This conversation is no longer offered to you.' });
    expect(t.sent).toHaveLength(1);
  });

  it('changes nothing when the feed is down, and says so', async () => {
    const t = setup([offer('o1')], {}, false);
    expect(await t.actions.accept('o1')).toEqual({ ok: false, error: 'Not connected to the conversation feed.' });
    expect(t.keeper.state.offers.o1?.status).toBe('offered');
  });

  it('rejects with a reason the template lists; without one it asks for it, and it refuses what the template forbids', async () => {
    const t = setup([offer('o1'), offer('o2', 'c-o2', 2)], { chat: { rejectReasons: ['Busy', 'Wrong skill'] } });
    expect(await t.actions.reject('o1')).toMatchObject({ ok: false, needsReason: true });
    expect(await t.actions.reject('o1', 'Lunch')).toEqual({ ok: false, error: 'That is not one of the reject reasons.' });
    expect(t.sent).toEqual([]);
    expect(await t.actions.reject('o1', 'Busy')).toEqual({ ok: true });
    expect(t.sent).toEqual([{ type: 'reject', offerId: 'o1', reason: 'Busy' }]);
    const strict = setup([offer('o3')], { chat: { rejectAllowed: false } });
    expect(await strict.actions.reject('o3')).toEqual({ ok: false, error: 'Rejecting is not allowed for this kind of conversation.' });
  });

  it('picks the newest offer for shortcuts, never a toast', async () => {
    const assigned: ServerEvent = { type: 'assigned', seq: 3, conversation: { ...conversation('c9', 'work-item'), status: 'active' }, transcript: [] };
    const t = setup([offer('o1'), offer('o2', 'c-o2', 2), assigned]);
    await t.keeper.ready;
    expect(t.actions.newest()).toBe('o2');
  });

  it('dismisses and opens toasts for every tab, and refuses what is not there', async () => {
    const assigned: ServerEvent = { type: 'assigned', seq: 1, conversation: { ...conversation('c9', 'work-item'), status: 'active' }, transcript: [] };
    const t = setup([assigned]);
    expect(await t.actions.dismiss('c9')).toEqual({ ok: true });
    expect(t.keeper.state.notices.c9).toMatchObject({ closed: 'dismissed' });
    expect(await t.actions.open('c9')).toEqual({ ok: true });
    expect(t.keeper.state.focus).toMatchObject({ conversationId: 'c9' });
    expect(await t.actions.dismiss('nope')).toMatchObject({ ok: false });
    expect(await t.actions.open('nope')).toMatchObject({ ok: false });
  });

  it('auto-accepts what the template says, and the alert gives way to a toast that opens it', async () => {
    const t = setup([offer('o1'), offer('o2', 'c-o2', 2)], { chat: { autoAccept: true } });
    await t.keeper.ready;
    t.actions.autoAcceptNew();
    await t.keeper.ready;
    await new Promise((r) => setTimeout(r, 0));
    expect(t.sent).toEqual([{ type: 'accept', offerId: 'o1' }, { type: 'accept', offerId: 'o2' }]);
    expect(t.keeper.state.notices['c-o1']).toMatchObject({ presentation: { kind: 'toast', sound: null } });
  });

  it('tells the feed, once, of each offer whose time ran out here first, and the rest after a reconnect', async () => {
    const t = setup([offer('o1'), offer('o2', 'c-o2', 2)], { chat: { timeoutSec: 10 } });
    await t.keeper.ready;
    t.feed.connected = false;
    await t.keeper.update((s) => expireDue(s, 11_000));
    t.actions.tellTimeouts();
    expect(t.sent).toEqual([]);
    t.feed.connected = true;
    t.actions.tellTimeouts();
    await new Promise((r) => setTimeout(r, 0));
    t.actions.tellTimeouts();
    expect(t.sent).toEqual([
      { type: 'timeout', offerId: 'o1' },
      { type: 'timeout', offerId: 'o2' },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { applyEvent, closeNotice, EMPTY_STATE, type FeedState, resolveOffer } from './feed-state';
import { present } from '../../utils/presentation';
import type { Conversation, Scenario } from '../../protocol/feed';
import type { TemplateOverrides } from '../../utils/templates';
import { planAttention } from './attention';

const conversation = (id: string, scenario: Scenario): Conversation => ({ id: `c-${id}`, scenario, channel: 'chat', customer: { name: `Customer ${id}` }, comment: 'Hi', waitingSince: 0, status: 'offered' });
const presenter = (templates: TemplateOverrides) => (scenario: Scenario, kind: 'alert' | 'toast', now: number) => present(scenario, kind, templates, now);

function offered(scenario: Scenario, id: string, seq: number, state: FeedState = EMPTY_STATE, now = 0, templates: TemplateOverrides = {}) {
  return applyEvent(state, { type: 'offer', seq, offerId: id, conversation: conversation(id, scenario), offeredAt: 0, expiresAt: 60_000 }, now, presenter(templates));
}

function assigned(scenario: Scenario, id: string, seq: number, state: FeedState = EMPTY_STATE, now = 0, templates: TemplateOverrides = {}) {
  return applyEvent(state, { type: 'assigned', seq, conversation: { ...conversation(id, scenario), status: 'active' }, transcript: [] }, now, presenter(templates));
}

describe('planAttention', () => {
  it('notifies for alerts only when no CRM tab is in view, by default, as decided when the offer arrived', () => {
    const state = offered('chat', 'a', 1);
    expect(planAttention(state, true, 0).notifications).toEqual([]);
    expect(planAttention(state, false, 0).notifications).toMatchObject([{ id: 'offer:a', offerId: 'a', alert: true, rejectAllowed: true, customerName: 'Customer a' }]);
    expect(planAttention(offered('chat', 'a', 1, EMPTY_STATE, 0, { chat: { desktop: 'always' } }), true, 0).notifications).toHaveLength(1);
    expect(planAttention(offered('chat', 'a', 1, EMPTY_STATE, 0, { chat: { desktop: 'never' } }), false, 0).notifications).toHaveLength(0);
  });

  it('offers no Reject button on a notification when a reason must be picked on the card', () => {
    const state = offered('chat', 'a', 1, EMPTY_STATE, 0, { chat: { rejectReasons: ['Busy'] } });
    expect(planAttention(state, false, 0).notifications).toMatchObject([{ alert: true, rejectAllowed: false }]);
  });

  it('rings the newest ringing alert in a loop until it is answered, then stops', () => {
    let state = offered('chat', 'a', 1);
    state = offered('sms', 'b', 2, state, 0, { sms: { soundName: 'chime', volume: 40 } });
    expect(planAttention(state, true, 0).sound).toEqual({ offerId: 'b', sound: 'chime', volume: 40, loop: true });
    state = resolveOffer(state, 'b', 'accepted', 1);
    expect(planAttention(state, true, 1).sound).toMatchObject({ offerId: 'a' });
    state = resolveOffer(state, 'a', 'rejected', 2);
    expect(planAttention(state, true, 2).sound).toBeNull();
  });

  it('plays a toast once, and not at all when its template is silent; a closed toast notifies no more', () => {
    const state = assigned('work-item', 't', 1, EMPTY_STATE, 0, { 'work-item': { sound: true, desktop: 'always' } });
    expect(planAttention(state, true, 500).sound).toMatchObject({ loop: false });
    expect(planAttention(state, true, 5000).sound).toBeNull();
    expect(planAttention(state, true, 0).notifications).toMatchObject([{ id: 'offer:n:c-t', conversationId: 'c-t', alert: false }]);
    expect(planAttention(closeNotice(state, 'c-t', 'dismissed', 1), true, 1).notifications).toEqual([]);
    expect(planAttention(offered('chat', 'a', 1, EMPTY_STATE, 0, { chat: { sound: false } }), true, 0).sound).toBeNull();
  });
});

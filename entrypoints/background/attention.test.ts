import { describe, expect, it } from 'vitest';
import { applyEvent, EMPTY_STATE, resolveOffer } from '../../utils/feed-state';
import type { Scenario } from '../../utils/protocol/feed';
import { planAttention } from './attention';

function offered(scenario: Scenario, id: string, seq: number, state = EMPTY_STATE, now = 0) {
  return applyEvent(
    state,
    {
      type: 'offer',
      seq,
      offerId: id,
      conversation: { id: `c-${id}`, scenario, channel: 'chat', customer: { name: `Customer ${id}` }, comment: 'Hi', waitingSince: 0, status: 'offered' },
      offeredAt: 0,
      expiresAt: 60_000,
    },
    now,
  );
}

describe('planAttention', () => {
  it('notifies for alerts only when no CRM tab is in view, by default', () => {
    const state = offered('chat', 'a', 1);
    expect(planAttention(state, {}, true, 0).notifications).toEqual([]);
    expect(planAttention(state, {}, false, 0).notifications).toMatchObject([{ id: 'offer:a', alert: true, rejectAllowed: true, customerName: 'Customer a' }]);
    expect(planAttention(state, { chat: { desktop: 'always' } }, true, 0).notifications).toHaveLength(1);
    expect(planAttention(state, { chat: { desktop: 'never' } }, false, 0).notifications).toHaveLength(0);
  });

  it('rings the newest ringing alert in a loop until it is answered, then stops', () => {
    let state = offered('chat', 'a', 1);
    state = offered('sms', 'b', 2, state);
    expect(planAttention(state, { sms: { soundName: 'chime', volume: 40 } }, true, 0).sound).toEqual({ offerId: 'b', sound: 'chime', volume: 40, loop: true });
    state = resolveOffer(state, 'b', 'accepted', 1);
    expect(planAttention(state, {}, true, 1).sound).toMatchObject({ offerId: 'a' });
    state = resolveOffer(state, 'a', 'rejected', 2);
    expect(planAttention(state, {}, true, 2).sound).toBeNull();
  });

  it('plays a toast once, and not at all when its template is silent', () => {
    const state = offered('work-item', 't', 1, EMPTY_STATE, 0);
    expect(planAttention(state, { 'work-item': { sound: true } }, true, 500).sound).toMatchObject({ loop: false });
    expect(planAttention(state, { 'work-item': { sound: true } }, true, 5000).sound).toBeNull();
    expect(planAttention(offered('chat', 'a', 1), { chat: { sound: false } }, true, 0).sound).toBeNull();
  });
});

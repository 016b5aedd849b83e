import { describe, expect, it } from 'vitest';
import { type CardKind, present } from '../../utils/presentation';
import {
  applyEvent,
  closeNotice,
  compactForStorage,
  EMPTY_STATE,
  expireDue,
  type FeedState,
  focusSession,
  hasTruncatedSessions,
  markTimeoutSent,
  nextDeadline,
  openNotices,
  pendingOffers,
  rebaseClock,
  resetForFreshSession,
  resolveOffer,
  TOMBSTONE_MS,
  untoldTimeouts,
} from './feed-state';
import type { Conversation, Scenario, ServerEvent } from '../../protocol/feed';

const conversation: Conversation = {
  id: 'c1',
  scenario: 'chat',
  channel: 'chat',
  customer: { name: 'Maria' },
  comment: 'hi',
  waitingSince: 0,
  status: 'offered',
};
const offer = (offerId: string, expiresAt: number, seq = 1): ServerEvent => ({ type: 'offer', seq, offerId, conversation, offeredAt: 0, expiresAt });
/** Templates that allow every offer the feed's whole time, so these tests see the feed's deadline alone. */
const roomy = (scenario: Scenario, kind: CardKind, now: number) => present(scenario, kind, { chat: { timeoutSec: 600 } }, now);

describe('feed state', () => {
  it('adds an offer with its deadline corrected for clock skew', () => {
    const skewed: FeedState = { ...EMPTY_STATE, skewMs: 5000 };
    const s = applyEvent(skewed, offer('o1', 65_000), 1000, roomy);
    expect(s.offers.o1).toMatchObject({ status: 'offered', deadline: 60_000, receivedAt: 1000 });
    expect(nextDeadline(s)).toBe(60_000);
  });

  it('never gives an offer more time on arrival than the feed gave it in all', () => {
    // A negative skew (the welcome's transit time) must not stretch a 3 s offer to 3.02 s.
    const late: FeedState = { ...EMPTY_STATE, skewMs: -20 };
    const s = applyEvent(late, { ...offer('o1', 3000), offeredAt: 0 } as ServerEvent, 5);
    expect(s.offers.o1?.deadline).toBe(3005);
    expect(s.offers.o1!.deadline - 5).toBeLessThanOrEqual(3000);
  });

  it('lets an admin keep an offer up for less time than the feed, never more, decided once on arrival', () => {
    const presenter = (timeoutSec: number) => (scenario: Scenario, kind: CardKind, now: number) => present(scenario, kind, { chat: { timeoutSec } }, now);
    const short = applyEvent(EMPTY_STATE, offer('o1', 60_000), 0, presenter(20));
    expect(short.offers.o1).toMatchObject({ deadline: 20_000, presentation: { kind: 'alert', showUntil: 20_000 } });
    expect(applyEvent(EMPTY_STATE, offer('o1', 60_000), 0, presenter(90)).offers.o1?.deadline).toBe(60_000);
    // It expires here first: the feed must be told, once.
    const expired = expireDue(short, 20_000);
    expect(expired.offers.o1).toMatchObject({ status: 'expired', timedOutHere: true });
    expect(untoldTimeouts(expired).map((o) => o.offerId)).toEqual(['o1']);
    expect(untoldTimeouts(markTimeoutSent(expired, 'o1'))).toEqual([]);
    // One the feed withdrew was not timed out here.
    expect(untoldTimeouts(applyEvent(short, { type: 'offer-withdrawn', seq: 2, offerId: 'o1', reason: 'expired' }, 5))).toEqual([]);
  });

  it('an assignment is the agent\'s at once: a session and one toast, until dismissed, opened or its time is up', () => {
    const assigned = (seq: number): ServerEvent => ({
      type: 'assigned',
      seq,
      conversation: { id: 'c9', scenario: 'work-item', channel: 'email', customer: { name: 'Aisha' }, comment: 'Follow up', waitingSince: 0, status: 'active' },
      transcript: [],
    });
    const s = applyEvent(EMPTY_STATE, assigned(1), 100);
    expect(s.sessions.c9).toMatchObject({ conversationId: 'c9' });
    expect(s.notices.c9).toMatchObject({ presentation: { kind: 'toast', showUntil: 100 + 12_000 } });
    expect(pendingOffers(s)).toEqual([]);
    expect(openNotices(s).map((n) => n.conversationId)).toEqual(['c9']);
    // Replayed (a resume): no second toast, none brought back once closed.
    const dismissed = closeNotice(s, 'c9', 'dismissed', 200);
    expect(openNotices(applyEvent(dismissed, assigned(1), 300))).toEqual([]);
    expect(closeNotice(dismissed, 'c9', 'opened', 400)).toBe(dismissed);
    expect(focusSession(s, 'c9', 500)).toMatchObject({ focus: { conversationId: 'c9', at: 500 }, notices: { c9: { closed: 'opened' } } });
    expect(expireDue(s, 100 + 12_000).notices.c9).toMatchObject({ closed: 'expired' });
    expect(nextDeadline(s)).toBe(100 + 12_000);
  });

  it('resolves an offer exactly once, whoever comes first', () => {
    let s = applyEvent(EMPTY_STATE, offer('o1', 30_000), 0);
    s = resolveOffer(s, 'o1', 'rejected', 10);
    const again = applyEvent(s, { type: 'offer-withdrawn', seq: 2, offerId: 'o1', reason: 'expired' }, 20);
    expect(again).toBe(s);
    expect(expireDue(again, 40_000).offers.o1?.status).toBe('rejected');
    expect(applyEvent(s, offer('o1', 30_000), 30)).toBe(s);
  });

  it('expires overdue offers (a worker that slept past the deadline) and forgets old tombstones', () => {
    let s = applyEvent(EMPTY_STATE, offer('o1', 30_000), 0);
    s = expireDue(s, 31_000);
    expect(s.offers.o1).toMatchObject({ status: 'expired', resolvedAt: 31_000 });
    expect(pendingOffers(s)).toEqual([]);
    expect(expireDue(s, 31_000 + TOMBSTONE_MS).offers.o1).toBeUndefined();
  });

  it('keeps offers handled in the same instant in feed order', () => {
    let s = EMPTY_STATE;
    for (const [id, seq] of [['zz', 1], ['aa', 2], ['mm', 3]] as const) s = applyEvent(s, offer(id, 30_000, seq), 5);
    expect(pendingOffers(s).map((o) => o.offerId)).toEqual(['zz', 'aa', 'mm']);
  });

  it('marks an offer that arrives already overdue as expired', () => {
    expect(applyEvent(EMPTY_STATE, offer('o1', 500), 1000).offers.o1?.status).toBe('expired');
  });

  it('opens a session on accepted and adds each message once', () => {
    let s = applyEvent(EMPTY_STATE, offer('o1', 30_000), 0);
    s = applyEvent(s, { type: 'accepted', seq: 2, offerId: 'o1', conversation: { ...conversation, status: 'active' }, transcript: [] }, 5);
    expect(s.offers.o1?.status).toBe('accepted');
    const msg: ServerEvent = { type: 'message', seq: 3, message: { id: 'm1', conversationId: 'c1', from: 'customer', text: 'x', at: 1 } };
    s = applyEvent(s, msg, 6);
    expect(applyEvent(s, { ...msg, seq: 4 }, 7)).toBe(s);
    expect(s.sessions.c1?.transcript).toHaveLength(1);
    s = applyEvent(s, { type: 'conversation-ended', seq: 5, conversationId: 'c1', by: 'customer' }, 8);
    expect(s.sessions.c1?.endedBy).toBe('customer');
  });

  it('withdraws a pending offer when the customer leaves', () => {
    const s = applyEvent(applyEvent(EMPTY_STATE, offer('o1', 30_000), 0), { type: 'conversation-ended', seq: 2, conversationId: 'c1', by: 'customer' }, 1);
    expect(s.offers.o1?.status).toBe('withdrawn');
  });

  it('moves every local time with a clock that was set, so offers keep the time the feed gave them', () => {
    // Offered at server time 0 for 60 s; the local clock agrees with the server (skew 0).
    let s = applyEvent(EMPTY_STATE, offer('o1', 60_000), 0, roomy);
    s = applyEvent(s, { ...offer('o2', 60_000, 2), conversation: { ...conversation, id: 'c2' } } as ServerEvent, 0, roomy);
    s = applyEvent(s, { type: 'accepted', seq: 3, offerId: 'o2', conversation: { ...conversation, id: 'c2', status: 'active' }, transcript: [] }, 1000);

    // 10 s later the local clock is set 10 minutes forward: the next heartbeat's skew says so.
    const forward = 10 * 60_000;
    const moved = rebaseClock(s, -forward);
    expect(moved.skewMs).toBe(-forward);
    expect(moved.offers.o1).toMatchObject({ deadline: 60_000 + forward, receivedAt: forward });
    expect(moved.offers.o2?.resolvedAt).toBe(1000 + forward);
    expect(moved.sessions.c2?.acceptedAt).toBe(1000 + forward);
    // At the jumped "now" the offer still has its 50 s, and it expires when the feed's deadline comes.
    expect(expireDue(moved, 10_000 + forward).offers.o1?.status).toBe('offered');
    expect(expireDue(moved, 60_000 + forward).offers.o1?.status).toBe('expired');

    // Set back by an hour: the offer does not outlive the feed's deadline.
    const back = rebaseClock(s, 3_600_000);
    expect(back.offers.o1?.deadline).toBe(60_000 - 3_600_000);

    // Transit-time noise moves nothing; the same estimate changes nothing at all.
    expect(rebaseClock(s, 150).offers).toBe(s.offers);
    expect(rebaseClock(s, 150).skewMs).toBe(150);
    expect(rebaseClock(s, 0)).toBe(s);
    // A shift the estimates' round trips explain (noise given) moves nothing either.
    expect(rebaseClock(s, 3_000, 4_500).offers).toBe(s.offers);
    expect(rebaseClock(s, 3_000, 4_500).skewMs).toBe(3_000);
  });

  it('marks a session stored without its older messages, and a whole transcript from the feed mends it', () => {
    const transcript = Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, conversationId: 'c1', from: 'customer' as const, text: `${i}`, at: i }));
    const accepted = (seq: number, n: number): ServerEvent => ({
      type: 'accepted',
      seq,
      offerId: 'o1',
      conversation: { ...conversation, status: 'active' },
      transcript: transcript.slice(0, n),
    });
    const s = applyEvent(applyEvent(EMPTY_STATE, offer('o1', 30_000), 0), accepted(2, 5), 1);
    const stored = compactForStorage(s, 3);
    expect(stored.sessions.c1?.transcript.map((m) => m.id)).toEqual(['m2', 'm3', 'm4']);
    expect(hasTruncatedSessions(stored)).toBe(true);
    expect(hasTruncatedSessions(s)).toBe(false);
    expect(compactForStorage(s, 5)).toEqual(s);

    // After a fresh welcome the feed sends the conversation again, whole.
    const mended = applyEvent(stored, accepted(9, 5), 2);
    expect(mended.sessions.c1?.transcript).toHaveLength(5);
    expect(hasTruncatedSessions(mended)).toBe(false);
  });

  it('forgets pending offers on a fresh session so the server can re-send them', () => {
    let s = applyEvent(EMPTY_STATE, offer('o1', 30_000), 0);
    s = resetForFreshSession(s, 100);
    expect(s.offers.o1).toBeUndefined();
    expect(s.skewMs).toBe(100);
    expect(applyEvent(s, offer('o1', 30_000, 9), 1).offers.o1?.status).toBe('offered');
  });
});

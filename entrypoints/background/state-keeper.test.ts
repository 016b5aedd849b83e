import { describe, expect, it, vi } from 'vitest';
import { applyEvent, EMPTY_STATE, type FeedState } from './feed-state';
import type { Conversation, ServerEvent } from '../../protocol/feed';
import { StateKeeper } from './state-keeper';

const conversation: Conversation = { id: 'c1', scenario: 'chat', channel: 'chat', customer: { name: 'Maria' }, comment: 'hi', waitingSince: 0, status: 'offered' };
const offer = (offerId: string, expiresAt: number, id = 'c1'): ServerEvent => ({ type: 'offer', seq: 1, offerId, conversation: { ...conversation, id }, offeredAt: 0, expiresAt });
const message = (i: number) => ({ id: `m${i}`, conversationId: 'c1', from: 'customer' as const, text: `message ${i}`, at: i });

function keeper(options: { stored?: FeedState; save?: (s: FeedState) => Promise<void>; now?: () => number } = {}) {
  const events: string[] = [];
  const saveErrors: boolean[] = [];
  const k = new StateKeeper({
    load: async () => options.stored ?? EMPTY_STATE,
    save: async (s) => {
      events.push('save');
      await options.save?.(s);
      events.push('saved');
    },
    onView: () => events.push('view'),
    onChange: () => events.push('change'),
    onSaveError: (_error, compacted) => saveErrors.push(compacted),
    scheduleWake: () => {},
    now: options.now ?? (() => 1000),
  });
  return { k, events, saveErrors };
}

describe('state keeper', () => {
  it('shows a change while it is being stored, and has effects only once it is stored', async () => {
    const { k, events } = keeper();
    await k.ready;
    events.length = 0;
    await k.update((s, now) => applyEvent(s, offer('o1', 60_000), now));
    expect(events).toEqual(['view', 'save', 'saved', 'change']);
  });

  it('shows a new change while the one before it is still being written, and the changes that came meanwhile share the next write', async () => {
    let finishWrite!: () => void;
    const writes: string[][] = [];
    const { k, events } = keeper({
      save: (s) => {
        writes.push(Object.keys(s.offers));
        return writes.length === 2 ? new Promise<void>((resolve) => (finishWrite = resolve)) : Promise.resolve();
      },
    });
    await k.ready;
    events.length = 0;
    const first = k.update((s, now) => applyEvent(s, offer('o1', 60_000), now));
    await vi.waitFor(() => expect(writes).toHaveLength(2));
    // o1's write hangs; o2 and o3 are shown at once, not after it.
    const second = k.update((s, now) => applyEvent(s, offer('o2', 60_000, 'c2'), now));
    const third = k.update((s, now) => applyEvent(s, offer('o3', 60_000, 'c3'), now));
    await Promise.resolve();
    await Promise.resolve();
    expect(events.filter((e) => e === 'view')).toHaveLength(3);
    expect(Object.keys(k.state.offers)).toEqual(['o1', 'o2', 'o3']);
    expect(events).not.toContain('change');

    finishWrite();
    const [a, b, c] = await Promise.all([first, second, third]);
    expect(Object.keys(a.offers)).toEqual(['o1']);
    expect(Object.keys(c.offers)).toEqual(['o1', 'o2', 'o3']);
    expect(Object.keys(b.offers)).toEqual(['o1', 'o2']);
    // One write for o1, one for o2 and o3 together; an effect after each, never before its write.
    expect(writes.slice(1)).toEqual([['o1'], ['o1', 'o2', 'o3']]);
    expect(events).toEqual(['view', 'save', 'view', 'view', 'saved', 'change', 'save', 'saved', 'change']);
  });

  it('sets the wake-up only when the next deadline moves: offers behind the first one set nothing', async () => {
    const wakes: (number | undefined)[] = [];
    const k = new StateKeeper({
      load: async () => EMPTY_STATE,
      save: async () => {},
      onChange: () => {},
      scheduleWake: (at) => wakes.push(at),
      now: () => 1000,
    });
    await k.ready;
    await k.update((s, now) => applyEvent(s, offer('o1', 60_000), now));
    await k.update((s, now) => applyEvent(s, offer('o2', 90_000, 'c2'), now));
    await k.update((s, now) => applyEvent(s, offer('o3', 120_000, 'c3'), now));
    await k.update((s, now) => applyEvent(s, offer('o0', 30_000, 'c0'), now));
    // Nothing at load, o1's deadline (the template caps it at 30 s from now), and o0's earlier one.
    expect(wakes).toEqual([undefined, 31_000, 30_000]);
  });

  it('expires at once what fell due while the worker was stopped', async () => {
    const stored = applyEvent(EMPTY_STATE, offer('o1', 5000), 0);
    const { k } = keeper({ stored, now: () => 10_000 });
    await k.ready;
    expect(k.state.offers.o1?.status).toBe('expired');
  });

  it('stores a compacted copy when the full state does not fit, and loses nothing in memory', async () => {
    const quota = (s: FeedState) =>
      Object.values(s.sessions).some((x) => x.transcript.length > 200) ? Promise.reject(new Error('QUOTA_BYTES quota exceeded')) : Promise.resolve();
    const saved: FeedState[] = [];
    const { k, saveErrors } = keeper({ save: async (s) => (await quota(s), void saved.push(s)) });
    await k.ready;
    const transcript = Array.from({ length: 1000 }, (_, i) => message(i));
    await k.update((s) => ({ ...s, sessions: { c1: { conversationId: 'c1', offerId: 'o1', conversation, transcript, acceptedAt: 0 } } }));
    expect(k.state.sessions.c1?.transcript).toHaveLength(1000);
    expect(saved.at(-1)?.sessions.c1?.transcript).toHaveLength(200);
    expect(saved.at(-1)?.sessions.c1?.transcript.at(-1)?.id).toBe('m999');
    expect(saveErrors).toEqual([true]);
  });

  it('keeps going in memory when nothing can be stored, and says so', async () => {
    const { k, saveErrors, events } = keeper({ save: () => Promise.reject(new Error('storage is gone')) });
    await k.ready;
    events.length = 0;
    const next = await k.update((s, now) => applyEvent(s, offer('o1', 60_000), now));
    expect(next.offers.o1?.status).toBe('offered');
    expect(events).toContain('change');
    expect(saveErrors.at(-1)).toBe(false);
  });
});

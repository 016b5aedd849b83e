// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen } from '@testing-library/preact';
import { options } from 'preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOverlayModel } from '../utils/overlay-model';
import type { CardView } from '../utils/snapshot';
import { DEFAULT_TEMPLATES } from '../utils/templates';
import { Overlay, overlayAnnouncer } from './Overlay';

const NOW = 1_000_000;

function offer(id: string, over: Partial<CardView> = {}): CardView {
  return {
    id,
    kind: 'alert',
    offerId: id,
    conversation: { id: `c-${id}`, scenario: 'chat', channel: 'chat', customer: { name: `Customer ${id}` }, comment: 'Hello', waitingSince: NOW - 72_000, status: 'offered' },
    showUntil: NOW + 30_000,
    receivedAt: NOW,
    template: DEFAULT_TEMPLATES.chat,
    ...over,
  };
}

/** A toast, as the worker sends it for an assigned conversation. */
function toast(id: string): CardView {
  const base = offer(id);
  return {
    id: `c-${id}`,
    kind: 'toast',
    conversation: { ...base.conversation, scenario: 'work-item', status: 'active' },
    receivedAt: NOW,
    showUntil: NOW + DEFAULT_TEMPLATES['work-item'].timeoutSec * 1000,
    template: DEFAULT_TEMPLATES['work-item'],
  };
}

function setup(cards: CardView[], skewMs = 0) {
  let now = NOW;
  const accept = vi.fn(async () => ({ ok: true as const }));
  const reject = vi.fn(async () => ({ ok: false as const, error: 'Not connected to the conversation feed.' }));
  const open = vi.fn(async () => ({ ok: true as const }));
  const dismiss = vi.fn(async () => ({ ok: true as const }));
  const model = createOverlayModel({ accept, reject, open, dismiss }, () => now, overlayAnnouncer);
  model.receive({ theme: 'dark', cards, skewMs });
  render(<Overlay model={model} theme="dark" />);
  return { model, accept, reject, open, dismiss, advance: (ms: number) => ((now += ms), model.tick()) };
}

afterEach(cleanup);

describe('Overlay', () => {
  it('announces each card once as it arrives, with the time to answer, never on a countdown tick; and each answer', async () => {
    const t = setup([offer('1')]);
    const live = () => document.querySelector('[role=status][aria-live=polite]')!.textContent;
    expect(live()).toBe('Incoming chat from Customer 1. 30 seconds to answer.');
    await act(() => t.advance(3_000));
    // Re-sent with a new toast: only the toast is new.
    await act(() => t.model.receive({ theme: 'dark', cards: [offer('1'), toast('2')], skewMs: 0 }));
    expect(live()).toBe('Conversation assigned from Customer 2: now yours. Select it to open.');
    await act(() => t.advance(1_000));
    await act(() => t.model.receive({ theme: 'dark', cards: [offer('1'), toast('2')], skewMs: 0 }));
    expect(live()).toBe('Conversation assigned from Customer 2: now yours. Select it to open.');
    await act(() => t.model.accept('1'));
    expect(live()).toBe('Accepted: Customer 1.');
  });

  it('a tick moves the countdown, the wait time, the bar and the slide-in without rendering a card again', async () => {
    const t = setup([offer('1'), toast('2')]);
    const cards = t.model.cards.value;
    const card = document.querySelector('[data-card-id="1"]')!;
    const bar = card.querySelector<HTMLElement>('.bar')!;
    expect(card.classList.contains('settled')).toBe(false);
    expect(bar.style.transform).toBe('scaleX(1)');
    let rendered = 0;
    const diffed = options.diffed;
    options.diffed = (vnode) => {
      if (typeof vnode.type === 'function') rendered++;
      diffed?.(vnode);
    };
    try {
      await act(() => t.advance(3_000));
    } finally {
      options.diffed = diffed;
    }
    expect(rendered).toBe(0);
    expect(t.model.cards.value).toBe(cards);
    expect(document.querySelector('[data-card-id="1"]')).toBe(card);
    expect(screen.getByText('0:27')).toBeTruthy();
    expect(card.querySelector('.countdown')!.getAttribute('aria-label')).toBe('0:27 left to answer');
    expect(screen.getByText('Waiting 1:15')).toBeTruthy();
    expect(bar.style.transform).toBe('scaleX(0.9)');
    expect(card.classList.contains('settled')).toBe(true);
    // The worker moves the deadline (a clock set, a template's shorter time): it shows at once, not at the next tick.
    await act(() => t.model.receive({ theme: 'dark', cards: [offer('1', { showUntil: NOW + 13_000 }), toast('2')], skewMs: 60_000 }));
    expect(screen.getByText('0:10')).toBeTruthy();
    expect(screen.getByText('Waiting 2:15')).toBeTruthy();
    expect(card.querySelector<HTMLElement>('.bar')!.style.transform).toBe('scaleX(0.7692307692307693)');
  });

  it('writes right-to-left names and messages right to left inside the left-to-right card', () => {
    setup([offer('1', { conversation: { ...offer('1').conversation, customer: { name: 'مريم الحسن' }, comment: 'שלום, ההזמנה שלי לא הגיעה' } })]);
    expect(screen.getByText('مريم الحسن').getAttribute('dir')).toBe('auto');
    expect(screen.getByText('שלום, ההזמנה שלי לא הגיעה').getAttribute('dir')).toBe('auto');
  });

  it('shows name, comment, live wait time and countdown as text', async () => {
    const t = setup([offer('1', { conversation: { ...offer('1').conversation, customer: { name: '<img src=x onerror=alert(1)>' } } })]);
    expect(screen.getByText('<img src=x onerror=alert(1)>')).toBeTruthy();
    expect(document.querySelector('img')).toBeNull();
    expect(screen.getByText('0:30')).toBeTruthy();
    expect(screen.getByText('Waiting 1:12')).toBeTruthy();
    await act(() => t.advance(5_000));
    expect(screen.getByText('0:25')).toBeTruthy();
    expect(screen.getByText('Waiting 1:17')).toBeTruthy();
  });

  it('counts the wait on the feed\'s clock when the local clock is off', () => {
    // The local clock runs 5 minutes ahead of the feed's: skew is −5 min.
    setup([offer('1', { conversation: { ...offer('1').conversation, waitingSince: NOW - 300_000 - 72_000 } })], -300_000);
    expect(screen.getByText('Waiting 1:12')).toBeTruthy();
  });

  it('ignores clicks that do not come from the user', () => {
    const t = setup([offer('1')]);
    const accept = document.querySelector<HTMLButtonElement>('button.accept')!;
    accept.click();
    fireEvent.click(accept);
    expect(t.accept).not.toHaveBeenCalled();
  });

  it('hides each card at the time the worker gave it', () => {
    const t = setup([offer('1'), toast('2')]);
    expect(t.model.cards.value.map((c) => c.id)).toEqual(['1', 'c-2']);
    t.advance(DEFAULT_TEMPLATES['work-item'].timeoutSec * 1000);
    expect(t.model.cards.value.map((c) => c.id)).toEqual(['1']);
    t.advance(30_000);
    expect(t.model.cards.value).toEqual([]);
  });

  it('folds offers beyond three into "+N more"', () => {
    const t = setup(['1', '2', '3', '4', '5'].map((id) => offer(id)));
    expect(t.model.shown.value).toHaveLength(3);
    expect(t.model.hiddenCount.value).toBe(2);
    t.model.expanded.value = true;
    expect(t.model.shown.value).toHaveLength(5);
  });

  it('asks for a reason before rejecting when the template lists reasons', async () => {
    const t = setup([offer('1')]);
    await t.model.reject('1', ['Busy', 'Wrong skill']);
    expect(t.reject).not.toHaveBeenCalled();
    expect(t.model.choosing.value.has('1')).toBe(true);
    await t.model.reject('1', ['Busy', 'Wrong skill'], 'Wrong skill');
    expect(t.reject).toHaveBeenCalledWith('1', 'Wrong skill');
  });

  it('shows a toast as work that is already the agent\'s: select to open, close to dismiss everywhere, no Accept / Reject', async () => {
    const t = setup([toast('1')]);
    await act(() => undefined);
    expect(document.querySelectorAll('.actions button')).toHaveLength(0);
    expect(document.querySelector('.countdown')).toBeNull();
    expect(document.querySelector('.main')!.getAttribute('aria-label')).toBe('Open: Customer 1');
    await t.model.dismiss('c-1');
    expect(t.dismiss).toHaveBeenCalledWith('c-1');
    await t.model.open('c-1');
    expect(t.open).toHaveBeenCalledWith('c-1');
  });

  it('shows the reasons when the worker asks (a reject from a shortcut needs one)', async () => {
    const t = setup([offer('1', { template: { ...DEFAULT_TEMPLATES.chat, rejectReasons: ['Busy'] } })]);
    t.model.chooseReason('1');
    await act(() => undefined);
    expect([...document.querySelectorAll('.reasons button')].map((b) => b.textContent)).toEqual(['Busy', 'Cancel']);
  });

  it('shows why an action failed on the card', async () => {
    const t = setup([offer('1')]);
    await t.model.reject('1');
    expect(t.model.errors.value).toEqual({ '1': 'Not connected to the conversation feed.' });
  });
});

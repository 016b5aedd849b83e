import { describe, expect, it, vi } from 'vitest';
import type { Browser } from 'wxt/browser';
import { applyEvent, EMPTY_STATE, setIdentification } from './feed-state';
import { present } from '../../utils/presentation';
import { StateHub, toSnapshot } from './state-hub';

/** A runtime port as the worker sees it: what it was sent, and a way to send it a message. */
function fakePort(url = 'https://org.crm4.dynamics.com/main.aspx') {
  const messageListeners: ((m: unknown) => void)[] = [];
  const disconnectListeners: (() => void)[] = [];
  const port = {
    name: 'deskbell-state',
    sender: { url, tab: { id: 7, windowId: 1 } },
    posted: [] as unknown[],
    disconnected: false,
    postMessage(m: unknown) {
      this.posted.push(m);
    },
    disconnect() {
      this.disconnected = true;
    },
    onMessage: { addListener: (l: (m: unknown) => void) => void messageListeners.push(l) },
    onDisconnect: { addListener: (l: () => void) => void disconnectListeners.push(l) },
    send: (m: unknown) => messageListeners.forEach((l) => l(m)),
    close: () => disconnectListeners.forEach((l) => l()),
  };
  return port as typeof port & Browser.runtime.Port;
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('StateHub', () => {
  it('counts a visibility message sent before the port was admitted', async () => {
    let changes = 0;
    const hub = new StateHub(() => changes++);
    const port = fakePort();
    let admit!: (ok: boolean) => void;
    hub.add(port, 'overlay', new Promise((r) => (admit = r)));
    port.send({ type: 'visibility', visible: true });
    expect(hub.crmTabInView()).toBe(false);
    expect(port.posted).toEqual([]);
    admit(true);
    await settle();
    expect(hub.crmTabInView()).toBe(true);
    expect(changes).toBe(1);
    expect(port.posted).toHaveLength(1);
    port.close();
    expect(hub.crmTabInView()).toBe(false);
  });

  it('sends away an overlay it does not admit, and drops those whose site it lost', async () => {
    const hub = new StateHub();
    const refused = fakePort('http://crm.test/');
    hub.add(refused, 'overlay', Promise.resolve(false));
    await settle();
    expect(refused.posted).toEqual([{ type: 'leave' }]);
    expect(refused.disconnected).toBe(true);

    const kept = fakePort('http://127.0.0.1/');
    const lost = fakePort('http://crm.test/');
    hub.add(kept, 'overlay');
    hub.add(lost, 'overlay');
    lost.send({ type: 'visibility', visible: true });
    await settle();
    expect(hub.crmTabInView()).toBe(true);
    await hub.dropOverlays(async (url) => !url?.startsWith('http://crm.test'));
    expect(lost.posted.at(-1)).toEqual({ type: 'leave' });
    expect(lost.disconnected).toBe(true);
    expect(kept.disconnected).toBe(false);
    expect(hub.crmTabInView()).toBe(false);
    // Later views go to the overlay that stayed only.
    hub.setState(EMPTY_STATE);
    expect(kept.posted).toHaveLength(2);
    expect(lost.posted).toHaveLength(2);
  });

  it('sends a change at once and, while changes keep coming, at most one view a frame with the newest state', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const hub = new StateHub();
      const port = fakePort();
      hub.add(port, 'overlay');
      await vi.advanceTimersByTimeAsync(0);
      const offersIn = (m: unknown) => (m as { view: { cards: unknown[] } }).view.cards.length;
      let state = EMPTY_STATE;
      const offerNo = (i: number) => ({ type: 'offer' as const, seq: i, offerId: `o${i}`, conversation: { id: `c${i}`, scenario: 'chat' as const, channel: 'chat' as const, customer: { name: `Customer ${i}` }, comment: '', waitingSince: 0, status: 'offered' as const }, offeredAt: 0, expiresAt: 60_000 });
      const burst = (from: number, to: number) => {
        for (let i = from; i <= to; i++) hub.setState((state = applyEvent(state, offerNo(i), 0, (s, k, now) => present(s, k, {}, now))));
      };
      await vi.advanceTimersByTimeAsync(100);
      burst(1, 1);
      // The first change is out before anything else runs.
      expect(port.posted.map(offersIn)).toEqual([0, 1]);
      burst(2, 500);
      expect(port.posted).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(16);
      expect(port.posted.map(offersIn)).toEqual([0, 1, 500]);
      await vi.advanceTimersByTimeAsync(100);
      expect(port.posted).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts a visible CRM tab in view only while its window has the focus', async () => {
    const hub = new StateHub();
    const port = fakePort();
    hub.add(port, 'overlay');
    port.send({ type: 'visibility', visible: true });
    await settle();
    expect(hub.crmTabInView()).toBe(true); // no focus news yet: visibility alone
    hub.setFocusedWindow(2); // another window in front
    expect(hub.crmTabInView()).toBe(false);
    hub.setFocusedWindow(1);
    expect(hub.crmTabInView()).toBe(true);
    hub.setFocusedWindow(-1); // the agent is in another application
    expect(hub.crmTabInView()).toBe(false);
  });
});

describe('the overlay snapshot', () => {
  it('names the CRM contact on a card, and carries none of its account, cases or candidates’ addresses to the page', () => {
    const conversation = { id: 'c1', scenario: 'sms' as const, channel: 'sms' as const, customer: { name: '+31612345678', phone: '+31612345678' }, comment: 'Hi', waitingSince: 0, status: 'offered' as const };
    const org = { crm: 'dynamics365' as const, origin: 'https://org.crm4.dynamics.com' };
    let state = applyEvent(EMPTY_STATE, { type: 'offer', seq: 1, offerId: 'o1', conversation, offeredAt: 0, expiresAt: 60_000 }, 0, (s, k, now) => present(s, k, {}, now));
    state = setIdentification(state, 'c1', {
      status: 'matched',
      org,
      contact: { id: 'x', name: 'Maria Jansen', email: 'maria@example.nl', phone: '06-1234 5678', matchedBy: 'mobile', recordUrl: 'https://org.crm4.dynamics.com/main.aspx?id=x' },
      details: { account: { name: 'Jansen Bakkerij' }, cases: [{ id: 'k', title: 'Secret case', status: 'Active' }], activities: [] },
    });
    const view = toSnapshot(state, { theme: 'dark', templates: {}, sitesMissingPermission: [] });
    expect(view.cards[0]!.identification).toEqual({ status: 'matched', org, contact: { id: 'x', name: 'Maria Jansen', recordUrl: 'https://org.crm4.dynamics.com/main.aspx?id=x' } });
    expect(JSON.stringify(view)).not.toMatch(/Secret case|Jansen Bakkerij|maria@example/);

    state = setIdentification(state, 'c1', { status: 'ambiguous', org, candidates: [{ id: 'a', name: 'A', email: 'a@example.nl' }, { id: 'b', name: 'B', phone: '0612' }] });
    expect(toSnapshot(state, { theme: 'dark', templates: {}, sitesMissingPermission: [] }).cards[0]!.identification).toEqual({ status: 'ambiguous', org, candidates: [{ id: 'a', name: 'A' }, { id: 'b', name: 'B' }] });
  });
});

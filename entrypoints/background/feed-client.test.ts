import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FeedClient, type FeedClientOptions, type WebSocketLike } from './feed-client';
import { type ServerEvent, type ServerFrame, type Welcome, welcomeFrame } from '../../protocol/feed';

class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  closed?: { code?: number; reason?: string };
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code?: number, reason?: string) {
    this.closed = { code, reason };
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: ServerFrame | string) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

const welcome = (over: Partial<Omit<Welcome, 'type' | 'v'>> = {}): ServerFrame =>
  welcomeFrame({ agentId: 'a1', agentName: 'Alex', serverTime: Date.now() + 5000, heartbeatSec: 20, resumed: true, lastSeq: 0, ...over });

const message = (seq: number): ServerEvent => ({
  type: 'message',
  seq,
  message: { id: `m${seq}`, conversationId: 'c1', from: 'customer', text: `hello ${seq}`, at: 1 },
});

function setup(over: Partial<FeedClientOptions> = {}) {
  const sockets: FakeSocket[] = [];
  let cursor = 0;
  const events: ServerEvent[] = [];
  const client = new FeedClient({
    urls: ['ws://127.0.0.1/feed'],
    token: () => 't',
    presence: 'available',
    client: { name: 'test', version: '0' },
    cursor: { load: async () => cursor, save: async (s) => void (cursor = s) },
    onEvents: (batch) => void events.push(...batch),
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: () => 0.5,
    ...over,
  });
  return { client, sockets, events, cursor: () => cursor, last: () => sockets[sockets.length - 1]! };
}

/** Lets queued promise work (cursor loads, event handlers) finish. */
const settle = () => vi.advanceTimersByTimeAsync(0);

/** A client that has connected and been welcomed. */
async function welcomed(over: Partial<FeedClientOptions> = {}, frame = welcome()) {
  const t = setup(over);
  t.client.start();
  await settle();
  t.last().open();
  t.last().receive(frame);
  await settle();
  return t;
}

describe('FeedClient', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('says hello with the saved cursor and opens on welcome', async () => {
    const t = setup();
    t.client.start();
    await settle();
    t.last().open();
    expect(t.last().sent[0]).toMatchObject({ type: 'hello', v: 1, token: 't', resumeFrom: 0, presence: 'available' });
    t.last().receive(welcome());
    await settle();
    expect(t.client.state).toMatchObject({ status: 'open', agentName: 'Alex', attempt: 0 });
  });

  it('with no token (sign-in needed) waits without retrying, and connects once one comes; a refusal is passed on with the feed\'s words', async () => {
    let token: string | null = null;
    const refusals: string[] = [];
    const t = setup({ token: async () => token, onRefused: (m) => void refusals.push(m) });
    t.client.start();
    await settle();
    expect(t.sockets).toHaveLength(0);
    expect(t.client.state).toMatchObject({ status: 'idle', lastError: 'Sign in to receive offers.' });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(t.sockets).toHaveLength(0);
    token = 'id.token.sig';
    t.client.reconnectNow();
    await settle();
    t.last().open();
    expect(t.last().sent[0]).toMatchObject({ type: 'hello', token: 'id.token.sig' });
    t.last().receive({ type: 'error', code: 'unauthorized', message: 'signed out by an admin: sign in again' });
    t.last().drop(4401);
    await settle();
    expect(refusals).toEqual(['signed out by an admin: sign in again']);
    expect(t.client.state.status).toBe('refused');
    // While a connection is on its way, a nudge does not start a second one.
    token = null;
    t.client.reconnectNow();
    await settle();
    expect(t.client.state).toMatchObject({ status: 'idle', lastError: 'Sign in to receive offers.' });
    const count = t.sockets.length;
    t.client.reconnectNow();
    t.client.reconnectNow();
    await settle();
    expect(t.sockets).toHaveLength(count);
  });

  it('sends a renewed sign-in token on the open connection, and one renewed while connecting right after the welcome', async () => {
    const t = setup({ token: () => 'tok.1.sig' });
    t.client.start();
    await settle();
    t.last().open();
    t.client.renew('tok.2.sig');
    expect(t.last().sent.map((f) => f.type)).toEqual(['hello']);
    t.last().receive(welcome());
    await settle();
    const auths = () => t.last().sent.filter((f) => f.type === 'auth');
    expect(auths()).toEqual([{ type: 'auth', token: 'tok.2.sig' }]);
    t.client.renew('tok.3.sig');
    t.client.renew('tok.3.sig');
    expect(auths()).toEqual([
      { type: 'auth', token: 'tok.2.sig' },
      { type: 'auth', token: 'tok.3.sig' },
    ]);
  });

  it('handles events once and in order, and saves the cursor after each', async () => {
    const t = setup();
    t.client.start();
    await settle();
    t.last().open();
    t.last().receive(welcome());
    for (const seq of [1, 2, 2, 1, 3]) t.last().receive(message(seq));
    await settle();
    expect(t.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(t.client.stats.duplicates).toBe(2);
    expect(t.cursor()).toBe(3);
    await vi.advanceTimersByTimeAsync(600);
    expect(t.last().sent.at(-1)).toEqual({ type: 'ack', seq: 3 });
  });

  it('hands each event over without waiting for the store; the cursor and the ack move only past stored events, a burst in two writes', async () => {
    const handed: number[] = [];
    const saves: number[] = [];
    let release!: () => void;
    const stored = new Promise<void>((resolve) => (release = resolve));
    const t = setup({
      onEvents: async (batch) => {
        handed.push(...batch.map((e) => e.seq));
        await stored;
      },
      // A storage write takes a few milliseconds.
      cursor: { load: async () => 0, save: (seq) => new Promise((resolve) => setTimeout(() => resolve(void saves.push(seq)), 3)) },
    });
    t.client.start();
    await settle();
    t.last().open();
    t.last().receive(welcome());
    t.last().receive(message(1));
    await settle();
    for (let seq = 2; seq <= 50; seq++) t.last().receive(message(seq));
    await settle();
    // Every event was handed over while the first was still being stored; nothing is acked yet.
    expect(handed).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(t.client.lastSeq).toBe(50);
    await vi.advanceTimersByTimeAsync(600);
    expect(saves).toEqual([]);
    expect(t.last().sent.filter((f) => f.type === 'ack')).toEqual([]);

    release();
    await vi.advanceTimersByTimeAsync(10);
    expect(saves).toEqual([1, 50]);
    await vi.advanceTimersByTimeAsync(600);
    expect(t.last().sent.at(-1)).toEqual({ type: 'ack', seq: 50 });
  });

  it('drops invalid frames, counts them and carries on', async () => {
    const invalid: string[] = [];
    const t = setup({ onInvalidFrame: (r) => void invalid.push(r) });
    t.client.start();
    await settle();
    t.last().open();
    t.last().receive(welcome());
    t.last().receive('{not json');
    t.last().receive(JSON.stringify({ type: 'offer', seq: 1 }));
    t.last().receive(JSON.stringify({ type: 'mystery' }));
    t.last().receive(message(1));
    await settle();
    expect(t.client.stats.invalidFrames).toBe(3);
    expect(invalid[0]).toContain('JSON');
    expect(invalid[1]).toMatch(/offerId|conversation/);
    expect(t.events).toHaveLength(1);
    expect(t.client.state.status).toBe('open');
  });

  it('reconnects with backoff after a drop and resumes from the last seq', async () => {
    const t = setup();
    t.client.start();
    await settle();
    t.last().open();
    t.last().receive(welcome());
    t.last().receive(message(1));
    t.last().receive(message(2));
    await settle();
    t.last().drop();
    expect(t.client.state).toMatchObject({ status: 'waiting', attempt: 1, lastError: expect.stringContaining('lost') });
    await vi.advanceTimersByTimeAsync(250); // random 0.5 × 500 ms
    expect(t.sockets).toHaveLength(2);
    t.last().open();
    expect(t.last().sent[0]).toMatchObject({ type: 'hello', resumeFrom: 2 });
  });

  it('moves to the next node when one is lost or will not answer, and resumes there from the cursor', async () => {
    const urls = ['wss://a.feed.example/feed', 'wss://b.feed.example/feed', 'wss://c.feed.example/feed'];
    const t = setup({ urls });
    t.client.start();
    await settle();
    expect(t.last().url).toBe(urls[0]);
    t.last().open();
    t.last().receive(welcome());
    t.last().receive(message(1));
    t.last().receive(message(2));
    await settle();
    expect(t.client.state).toMatchObject({ status: 'open', node: urls[0] });
    // Node a dies mid-stream: the next attempt, after the usual backoff, goes to b.
    t.last().drop(1006);
    expect(t.client.state).toMatchObject({ status: 'waiting', attempt: 1, node: urls[1] });
    await vi.advanceTimersByTimeAsync(250);
    expect(t.last().url).toBe(urls[1]);
    // b refuses the connection too: c is next, then a again.
    t.last().drop(1006);
    await vi.advanceTimersByTimeAsync(500);
    expect(t.last().url).toBe(urls[2]);
    t.last().open();
    expect(t.last().sent[0]).toMatchObject({ type: 'hello', resumeFrom: 2 });
    t.last().receive(welcome());
    t.last().receive(message(2));
    t.last().receive(message(3));
    await settle();
    expect(t.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(t.client.stats.duplicates).toBe(1);
    expect(t.client.state).toMatchObject({ status: 'open', node: urls[2], attempt: 0 });
    // A draining node says so: the client moves on without waiting for a timeout.
    t.last().drop(1012);
    expect(t.client.state).toMatchObject({ status: 'waiting', node: urls[0], lastError: 'the feed node is shutting down' });
    await vi.advanceTimersByTimeAsync(250);
    expect(t.last().url).toBe(urls[0]);
  });

  it('stays on its node when the token is refused, another window took over, or a seq skipped: another node would say the same', async () => {
    const urls = ['wss://a.feed.example/feed', 'wss://b.feed.example/feed'];
    const t = setup({ urls });
    t.client.start();
    await settle();
    for (const code of [4401, 4409]) {
      t.last().drop(code);
      expect(t.client.state.node).toBe(urls[0]);
      await vi.advanceTimersByTimeAsync(t.client.state.retryAt! - Date.now());
      expect(t.last().url).toBe(urls[0]);
    }
    t.last().open();
    t.last().receive(welcome());
    t.last().receive(message(1));
    t.last().receive(message(3));
    await settle();
    expect(t.last().url).toBe(urls[0]);
    expect(t.client.state.node).toBe(urls[0]);
  });

  it('resumes at once when a seq skips ahead, instead of building on a hole', async () => {
    const t = setup();
    t.client.start();
    await settle();
    t.last().open();
    t.last().receive(welcome());
    t.last().receive(message(1));
    t.last().receive(message(3));
    await settle();
    expect(t.events.map((e) => e.seq)).toEqual([1]);
    expect(t.client.stats.gaps).toBe(1);
    await settle();
    expect(t.sockets).toHaveLength(2);
    t.last().open();
    expect(t.last().sent[0]).toMatchObject({ resumeFrom: 1 });
  });

  it('takes the server cursor when it could not resume', async () => {
    const welcomes: boolean[] = [];
    const t = setup({ onWelcome: (w) => void welcomes.push(w.resumed) });
    t.client.start();
    await settle();
    t.last().open();
    t.last().receive(welcome({ resumed: false, lastSeq: 40 }));
    t.last().receive(message(41));
    await settle();
    expect(welcomes).toEqual([false]);
    expect(t.events.map((e) => e.seq)).toEqual([41]);
    expect(t.cursor()).toBe(41);
  });

  it('detects a half-open socket by a missing pong and reconnects', async () => {
    const t = setup();
    t.client.start();
    await settle();
    t.last().open();
    t.last().receive(welcome({ heartbeatSec: 20 }));
    await settle();
    // The first ping goes out with the welcome; it is answered.
    const first = t.last().sent.at(-1) as { type: string; t: number };
    expect(first).toMatchObject({ type: 'ping' });
    t.last().receive({ type: 'pong', t: first.t, serverTime: first.t });
    await settle();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(t.last().sent.at(-1)).toMatchObject({ type: 'ping' });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(t.sockets[0]!.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sockets[0]!.closed).toEqual({ code: 4000, reason: 'no pong' });
    expect(t.client.state).toMatchObject({ status: 'waiting', lastError: expect.stringContaining('heartbeat') });
  });

  it('detects a half-open socket when the heartbeat is shorter than the pong timeout', async () => {
    const t = await welcomed({}, welcome({ heartbeatSec: 5 }));
    // Pings at 0 and 5 s; nothing answers the first.
    await vi.advanceTimersByTimeAsync(9_999);
    expect(t.sockets[0]!.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sockets[0]!.closed).toEqual({ code: 4000, reason: 'no pong' });
  });

  it('keeps the heartbeat going while pongs come back', async () => {
    const t = setup();
    t.client.start();
    await settle();
    t.last().open();
    t.last().receive(welcome({ heartbeatSec: 20 }));
    await settle();
    for (let i = 0; i < 5; i++) {
      t.last().receive({ type: 'pong', t: 1, serverTime: 1 });
      await settle();
      await vi.advanceTimersByTimeAsync(20_000);
    }
    expect(t.sockets).toHaveLength(1);
    // One with the welcome, then one per heartbeat.
    expect(t.last().sent.filter((f) => f.type === 'ping')).toHaveLength(6);
  });

  it('retries a refused token at the slowest pace, and 50 failures stay capped and jittered', async () => {
    let r = 0.1;
    const t = setup({ random: () => (r = (r * 7.3) % 1) });
    t.client.start();
    await settle();
    const delays: number[] = [];
    for (let i = 0; i < 50; i++) {
      t.last().drop(1006);
      delays.push(t.client.state.retryAt! - Date.now());
      await vi.advanceTimersByTimeAsync(delays.at(-1)!);
    }
    expect(t.sockets).toHaveLength(51);
    expect(Math.max(...delays)).toBeLessThanOrEqual(30_000);
    expect(new Set(delays).size).toBeGreaterThan(40);
    t.last().drop(4401);
    expect(t.client.state).toMatchObject({ status: 'refused', lastError: expect.stringContaining('token') });
  });

  it('in a long outage, waits for reconnectNow instead of a timer, and carries the count over to a new client', async () => {
    const t = setup({ timedAttempts: 3 });
    t.client.start();
    await settle();
    for (let i = 0; i < 2; i++) {
      t.last().drop(1006);
      expect(t.client.state.retryAt).toBeDefined();
      await vi.advanceTimersByTimeAsync(t.client.state.retryAt! - Date.now());
    }
    t.last().drop(1006);
    expect(t.client.state).toMatchObject({ status: 'waiting', attempt: 3 });
    expect(t.client.state.retryAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(t.sockets).toHaveLength(3);

    // The wake alarm: one attempt, then waiting again; a success starts over.
    t.client.reconnectNow();
    await settle();
    expect(t.sockets).toHaveLength(4);
    t.last().drop(1006);
    expect(t.client.state).toMatchObject({ status: 'waiting', attempt: 4 });
    t.client.reconnectNow();
    await settle();
    t.last().open();
    t.last().receive(welcome());
    await settle();
    expect(t.client.state).toMatchObject({ status: 'open', attempt: 0 });

    // A restarted worker picks up the outage where it was: one attempt, then the alarm.
    const next = setup({ timedAttempts: 3, attempt: 5 });
    next.client.start();
    await settle();
    next.last().drop(1006);
    expect(next.client.state).toMatchObject({ status: 'waiting', attempt: 6 });
    expect(next.client.state.retryAt).toBeUndefined();
  });

  it('measures the clock by a round trip right after the welcome, then at each heartbeat, and skips one whose round trip the clock cut through', async () => {
    const clocks: [number, number][] = [];
    const t = await welcomed({ onClock: (skew, roundTrip) => void clocks.push([skew, roundTrip]) }, welcome({ heartbeatSec: 20 }));
    const pings = () => t.last().sent.filter((f) => f.type === 'ping') as { t: number }[];
    expect(pings()).toHaveLength(1);
    vi.advanceTimersByTime(300);
    t.last().receive({ type: 'pong', t: pings()[0]!.t, serverTime: pings()[0]!.t + 5100 });
    await settle();
    expect(clocks).toEqual([[4950, 300]]);

    await vi.advanceTimersByTimeAsync(19_700); // the heartbeat, 20 s after the welcome
    expect(pings()).toHaveLength(2);
    const ping = pings()[1]!;
    vi.advanceTimersByTime(100); // the round trip
    t.last().receive({ type: 'pong', t: ping.t, serverTime: ping.t + 5050 });
    await settle();
    expect(clocks).toEqual([[4950, 300], [5000, 100]]);

    // The clock is set forward by an hour between a ping and its pong.
    vi.setSystemTime(Date.now() + 3_600_000);
    t.last().receive({ type: 'pong', t: ping.t, serverTime: ping.t + 5050 });
    await settle();
    expect(clocks).toHaveLength(2);
  });

  it('never storms a feed that keeps sending an event it cannot read: backs off, then starts a fresh session', async () => {
    // A feed whose event after the cursor is always one the client's schema refuses, followed by a good one.
    let serverLast = 10;
    const reasons: string[] = [];
    const t = setup({
      onFreshStart: (reason) => void reasons.push(reason),
      createSocket: (url) => {
        const socket = new FakeSocket(url);
        t.sockets.push(socket);
        setTimeout(() => {
          socket.open();
          const hello = socket.sent.find((f) => f.type === 'hello') as { resumeFrom: number };
          const resumed = hello.resumeFrom > 0 && hello.resumeFrom <= serverLast;
          const from = resumed ? hello.resumeFrom : serverLast;
          socket.receive(welcome({ resumed, lastSeq: from }));
          socket.receive(JSON.stringify({ ...message(from + 1), message: { text: 42 } }));
          socket.receive(message(from + 2));
          if (!resumed) serverLast = from + 2;
        }, 10);
        return socket;
      },
    });
    t.client.start();
    await vi.advanceTimersByTimeAsync(60_000);
    const firstMinute = t.sockets.length;
    await vi.advanceTimersByTimeAsync(60_000);
    const secondMinute = t.sockets.length - firstMinute;
    // Today's bug was 129 connections in 5 s.
    expect(firstMinute).toBeLessThanOrEqual(6);
    expect(secondMinute).toBeLessThanOrEqual(3);
    expect(t.client.stats.freshStarts).toBeGreaterThanOrEqual(1);
    expect(reasons[0]).toMatch(/after seq 10 that this client cannot read, 3 times; starting a fresh session/);
    // The fresh session asked for no resume.
    const hellos = t.sockets.map((s) => (s.sent.find((f) => f.type === 'hello') as { resumeFrom: number }).resumeFrom);
    expect(hellos.slice(0, 4)).toEqual([0, 10, 10, 0]);
  });

  it('refuses to send commands while not connected', async () => {
    const t = setup();
    expect(t.client.send({ type: 'accept', offerId: 'o1' })).toBe(false);
    t.client.start();
    await settle();
    t.last().open();
    expect(t.client.send({ type: 'accept', offerId: 'o1' })).toBe(false);
    t.last().receive(welcome());
    await settle();
    expect(t.client.send({ type: 'accept', offerId: 'o1' })).toBe(true);
  });
});

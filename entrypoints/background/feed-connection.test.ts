import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import WebSocket from 'ws';
import { startFeedServer, type FeedServer } from '../../server/feed-server';
import type { ConnectionState } from '../../utils/connection';
import { present } from '../../utils/presentation';
import { EMPTY_STATE, type FeedState } from '../../utils/state';
import type { TemplateOverrides } from '../../utils/templates';
import { FeedConnection } from './feed-connection';
import type { WebSocketLike } from './feed-client';
import { StateKeeper } from './state-keeper';
import { type Diagnostics, diagnostics } from '../../utils/storage-items';

const AGENT = { id: 'a1', name: 'Alex', token: 'connection-test-token-0123' };
const API_KEY = 'connection-test-api-key-0123';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(templates: TemplateOverrides = {}, createSocket = (url: string) => new WebSocket(url) as unknown as WebSocketLike, serverOptions: { heartbeatSec?: number } = {}) {
  vi.spyOn(fakeBrowser.runtime, 'getManifest').mockReturnValue({ manifest_version: 3, name: 'Deskbell', version: '9.9.9' });
  const server: FeedServer = await startFeedServer({ dataDir: ':memory:', agents: [AGENT], apiKey: API_KEY, routing: { escalation: { mode: 'assign' } }, ...serverOptions });
  cleanup.push(() => server.close());
  const keeper = new StateKeeper({ load: async () => EMPTY_STATE, save: async () => {}, onChange: () => {}, scheduleWake: () => {} });
  const connections: ConnectionState[] = [];
  const welcomed = vi.fn();
  const feed = new FeedConnection(
    keeper,
    (scenario, kind, now) => present(scenario, kind, templates, now),
    (c) => void connections.push(c),
    welcomed,
    createSocket,
  );
  cleanup.push(() => feed.restart('', { kind: 'token', token: '' }));
  const create = (body: Record<string, unknown>) =>
    fetch(`${server.httpUrl}/api/conversations`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const state = () => keeper.state as FeedState;
  return { server, keeper, feed, connections, welcomed, create, state };
}

/**
 * A real socket whose frames pass `onFrame` on their way to the client,
 * which may change them and says how late (ms) each arrives.
 */
function slowWay(url: string, onFrame: (frame: { type: string; [key: string]: unknown }) => number): WebSocketLike {
  const socket = new WebSocket(url);
  let onmessage: WebSocketLike['onmessage'] = null;
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string };
    const delayMs = onFrame(frame);
    const deliver = () => onmessage?.({ data: JSON.stringify(frame) });
    if (delayMs > 0) setTimeout(deliver, delayMs);
    else deliver();
  });
  return new Proxy(socket, {
    get: (target, key) => {
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set: (target, key, value) => (key === 'onmessage' ? ((onmessage = value as WebSocketLike['onmessage']), true) : Reflect.set(target, key, value)),
  }) as unknown as WebSocketLike;
}

describe('FeedConnection', () => {
  it('connects to a real feed, keeps its routing, and turns an offer into an alert decided with the templates in force', async () => {
    const t = await setup({ chat: { timeoutSec: 12, acceptLabel: 'Take it' } });
    await t.feed.restart(t.server.feedUrl, { kind: 'token', token: AGENT.token });
    await vi.waitFor(() => expect(t.connections.at(-1)).toMatchObject({ status: 'open', agentName: 'Alex' }));
    await vi.waitFor(() => expect(t.welcomed).toHaveBeenCalled());
    expect(t.state().routing).toMatchObject({ chat: { mode: 'offer' }, escalation: { mode: 'assign' } });
    expect(t.state().capacity).toBe(10);
    await t.create({ scenario: 'chat', customer: { name: 'Maria' }, comment: 'Hi' });
    await vi.waitFor(() => expect(Object.values(t.state().offers)).toHaveLength(1));
    const offer = Object.values(t.state().offers)[0]!;
    expect(offer.presentation).toMatchObject({ kind: 'alert', template: { acceptLabel: 'Take it' } });
    expect(offer.deadline - offer.receivedAt).toBeLessThanOrEqual(12_000);
  });

  it('turns an assignment into a session and a toast, and sends commands while connected', async () => {
    const t = await setup();
    await t.feed.restart(t.server.feedUrl, { kind: 'token', token: AGENT.token });
    await vi.waitFor(() => expect(t.connections.at(-1)?.status).toBe('open'));
    const res = (await (await t.create({ scenario: 'escalation', customer: { name: 'Dan' }, comment: 'Manager' })).json()) as { conversation: { id: string } };
    const id = res.conversation.id;
    await vi.waitFor(() => expect(t.state().notices[id]).toMatchObject({ presentation: { kind: 'toast' } }));
    expect(t.state().sessions[id]).toMatchObject({ conversationId: id });
    expect(t.feed.send({ type: 'send', conversationId: id, clientMsgId: 'm1', text: 'Hello Dan' })).toBe(true);
    await vi.waitFor(() => expect(t.state().sessions[id]?.transcript.map((m) => m.text)).toEqual(['Manager', 'Hello Dan']));
  });

  it('a welcome that came slowly leaves wait times short only until the round trip that follows it corrects the clock', async () => {
    const t = await setup({}, (url) => slowWay(url, (frame) => (frame.type === 'welcome' ? 800 : 0)));
    await t.feed.restart(t.server.feedUrl, { kind: 'token', token: AGENT.token });
    await vi.waitFor(() => expect(t.connections.at(-1)?.status).toBe('open'));
    // Server and client share a clock here: the true skew is 0.
    await expect.poll(() => Math.abs(t.state().skewMs), { timeout: 3_000 }).toBeLessThan(100);
  });

  it('a slow round trip is not taken for a clock that was set, nor is the quick one after it: offers keep their deadlines', async () => {
    // The first pong comes 4.5 s late (before the next heartbeat, 5 s on), so it puts the feed's
    // clock 2.25 s behind; the next comes at once.
    let pongs = 0;
    const t = await setup({}, (url) => slowWay(url, (frame) => (frame.type === 'pong' && ++pongs === 1 ? 4_500 : 0)), { heartbeatSec: 5 });
    const warn = vi.spyOn(console, 'warn');
    await t.feed.restart(t.server.feedUrl, { kind: 'token', token: AGENT.token });
    await vi.waitFor(() => expect(t.connections.at(-1)?.status).toBe('open'));
    await t.create({ scenario: 'chat', customer: { name: 'Maria' }, comment: 'Hi' });
    await vi.waitFor(() => expect(Object.values(t.state().offers)).toHaveLength(1));
    const { deadline } = Object.values(t.state().offers)[0]!;
    const skews: number[] = [];
    const unwatch = t.keeper.ready.then(() => setInterval(() => skews.push(t.state().skewMs), 20));
    await expect.poll(() => pongs, { timeout: 8_000 }).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    clearInterval(await unwatch);
    expect(warn.mock.calls.filter(([m]) => String(m).includes('clock moved'))).toEqual([]);
    // The slow one was taken (it beat the welcome's), then the quick one replaced it.
    expect(Math.min(...skews)).toBeLessThan(-2_000);
    expect(Math.abs(t.state().skewMs)).toBeLessThan(100);
    expect(Object.values(t.state().offers)[0]!.deadline).toBe(deadline);
  }, 15_000);

  it('stays idle, saying why, without a URL, with an unsafe one, or without a token', async () => {
    const t = await setup();
    await t.feed.restart('', { kind: 'token', token: AGENT.token });
    expect(t.connections.at(-1)).toMatchObject({ status: 'idle', lastError: 'No feed URL is set.' });
    await t.feed.restart('ws://feed.example.com/feed', { kind: 'token', token: AGENT.token });
    expect(t.connections.at(-1)).toMatchObject({ status: 'idle', lastError: 'Unencrypted ws:// is allowed only for localhost; use wss://.' });
    await t.feed.restart(t.server.feedUrl, { kind: 'token', token: '' });
    expect(t.connections.at(-1)).toMatchObject({ status: 'idle', lastError: 'No agent token is set.' });
    expect(t.feed.send({ type: 'accept', offerId: 'x' })).toBe(false);
  });

  it('says when the feed refuses the token, and retries slowly', async () => {
    const t = await setup();
    await t.feed.restart(t.server.feedUrl, { kind: 'token', token: 'not-the-token-0123456789' });
    await vi.waitFor(() => expect(t.connections.at(-1)).toMatchObject({ status: 'refused', lastError: 'the feed refused the agent token' }));
  });

  it('with storage.session full, still stores the diagnostics, with only the latest journal entries', async () => {
    const journal = Array.from({ length: 500 }, (_, i) => ({ seq: i + 1, type: 'message', id: `event-${i + 1}` }));
    await diagnostics.setValue({ ...(await diagnostics.getValue()), journal });
    const t = await setup();
    // The room left holds the diagnostics without most of their journal (about 50 KB), as in a real full storage.session.
    // What is stored is read from the writes: a connection of an earlier test may still be writing its own.
    const set = fakeBrowser.storage.session.set.bind(fakeBrowser.storage.session);
    const stored: Diagnostics[] = [];
    vi.spyOn(fakeBrowser.storage.session, 'set').mockImplementation(async (items) => {
      if (JSON.stringify(items).length > 5_000) throw new Error('Session storage quota bytes exceeded. Values were not stored.');
      await set(items);
      const { diagnostics: written } = items as { diagnostics?: Diagnostics };
      if (written) stored.push(written);
    });
    t.feed.noteDiagnostics({ lastStorageError: 'stored with only the latest messages of each conversation' });
    await vi.waitFor(() => expect(stored.find((d) => d.lastStorageError)).toBeDefined());
    const written = stored.find((d) => d.lastStorageError)!;
    expect(written.lastStorageError).toBe('stored with only the latest messages of each conversation');
    expect(written.journal.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 481 + i));
  });
});

/**
 * Several feed servers on one PostgreSQL database (runs in the "server on
 * PostgreSQL" project only: it needs the database). In-process nodes for
 * routing and relaying; real processes and SIGKILL for a node that dies.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerFrame } from '../protocol/feed.ts';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { TwilioSmsSender } from './channels/outbound.ts';
import { smsStatusUrl } from './channels/webhooks.ts';
import { startNodeProcess } from './fakes/node-process.ts';
import { FakeTwilio } from './fakes/twilio-api.ts';
import { storeOptions } from './fakes/test-store.ts';
import { type FeedServer, type FeedServerOptions, startFeedServer } from './feed-server.ts';
import type { ConversationRecord, OfferRecord } from './store.ts';
import { PostgresStore } from './store-postgres.ts';
import { TestAgent } from './test-agent.ts';

const AGENTS = [
  { id: 'a1', name: 'Alex', token: 'cluster-token-alex-0123456789', capacity: 2 },
  { id: 'a2', name: 'Blair', token: 'cluster-token-blair-0123456789', capacity: 2 },
];
const API_KEY = 'cluster-api-key-0123456789abcdef';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** `count` nodes on one fresh database. */
async function nodes(count: number, over: Partial<FeedServerOptions> = {}): Promise<FeedServer[]> {
  const { store } = await storeOptions();
  if (!store) throw new Error('the cluster tests run on PostgreSQL');
  const servers: FeedServer[] = [];
  for (let i = 0; i < count; i++) {
    const s = await startFeedServer({ dataDir: ':memory:', store, nodeId: `node-${i + 1}`, agents: AGENTS, apiKey: API_KEY, ...over });
    cleanup.push(() => s.close());
    servers.push(s);
  }
  return servers;
}

async function agent(url: string, token: string, opts: Parameters<typeof TestAgent.connect>[2] = {}) {
  const a = await TestAgent.connect(url, token, opts);
  cleanup.push(async () => {
    await a.close();
    expect(a.invalid).toEqual([]);
  });
  await a.next('welcome');
  return a;
}

function api(httpUrl: string, method: string, route: string, body?: unknown) {
  return fetch(`${httpUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function create(httpUrl: string, name: string): Promise<string> {
  const res = await api(httpUrl, 'POST', '/api/conversations', { scenario: 'chat', customer: { name }, comment: `Question from ${name}` });
  expect(res.status).toBe(201);
  return ((await res.json()) as { conversation: { id: string } }).conversation.id;
}

const seqs = (a: TestAgent) => a.frames.flatMap((f) => ('seq' in f ? [f.seq] : []));
const offers = (a: TestAgent) => a.frames.filter((f): f is Extract<ServerFrame, { type: 'offer' }> => f.type === 'offer');

describe('several nodes on one PostgreSQL', () => {
  it('relays both ways between nodes: a conversation made on one is offered to an agent on another, and each seq comes once, in order', async () => {
    const [a, b] = await nodes(2);
    const alex = await agent(a!.feedUrl, AGENTS[0]!.token);
    const id = await create(b!.httpUrl, 'Maria Jansen');
    const offer = await alex.next('offer', (o) => o.conversation.id === id);
    alex.send({ type: 'accept', offerId: offer.offerId });
    await alex.next('accepted');
    // The customer writes through node b; the agent, on a, hears it; the agent's reply is in the log either node reads.
    expect((await api(b!.httpUrl, 'POST', `/api/conversations/${id}/messages`, { text: 'still there?' })).status).toBe(201);
    await alex.next('message', (m) => m.message.text === 'still there?');
    alex.send({ type: 'send', conversationId: id, clientMsgId: 'c1', text: 'Yes!' });
    await alex.next('message', (m) => m.message.text === 'Yes!');
    const transcript = (await (await api(b!.httpUrl, 'GET', `/api/conversations/${id}`)).json()) as { transcript: { text: string }[] };
    expect(transcript.transcript.map((m) => m.text)).toEqual(['Question from Maria Jansen', 'still there?', 'Yes!']);
    expect(seqs(alex)).toEqual(Array.from({ length: seqs(alex).length }, (_, i) => i + 1));
  });

  it('offers each conversation to one agent at a time and holds capacity, with conversations pouring in through both nodes', async () => {
    const [a, b] = await nodes(2);
    const alex = await agent(a!.feedUrl, AGENTS[0]!.token);
    const blair = await agent(b!.feedUrl, AGENTS[1]!.token);
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => create(i % 2 ? a!.httpUrl : b!.httpUrl, `Customer ${i}`)));
    await expect.poll(() => offers(alex).length + offers(blair).length).toBe(4);
    // Two agents of capacity 2: four offers, four different conversations, two each.
    const offered = [...offers(alex), ...offers(blair)].map((o) => o.conversation.id);
    expect(new Set(offered).size).toBe(4);
    expect(offers(alex)).toHaveLength(2);
    expect(offers(blair)).toHaveLength(2);
    expect(offered.every((c) => ids.includes(c))).toBe(true);
    // What nobody had room for waits, in the queue both nodes share.
    const queue = (await (await api(a!.httpUrl, 'GET', '/api/queue')).json()) as { queue: unknown[] };
    expect(queue.queue).toHaveLength(8);
    // Room again on one node: the next conversation goes out, still once.
    alex.send({ type: 'reject', offerId: offers(alex)[0]!.offerId });
    await expect.poll(() => offers(alex).length + offers(blair).length).toBe(5);
    await new Promise((r) => setTimeout(r, 300));
    expect(new Set([...offers(alex), ...offers(blair)].map((o) => o.offerId)).size).toBe(5);
  });

  it('one node hands out work at a time: the others tell it what comes in, and another takes over when it drains', async () => {
    const [a, b, c] = await nodes(3);
    const dispatchers = () => [a, b, c].map((s) => s!.service.cluster!.dispatcher);
    // The first node to start holds the lock.
    expect(dispatchers()).toEqual([true, false, false]);
    /** A series of the node's /metrics, read without its node label; 0 when it has none yet. */
    const metric = async (s: FeedServer, series: string) => {
      const text = (await (await fetch(`${s.httpUrl}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text()).replace(/,?node="[^"]*"/g, '').replace(/\{\}/g, '');
      return Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    expect(await metric(a!, 'deskbell_dispatcher')).toBe(1);
    expect(await metric(b!, 'deskbell_dispatcher')).toBe(0);
    const alex = await agent(b!.feedUrl, AGENTS[0]!.token);
    const blair = await agent(c!.feedUrl, AGENTS[1]!.token);
    // Conversations come in through the two nodes that do not dispatch; the dispatcher hears of each and offers it.
    const ids = await Promise.all(Array.from({ length: 4 }, (_, i) => create(i % 2 ? b!.httpUrl : c!.httpUrl, `Customer ${i}`)));
    await expect.poll(() => offers(alex).length + offers(blair).length).toBe(4);
    expect(new Set([...offers(alex), ...offers(blair)].map((o) => o.conversation.id))).toEqual(new Set(ids));
    // Routing was done once: no hand-out lost a race to another node's.
    for (const s of [a, b, c]) expect(await metric(s!, 'deskbell_offers_total{outcome="taken"}')).toBe(0);
    expect(await metric(a!, 'deskbell_offers_total{outcome="offered"}')).toBe(4);

    // The dispatcher drains: another node takes the lock at once, and new work still goes out.
    await a!.drain(2000);
    await expect.poll(() => dispatchers().filter(Boolean).length, { timeout: 2000 }).toBe(1);
    expect(dispatchers()[0]).toBe(false);
    alex.send({ type: 'reject', offerId: offers(alex)[0]!.offerId });
    const late = await create(c!.httpUrl, 'After the drain');
    await expect.poll(() => [...offers(alex), ...offers(blair)].some((o) => o.conversation.id === late)).toBe(true);
  });

  it('an offer made on the dispatcher and never acknowledged by an agent on another node is rerouted there', async () => {
    const [a, b] = await nodes(2, { ackTimeoutSec: 1 });
    expect(a!.service.cluster!.dispatcher).toBe(true);
    // Alex is on the node that does not dispatch, and first in line; Alex's client never acknowledges.
    const alex = await agent(b!.feedUrl, AGENTS[0]!.token);
    const blair = await agent(a!.feedUrl, AGENTS[1]!.token);
    const id = await create(b!.httpUrl, 'Unheard');
    const offer = await alex.next('offer', (o) => o.conversation.id === id);
    await alex.next('offer-withdrawn', (w) => w.offerId === offer.offerId && w.reason === 'rerouted', 5_000);
    const next = await blair.next('offer', (o) => o.conversation.id === id, 5_000);
    blair.send({ type: 'ack', seq: next.seq });
    await new Promise((r) => setTimeout(r, 1500));
    // Acknowledged: it stays with Blair.
    expect(blair.frames.some((f) => f.type === 'offer-withdrawn')).toBe(false);
  });

  it('an agent connected again on another node replaces its old connection there', async () => {
    const [a, b] = await nodes(2);
    const first = await agent(a!.feedUrl, AGENTS[0]!.token);
    await agent(b!.feedUrl, AGENTS[0]!.token, { resumeFrom: 0 });
    await expect.poll(() => first.closed?.code).toBe(4409);
  });

  it('a draining node sends its agents to another (1012), and they resume there with nothing lost', async () => {
    const [a, b] = await nodes(2);
    const alex = await agent(a!.feedUrl, AGENTS[0]!.token);
    const id = await create(b!.httpUrl, 'Before');
    const offer = await alex.next('offer', (o) => o.conversation.id === id);
    await a!.drain(2000);
    expect(alex.closed?.code).toBe(1012);
    expect((await fetch(`${a!.httpUrl}/readyz`)).status).toBe(503);
    expect((await fetch(`${b!.httpUrl}/readyz`)).status).toBe(200);
    const moved = await agent(b!.feedUrl, AGENTS[0]!.token, { resumeFrom: offer.seq });
    expect(moved.frames[0]).toMatchObject({ type: 'welcome', resumed: true });
    moved.send({ type: 'accept', offerId: offer.offerId });
    await moved.next('accepted');
  });
});

describe('what the dispatcher lock makes rare, the database settles', () => {
  // Two nodes may both dispatch for a moment (a dispatcher whose connection died, before it knows): each hand-out still holds.
  it('two nodes giving work at once: an agent gets no more than its capacity, and a conversation goes to one agent', async () => {
    const { store: url } = await storeOptions();
    const one = await PostgresStore.open(url!);
    const two = await PostgresStore.open(url!);
    cleanup.push(
      () => one.close(),
      () => two.close(),
    );
    await one.replaceAgents([
      { id: 'a1', name: 'Alex', token: AGENTS[0]!.token, capacity: 1 },
      { id: 'a2', name: 'Blair', token: AGENTS[1]!.token, capacity: 1 },
      { id: 'a3', name: 'Casey', capacity: 1 },
    ]);
    const conversation = (id: string): ConversationRecord => ({ id, scenario: 'chat', channel: 'chat', customer: { name: id }, comment: '', waitingSince: 1, status: 'waiting', agentId: null, createdAt: 1 });
    const offer = (id: string, conversationId: string, agentId: string): OfferRecord => ({ id, conversationId, agentId, offeredAt: 2, expiresAt: 60_000, state: 'open' });
    for (const id of ['c1', 'c2', 'c3']) await one.transaction((q) => q.insertConversation(conversation(id)));
    /** A hand-out as offers.ts makes it, held open until `release` so that the other node's runs into it. */
    const handOut = (store: PostgresStore, o: OfferRecord, release: Promise<void>) =>
      store.transaction(async (q) => {
        if (!(await q.roomFor(o.agentId, 2))) return 'full';
        const opened = await q.openOffer(o);
        await release;
        return opened ? 'given' : 'taken';
      });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // The same agent's last place, from both nodes at once (different conversations).
    const first = handOut(one, offer('o1', 'c1', 'a1'), held);
    await new Promise((r) => setTimeout(r, 100));
    const second = handOut(two, offer('o2', 'c2', 'a1'), Promise.resolve());
    await new Promise((r) => setTimeout(r, 100));
    release();
    expect([(await first).value, (await second).value]).toEqual(['given', 'full']);
    // The same conversation, to two agents from both nodes at once.
    const both = await Promise.all([handOut(one, offer('o3', 'c2', 'a2'), Promise.resolve()), handOut(two, offer('o4', 'c2', 'a3'), Promise.resolve())]);
    expect(both.map((b) => b.value).sort()).toEqual(['given', 'taken']);
    expect(await one.offersOf('c2')).toHaveLength(1);
    const loads = Object.fromEntries((await one.agentsWithLoad()).map((a) => [a.id, a.load]));
    expect(loads).toEqual({ a1: 1, a2: both[0]!.value === 'given' ? 1 : 0, a3: both[1]!.value === 'given' ? 1 : 0 });
  });
});

describe('replies on several nodes', () => {
  it('each SMS reply goes out once, though every node looks at the outbox', async () => {
    const account = `AC${'3c'.repeat(16)}`;
    const authToken = 'cluster-twilio-auth-token-0123';
    const from = '+3197010000000';
    const twilio = await new FakeTwilio({ accountSid: account, authToken }).start();
    cleanup.push(() => twilio.close());
    const sms = { authToken, publicUrl: 'https://feed.example.com/webhooks/sms' };
    const sender = () => new TwilioSmsSender({ accountSid: account, authToken, from, statusCallback: smsStatusUrl(sms.publicUrl), apiBaseUrl: twilio.url });
    const { store } = await storeOptions();
    const servers: FeedServer[] = [];
    for (const node of ['node-1', 'node-2', 'node-3']) {
      const s = await startFeedServer({ dataDir: ':memory:', store, nodeId: node, agents: AGENTS, apiKey: API_KEY, channels: { sms }, senders: { sms: sender() }, delivery: { baseDelayMs: 20 } });
      cleanup.push(() => s.close());
      servers.push(s);
    }
    const alex = await agent(servers[0]!.feedUrl, AGENTS[0]!.token);
    const fields = { MessageSid: 'SM-cluster-1', From: '+31612345678', To: from, Body: 'Where is my parcel?', AccountSid: account };
    const res = await fetch(`${servers[1]!.httpUrl}/webhooks/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': getExpectedTwilioSignature(authToken, sms.publicUrl, fields) },
      body: new URLSearchParams(fields),
    });
    expect(res.status).toBe(200);
    const offer = await alex.next('offer');
    alex.send({ type: 'accept', offerId: offer.offerId });
    await alex.next('accepted');
    // Every node looks at the outbox all the time while the replies go out: they race for each one.
    const racing = setInterval(() => servers.forEach((s) => s.service.delivery.kick()), 2);
    cleanup.push(() => clearInterval(racing));
    const texts = Array.from({ length: 10 }, (_, i) => `Reply ${i}`);
    texts.forEach((text, i) => alex.send({ type: 'send', conversationId: offer.conversation.id, clientMsgId: `c${i}`, text }));
    await expect.poll(() => twilio.messages.length, { timeout: 15_000 }).toBe(10);
    await new Promise((r) => setTimeout(r, 500));
    // None sent twice, and in the order the agent wrote them.
    expect(twilio.messages.map((m) => m.body)).toEqual(texts);
  });
});

describe('a node killed with SIGKILL', () => {
  it('its agent resumes on another node, the offer on screen is still answerable, and offer timers fire on the survivor', async () => {
    const { store } = await storeOptions();
    const dir = mkdtempSync(path.join(tmpdir(), 'deskbell-cluster-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'agents.json'), JSON.stringify(AGENTS));
    const start = async (name: string) => {
      const node = await startNodeProcess(['--store', store!, '--node-id', name, '--agents', path.join(dir, 'agents.json'), '--api-key', API_KEY, '--offer-timeout', '5']);
      cleanup.push(() => node.kill());
      return { ...node, http: node.httpUrl, feed: node.feedUrl };
    };
    const a = await start('node-a');
    const b = await start('node-b');
    const alex = await agent(a.feed, AGENTS[0]!.token);
    const answered = await create(b.http, 'Answered');
    const ignored = await create(b.http, 'Ignored');
    const first = await alex.next('offer', (o) => o.conversation.id === answered);
    const second = await alex.next('offer', (o) => o.conversation.id === ignored);

    await a.kill();
    const back = await agent(b.feed, AGENTS[0]!.token, { resumeFrom: Math.max(first.seq, second.seq) });
    expect(back.frames[0]).toMatchObject({ type: 'welcome', resumed: true });
    back.send({ type: 'accept', offerId: first.offerId });
    await back.next('accepted', (e) => e.offerId === first.offerId);
    // The other offer's timer was on the dead node: the survivor expires it, once.
    await back.next('offer-withdrawn', (w) => w.offerId === second.offerId && w.reason === 'expired', 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(back.frames.filter((f) => f.type === 'offer-withdrawn' && f.offerId === second.offerId)).toHaveLength(1);
    // The dead node was the dispatcher (it started first): the survivor took over, and hands out what comes in now.
    const after = await create(b.http, 'After the kill');
    await back.next('offer', (o) => o.conversation.id === after, 5_000);
    const all = seqs(back);
    expect(new Set(all).size).toBe(all.length);
  }, 40_000);
});

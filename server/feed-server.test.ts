import { MAX_CLIENT_FRAME_CHARS } from '../protocol/feed.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE, type FeedServer, type FeedServerOptions, startFeedServer } from './feed-server';
import { TestAgent } from './test-agent';
import { storeOptions } from './fakes/test-store.ts';

const AGENTS = [
  { id: 'a1', name: 'Alex', token: 'token-alex-0123456789abcdef' },
  { id: 'a2', name: 'Blair', token: 'token-blair-0123456789abcdef' },
];
const API_KEY = 'test-api-key-0123456789abcdef';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(over: Partial<FeedServerOptions> = {}): Promise<FeedServer> {
  const s = await startFeedServer({ agents: AGENTS, apiKey: API_KEY, ...over, ...(await storeOptions(over.dataDir)) });
  cleanup.push(() => s.close());
  return s;
}

async function agent(s: FeedServer, token: string, opts: Parameters<typeof TestAgent.connect>[2] = {}) {
  const a = await TestAgent.connect(s.feedUrl, token, opts);
  cleanup.push(async () => {
    await a.close();
    // Every frame the server sent must be one the extension accepts.
    expect(a.invalid).toEqual([]);
  });
  await a.next('welcome');
  return a;
}

async function api(s: FeedServer, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${s.httpUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const chat = { scenario: 'chat', customer: { name: 'Maria Jansen' }, comment: 'Where is my order?' };

describe('feed server', () => {
  it('welcomes an agent with server time and heartbeat, and offers a new conversation', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token);
    const welcome = await a.next('welcome');
    expect(welcome).toMatchObject({ agentId: 'a1', agentName: 'Alex', heartbeatSec: 20, resumed: true, lastSeq: 0 });
    expect(Math.abs(welcome.serverTime - Date.now())).toBeLessThan(2000);

    const created = await api(s, 'POST', '/api/conversations', chat);
    expect(created.status).toBe(201);
    const offer = await a.next('offer');
    expect(offer).toMatchObject({ seq: 1, conversation: { id: created.body.conversation.id, scenario: 'chat', channel: 'chat', customer: { name: 'Maria Jansen' } } });
    expect(offer.expiresAt - offer.offeredAt).toBe(30_000);
  });

  it('forgets acknowledged events a little later, several agents in one write, and resumes after them as before', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token);
    await a.next('welcome');
    for (let i = 0; i < 3; i++) await api(s, 'POST', '/api/conversations', { ...chat, comment: `c${i}` });
    await a.next('offer', (f) => f.conversation.comment === 'c2');
    const last = Math.max(...a.seqs());
    a.send({ type: 'ack', seq: last });
    await new Promise((r) => setTimeout(r, 20));
    // Not deleted per ack (that would be a commit and an fsync per event)...
    expect(await s.service.store.firstRetainedSeq(AGENTS[0]!.id)).toBe(1);
    // ...but soon after, in the trimming round.
    await expect.poll(() => s.service.store.firstRetainedSeq(AGENTS[0]!.id), { timeout: 2000 }).toBe(last + 1);
    await a.close();
    const again = await agent(s, AGENTS[0]!.token, { resumeFrom: last });
    const welcome = await again.next('welcome');
    expect(welcome).toMatchObject({ resumed: true, lastSeq: last });
  });

  it('refuses a bad token with an error frame and close code 4401', async () => {
    const s = await server();
    const a = await TestAgent.connect(s.feedUrl, 'wrong-token');
    cleanup.push(() => a.close());
    expect(await a.next('error')).toMatchObject({ code: 'unauthorized' });
    await new Promise((r) => a.socket.once('close', r));
    expect(a.closed?.code).toBe(CLOSE.unauthorized);
  });

  it('tells a client of another protocol version which one it speaks', async () => {
    const s = await server();
    const raw = new WebSocket(s.feedUrl);
    await new Promise((r) => raw.once('open', r));
    const reply = new Promise<string>((r) => raw.once('message', (d) => r(d.toString())));
    raw.send(JSON.stringify({ type: 'hello', v: 2, token: AGENTS[0]!.token, resumeFrom: 0, presence: 'available', client: { name: 'x', version: '1' } }));
    expect(JSON.parse(await reply)).toMatchObject({ type: 'error', code: 'unsupported-version', message: expect.stringContaining('v1') });
    raw.close();
  });

  it('answers malformed frames with a bad-frame error and keeps the connection', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token);
    a.sendRaw('{nope');
    a.send({ type: 'accept' });
    a.sendRaw(Buffer.from([1, 2, 3]));
    await a.next('error', (e) => e.message.includes('binary'));
    const errors = a.frames.filter((f) => f.type === 'error');
    expect(errors.map((e) => e.type === 'error' && e.message)).toEqual([
      'frame is not valid JSON',
      expect.stringContaining('offerId'),
      'binary frames are not part of the protocol',
    ]);
    expect(s.stats.badFrames).toBe(3);
    a.send({ type: 'ping', t: 5 });
    expect(await a.next('pong')).toMatchObject({ t: 5 });
  });

  it('accepts: the conversation becomes active with its transcript, and messages flow both ways', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token);
    const { body } = await api(s, 'POST', '/api/conversations', chat);
    const id = body.conversation.id as string;
    const offer = await a.next('offer');
    a.send({ type: 'accept', offerId: offer.offerId });
    const accepted = await a.next('accepted');
    expect(accepted.conversation.status).toBe('active');
    expect(accepted.transcript.map((m) => m.text)).toEqual(['Where is my order?']);

    await api(s, 'POST', `/api/conversations/${id}/messages`, { text: 'Order 123' });
    expect((await a.next('message')).message).toMatchObject({ from: 'customer', text: 'Order 123' });

    a.send({ type: 'send', conversationId: id, clientMsgId: 'c-1', text: 'Let me check.' });
    a.send({ type: 'send', conversationId: id, clientMsgId: 'c-1', text: 'Let me check.' });
    await a.next('message', (m) => m.message.clientMsgId === 'c-1');
    a.send({ type: 'end', conversationId: id });
    await a.next('conversation-ended');
    const transcript = (await api(s, 'GET', `/api/conversations/${id}`)).body.transcript as { text: string }[];
    expect(transcript.map((m) => m.text)).toEqual(['Where is my order?', 'Order 123', 'Let me check.']);
    expect(a.frames.filter((f) => f.type === 'message' && f.message.clientMsgId === 'c-1')).toHaveLength(1);
  });

  it('a repeated accept changes nothing; an accept after expiry is refused', async () => {
    const s = await server({ offerTimeoutSec: 1, reofferCooldownSec: 60 });
    const a = await agent(s, AGENTS[0]!.token);
    await api(s, 'POST', '/api/conversations', chat);
    const first = await a.next('offer');
    a.send({ type: 'accept', offerId: first.offerId });
    a.send({ type: 'accept', offerId: first.offerId });
    await a.next('accepted');
    a.send({ type: 'ping', t: 1 });
    await a.next('pong');
    expect(a.frames.filter((f) => f.type === 'accepted' || f.type === 'error')).toHaveLength(1);

    await api(s, 'POST', '/api/conversations', { ...chat, customer: { name: 'Late' } });
    const second = await a.next('offer', (o) => o.conversation.customer.name === 'Late');
    await a.next('offer-withdrawn', (w) => w.offerId === second.offerId, 3000);
    a.send({ type: 'accept', offerId: second.offerId });
    expect(await a.next('error')).toMatchObject({ code: 'offer-closed', ref: second.offerId });
  });

  it('re-offers to the next agent on rejection and on timeout', async () => {
    const s = await server({ offerTimeoutSec: 1, reofferCooldownSec: 1 });
    const a = await agent(s, AGENTS[0]!.token);
    const b = await agent(s, AGENTS[1]!.token);
    const { body } = await api(s, 'POST', '/api/conversations', chat);
    const id = body.conversation.id as string;
    const holder = await Promise.race([a.next('offer').then(() => a), b.next('offer').then(() => b)]);
    const other = holder === a ? b : a;
    const offer = await holder.next('offer');
    holder.send({ type: 'reject', offerId: offer.offerId, reason: 'busy' });
    expect(await holder.next('offer-withdrawn')).toMatchObject({ offerId: offer.offerId, reason: 'rejected' });
    const history = (await api(s, 'GET', `/api/conversations/${id}`)).body.offers as { state: string; reason: string | null }[];
    expect(history[0]).toMatchObject({ state: 'rejected', reason: 'busy' });
    const reoffer = await other.next('offer');
    expect(reoffer.conversation.id).toBe(id);
    expect(await other.next('offer-withdrawn', () => true, 3000)).toMatchObject({ reason: 'expired' });
    // Everyone has had it: after the cool-down it goes round again rather than waiting forever.
    await holder.next('offer', (o) => o.offerId !== offer.offerId, 4000);
  });

  it('assigns what its routing says to assign: the agent\'s at once, never offered to anyone, never taken back', async () => {
    const s = await server({ offerTimeoutSec: 1, ackTimeoutSec: 1, rerouteGraceSec: 1 });
    const a = await agent(s, AGENTS[0]!.token);
    const welcome = await a.next('welcome');
    expect(welcome.routing).toMatchObject({ chat: { mode: 'offer', offerTimeoutSec: 1 }, 'work-item': { mode: 'assign' }, transfer: { mode: 'assign' } });
    const { body } = await api(s, 'POST', '/api/conversations', { scenario: 'work-item', customer: { name: 'Aisha' }, comment: 'Call back' });
    const assigned = await a.next('assigned');
    expect(assigned.conversation).toMatchObject({ id: body.conversation.id, status: 'active' });
    expect(assigned.transcript.map((m) => m.text)).toEqual(['Call back']);
    const b = await agent(s, AGENTS[1]!.token);
    // No ack, a dropped connection, time passing: nothing takes it back or offers it to anyone.
    await a.close();
    await new Promise((r) => setTimeout(r, 2500));
    expect(b.frames.some((f) => f.type === 'offer' || f.type === 'assigned')).toBe(false);
    expect((await api(s, 'GET', `/api/conversations/${body.conversation.id}`)).body).toMatchObject({ conversation: { status: 'active', agentId: 'a1' }, offers: [] });
  });

  it('reports to Prometheus with the API key: agents connected, the queue, offers by outcome and their delivery time; /readyz answers', async () => {
    const s = await server();
    expect((await fetch(`${s.httpUrl}/metrics`)).status).toBe(401);
    const a = await agent(s, AGENTS[0]!.token);
    await api(s, 'POST', '/api/conversations', chat);
    const offer = await a.next('offer');
    a.send({ type: 'reject', offerId: offer.offerId });
    await a.next('offer-withdrawn');
    // Nobody else to take it straight away: it waits in the queue.
    await api(s, 'POST', '/api/conversations', { ...chat, customer: { name: 'Second' } });
    await a.next('offer', (o) => o.conversation.customer.name === 'Second');
    const res = await fetch(`${s.httpUrl}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    // Every series carries the node's name (here: one server, or a node of one on PostgreSQL); read without it.
    const text = (await res.text()).replace(/,?node="[^"]*"/g, '').replace(/\{\}/g, '');
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('deskbell_agents_connected')).toBe(1);
    expect(value('deskbell_dispatcher')).toBe(1);
    expect(value('deskbell_offers_total{outcome="offered"}')).toBe(2);
    expect(value('deskbell_offers_total{outcome="rejected"}')).toBe(1);
    expect(value('deskbell_offer_delivery_seconds_count')).toBe(2);
    expect(value('deskbell_agent_commands_total{type="reject",result="ok"}')).toBe(1);
    expect(value('deskbell_queue_length')).toBe(1);
    expect(await (await fetch(`${s.httpUrl}/readyz`)).json()).toMatchObject({ ready: true });
  });

  it('follows its routing configuration: a scenario can be offered, with its own time', async () => {
    const s = await server({ routing: { escalation: { mode: 'offer', offerTimeoutSec: 45 }, chat: { mode: 'assign' } } });
    const a = await agent(s, AGENTS[0]!.token);
    await api(s, 'POST', '/api/conversations', { scenario: 'escalation', customer: { name: 'Dan' }, comment: 'Manager please' });
    const offer = await a.next('offer');
    expect(offer.expiresAt - offer.offeredAt).toBe(45_000);
    await api(s, 'POST', '/api/conversations', chat);
    expect((await a.next('assigned')).conversation.customer.name).toBe('Maria Jansen');
  });

  it('moves an offer on at once when its time ran out in the browser', async () => {
    const s = await server({ offerTimeoutSec: 60, reofferCooldownSec: 60 });
    const a = await agent(s, AGENTS[0]!.token);
    await api(s, 'POST', '/api/conversations', chat);
    const offer = await a.next('offer');
    const b = await agent(s, AGENTS[1]!.token);
    const sentAt = Date.now();
    a.send({ type: 'timeout', offerId: offer.offerId });
    expect(await a.next('offer-withdrawn')).toMatchObject({ offerId: offer.offerId, reason: 'expired' });
    expect((await b.next('offer', () => true, 2000)).conversation.id).toBe(offer.conversation.id);
    expect(Date.now() - sentAt).toBeLessThan(2000);
    // Telling it again, or about an offer that is not yours, changes nothing.
    a.send({ type: 'timeout', offerId: offer.offerId });
    a.send({ type: 'ping', t: 9 });
    await a.next('pong', (p) => p.t === 9);
    expect(a.frames.filter((f) => f.type === 'error')).toEqual([]);
  });

  it('does not hand a rejected conversation straight back to the only agent', async () => {
    const s = await server({ reofferCooldownSec: 1 });
    const a = await agent(s, AGENTS[0]!.token);
    await api(s, 'POST', '/api/conversations', chat);
    const offer = await a.next('offer');
    a.send({ type: 'reject', offerId: offer.offerId });
    await a.next('offer-withdrawn');
    const rejectedAt = Date.now();
    const again = await a.next('offer', (o) => o.offerId !== offer.offerId, 3000);
    expect(Date.now() - rejectedAt).toBeGreaterThanOrEqual(900);
    expect(again.conversation.id).toBe(offer.conversation.id);
  });

  it('offers nothing to an agent who is not available, and offers when they become available', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token, { presence: 'busy' });
    await api(s, 'POST', '/api/conversations', chat);
    await new Promise((r) => setTimeout(r, 100));
    expect(a.frames.some((f) => f.type === 'offer')).toBe(false);
    a.send({ type: 'presence', presence: 'available' });
    await a.next('offer');
  });

  it('withdraws the offer when the customer leaves', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token);
    const { body } = await api(s, 'POST', '/api/conversations', chat);
    const offer = await a.next('offer');
    await api(s, 'POST', `/api/conversations/${body.conversation.id}/end`, {});
    expect(await a.next('offer-withdrawn')).toMatchObject({ offerId: offer.offerId, reason: 'customer-left' });
  });

  it('resumes a reconnecting agent with exactly the events it missed', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token);
    const { body } = await api(s, 'POST', '/api/conversations', chat);
    const id = body.conversation.id as string;
    a.send({ type: 'accept', offerId: (await a.next('offer')).offerId });
    await a.next('accepted');
    await api(s, 'POST', `/api/conversations/${id}/messages`, { text: 'one' });
    await a.next('message');
    const seenUpTo = Math.max(...a.seqs());
    await a.close();
    for (const text of ['two', 'three', 'four']) await api(s, 'POST', `/api/conversations/${id}/messages`, { text });

    const again = await agent(s, AGENTS[0]!.token, { resumeFrom: seenUpTo });
    expect(await again.next('welcome')).toMatchObject({ resumed: true, lastSeq: seenUpTo });
    await again.next('message', (m) => m.message.text === 'four');
    expect(again.seqs()).toEqual([seenUpTo + 1, seenUpTo + 2, seenUpTo + 3]);
    expect(again.frames.flatMap((f) => (f.type === 'message' ? [f.message.text] : []))).toEqual(['two', 'three', 'four']);
  });

  it('gives a client it cannot resume what is live now', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token);
    await api(s, 'POST', '/api/conversations', chat);
    const offer = await a.next('offer');
    await a.close();
    const fresh = await agent(s, AGENTS[0]!.token, { resumeFrom: 0 });
    const welcome = await fresh.next('welcome');
    expect(welcome).toMatchObject({ resumed: false, lastSeq: 1 });
    expect(await fresh.next('offer')).toMatchObject({ seq: 2, offerId: offer.offerId });
  });

  it('replaces an older connection of the same agent', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token);
    await agent(s, AGENTS[0]!.token);
    await new Promise((r) => a.socket.once('close', r));
    expect(a.closed?.code).toBe(CLOSE.replaced);
  });

  it('keeps conversations, offers and the event log across a restart', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await startFeedServer({ ...(await storeOptions(dataDir)), agents: AGENTS, apiKey: API_KEY, port: 0 });
    const a = await TestAgent.connect(first.feedUrl, AGENTS[0]!.token);
    await a.next('welcome');
    const { body } = await api(first, 'POST', '/api/conversations', chat);
    const offer = await a.next('offer');
    const port = first.port;
    await first.close();
    await a.close();

    const second = await server({ dataDir, port });
    await api(second, 'POST', `/api/conversations/${body.conversation.id}/messages`, { text: 'still there?' });
    const back = await agent(second, AGENTS[0]!.token, { resumeFrom: offer.seq });
    expect(await back.next('welcome')).toMatchObject({ resumed: true });
    back.send({ type: 'accept', offerId: offer.offerId });
    const accepted = await back.next('accepted');
    expect(accepted.transcript.map((m) => m.text)).toEqual(['Where is my order?', 'still there?']);
  });

  it('answers bad HTTP requests with a 4xx and a message that names the problem', async () => {
    const s = await server();
    expect(await api(s, 'POST', '/api/conversations', chat, { authorization: 'Bearer nope' })).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized' } },
    });
    expect(await api(s, 'POST', '/api/conversations', '{bad')).toMatchObject({ status: 400, body: { error: { code: 'bad-json' } } });
    expect(await api(s, 'POST', '/api/conversations', { ...chat, scenario: 'pigeon' })).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringContaining('scenario') } },
    });
    expect(await api(s, 'POST', '/api/conversations', { scenario: 'sms', customer: { name: ' ' } })).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringContaining('customer.name') } },
    });
    expect(await api(s, 'POST', '/api/conversations/nope/messages', { text: 'hi' })).toMatchObject({ status: 404 });
    expect(await api(s, 'GET', '/api/nothing')).toMatchObject({ status: 404 });
    const res = await fetch(`${s.httpUrl}/api/conversations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(res.status).toBe(415);
  });

  it('limits a flooding client without affecting other agents', async () => {
    const s = await server({ rateLimit: 20 });
    const flooder = await agent(s, AGENTS[0]!.token);
    const calm = await agent(s, AGENTS[1]!.token);
    for (let i = 0; i < 200; i++) flooder.send({ type: 'ping', t: i });
    await flooder.next('error', (e) => e.code === 'rate-limited');
    expect(s.stats.rateLimited).toBeGreaterThan(100);
    calm.send({ type: 'ping', t: 42 });
    expect(await calm.next('pong', (p) => p.t === 42)).toBeTruthy();
  });

  it('answers an oversize frame with an error, closes a connection that sends a huge one, and others carry on', async () => {
    const s = await server();
    const big = await agent(s, AGENTS[0]!.token);
    const calm = await agent(s, AGENTS[1]!.token);
    await big.next('welcome');
    big.sendRaw(JSON.stringify({ type: 'ping', t: 1, pad: 'x'.repeat(MAX_CLIENT_FRAME_CHARS) }));
    expect((await big.next('error', (e) => e.code === 'bad-frame')).message).toContain('exceeds');
    big.send({ type: 'ping', t: 2 });
    expect(await big.next('pong', (p) => p.t === 2)).toBeTruthy();
    // Past what the socket accepts at all (4x the frame limit), the connection is closed as too big (1009).
    big.sendRaw('x'.repeat(MAX_CLIENT_FRAME_CHARS * 4 + 1));
    await expect.poll(() => big.closed?.code, { timeout: 5000 }).toBe(1009);
    calm.send({ type: 'ping', t: 3 });
    expect(await calm.next('pong', (p) => p.t === 3)).toBeTruthy();
  });
});

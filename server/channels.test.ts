import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { messengerSignature } from './channels/signatures';
import { type FeedServer, type FeedServerOptions, startFeedServer } from './feed-server';
import { silentLogger } from './logger';
import { TestAgent } from './test-agent';
import { storeOptions } from './fakes/test-store.ts';

const AGENTS = [
  { id: 'a1', name: 'Alex', token: 'token-alex-0123456789abcdef', capacity: 1 },
  { id: 'a2', name: 'Blair', token: 'token-blair-0123456789abcdef' },
];
const API_KEY = 'test-api-key-0123456789abcdef';
const SMS = { authToken: 'sms-auth-token', publicUrl: 'https://feed.example.com/webhooks/sms' };
const MESSENGER = { appSecret: 'app-secret', verifyToken: 'verify-me' };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(over: Partial<FeedServerOptions> = {}) {
  const s = await startFeedServer({ agents: AGENTS, apiKey: API_KEY, channels: { sms: SMS, messenger: MESSENGER }, ...over, ...(await storeOptions(over.dataDir)) });
  cleanup.push(() => s.close());
  return { s };
}

async function agent(s: FeedServer, token: string, presence: 'available' | 'busy' = 'available') {
  const a = await TestAgent.connect(s.feedUrl, token, { presence });
  cleanup.push(async () => {
    await a.close();
    // Every frame the server sent must be one the extension accepts.
    expect(a.invalid).toEqual([]);
  });
  await a.next('welcome');
  return a;
}

function createChat(s: FeedServer, name: string) {
  return fetch(`${s.httpUrl}/api/conversations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ scenario: 'chat', customer: { name }, comment: 'hi' }),
  });
}

/** The official library's signature, the reference every check here must agree with. */
const twilioSignature = (url: string, fields: Record<string, string>, algorithm?: string) => getExpectedTwilioSignature(SMS.authToken, url, fields, algorithm);

function sms(s: FeedServer, fields: Record<string, string>, signature?: string) {
  const params = new URLSearchParams(fields);
  return fetch(`${s.httpUrl}/webhooks/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature ?? twilioSignature(SMS.publicUrl, fields) },
    body: params,
  });
}

function messenger(s: FeedServer, body: unknown, signature?: string) {
  const raw = Buffer.from(JSON.stringify(body));
  return fetch(`${s.httpUrl}/webhooks/messenger`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature ?? messengerSignature(MESSENGER.appSecret, raw) },
    body: raw,
  });
}

const smsFields = (sid: string, body = 'Hi, my invoice shows a double charge.') => ({ MessageSid: sid, From: '+31612345678', To: '+3197010000000', Body: body, AccountSid: 'AC123' });
const pageEvent = (mid: string, text: string, extra: Record<string, unknown> = {}) => ({
  object: 'page',
  entry: [{ id: 'page-1', time: 1, messaging: [{ sender: { id: '6543210987' }, recipient: { id: 'page-1' }, timestamp: 1, message: { mid, text, ...extra } }] }],
});

describe('SMS webhook', () => {
  it('turns a signed inbound SMS into an offer, once, and threads follow-ups into it', async () => {
    const { s } = await server();
    const a = await agent(s, AGENTS[1]!.token);
    const res = await sms(s, smsFields('SM1'));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<Response>');
    const offer = await a.next('offer');
    expect(offer.conversation).toMatchObject({ scenario: 'sms', channel: 'sms', customer: { phone: '+31612345678' }, comment: 'Hi, my invoice shows a double charge.' });

    expect((await sms(s, smsFields('SM1'))).status).toBe(200); // the provider retried
    await sms(s, smsFields('SM2', 'It was on the 3rd.'));
    a.send({ type: 'accept', offerId: offer.offerId });
    const accepted = await a.next('accepted');
    expect(accepted.transcript.map((m) => m.text)).toEqual(['Hi, my invoice shows a double charge.', 'It was on the 3rd.']);
    expect(a.frames.filter((f) => f.type === 'offer')).toHaveLength(1);
  });

  it('refuses forged, unsigned and incomplete requests, and is 404 when not configured', async () => {
    const { s } = await server();
    expect((await sms(s, smsFields('SM1'), 'forged')).status).toBe(403);
    const tampered = await fetch(`${s.httpUrl}/webhooks/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(SMS.publicUrl, smsFields('SM1')) },
      body: new URLSearchParams({ ...smsFields('SM1'), Body: 'changed on the way' }),
    });
    expect(tampered.status).toBe(403);
    const noFrom = await sms(s, { MessageSid: 'SM9', Body: 'x' });
    expect(noFrom.status).toBe(400);
    expect(await noFrom.json()).toEqual({ error: { code: 'invalid', message: 'From and MessageSid are required' } });
    expect(await s.service.store.waitingConversations()).toHaveLength(0);

    const { s: bare } = await server({ channels: {} });
    expect((await sms(bare, smsFields('SM1'))).status).toBe(404);
  });
});

describe('Messenger webhook', () => {
  it('answers the subscription check only with the right verify token', async () => {
    const { s } = await server();
    const ok = await fetch(`${s.httpUrl}/webhooks/messenger?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444`);
    expect([ok.status, await ok.text()]).toEqual([200, '1158201444']);
    const wrong = await fetch(`${s.httpUrl}/webhooks/messenger?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`);
    expect(wrong.status).toBe(403);
  });

  it('turns signed page messages into a Facebook conversation, ignoring echoes and retries; forged ones are refused', async () => {
    const { s } = await server();
    const a = await agent(s, AGENTS[1]!.token);
    expect((await messenger(s, pageEvent('m_1', 'Do you ship to Belgium?'), 'sha256=00')).status).toBe(403);
    expect((await messenger(s, pageEvent('m_1', 'Do you ship to Belgium?'))).status).toBe(200);
    await messenger(s, pageEvent('m_1', 'Do you ship to Belgium?'));
    await messenger(s, pageEvent('m_2', 'our own reply', { is_echo: true }));
    const offer = await a.next('offer');
    expect(offer.conversation).toMatchObject({ scenario: 'facebook', channel: 'facebook', comment: 'Do you ship to Belgium?' });
    a.send({ type: 'accept', offerId: offer.offerId });
    const accepted = await a.next('accepted');
    expect(accepted.transcript.map((m) => m.text)).toEqual(['Do you ship to Belgium?']);
    expect((await messenger(s, { object: 'user', entry: [] })).status).toBe(400);
  });
});

describe('web chat', () => {
  it('lets a customer chat with the agent who accepts, live both ways', async () => {
    const { s } = await server();
    const a = await agent(s, AGENTS[1]!.token);
    expect((await fetch(`${s.httpUrl}/chat`)).headers.get('content-type')).toContain('text/html');
    const bad = await fetch(`${s.httpUrl}/webchat/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: ' ', question: 'x' }) });
    expect(await bad.json()).toEqual({ error: { code: 'invalid', message: 'name: Tell us your name.' } });
    const start = await fetch(`${s.httpUrl}/webchat/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Maria', question: 'Where is my order?' }) });
    const { conversationId, token } = (await start.json()) as { conversationId: string; token: string };

    const events: string[] = [];
    const controller = new AbortController();
    cleanup.push(() => controller.abort());
    const stream = await fetch(`${s.httpUrl}/webchat/conversations/${conversationId}/events?token=${token}`, { signal: controller.signal });
    void (async () => {
      const decoder = new TextDecoder();
      const reader = stream.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        events.push(...decoder.decode(value).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)));
      }
    })().catch(() => {});

    const offer = await a.next('offer');
    a.send({ type: 'accept', offerId: offer.offerId });
    await a.next('accepted');
    a.send({ type: 'send', conversationId, clientMsgId: 'c1', text: 'Hi Maria, let me look.' });
    await expect.poll(() => events.map((e) => JSON.parse(e) as { type: string; message?: { text: string }; agentName?: string })).toEqual([
      { type: 'message', message: expect.objectContaining({ text: 'Where is my order?' }) },
      { type: 'joined', agentName: 'Blair' },
      { type: 'message', message: expect.objectContaining({ text: 'Hi Maria, let me look.', from: 'agent' }) },
    ]);
    const wrongToken = await fetch(`${s.httpUrl}/webchat/conversations/${conversationId}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nope' }, body: '{"text":"x"}' });
    expect(wrongToken.status).toBe(404);
    await fetch(`${s.httpUrl}/webchat/conversations/${conversationId}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ text: 'Order 48213' }) });
    expect((await a.next('message', (m) => m.message.text === 'Order 48213')).message.from).toBe('customer');
  });
});

describe('routing', () => {
  it('offers by presence, capacity and idle time, and queues what nobody can take', async () => {
    const { s } = await server({ rerouteGraceSec: 60 });
    const alex = await agent(s, AGENTS[0]!.token); // capacity 1
    const blair = await agent(s, AGENTS[1]!.token, 'busy');
    await createChat(s, 'One');
    await createChat(s, 'Two');
    expect((await alex.next('offer')).conversation.customer.name).toBe('One');
    const queue = (await (await fetch(`${s.httpUrl}/api/queue`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as { queue: { customerName: string; position: number }[] };
    expect(queue.queue).toMatchObject([{ customerName: 'Two', position: 1 }]);
    expect(blair.frames.some((f) => f.type === 'offer')).toBe(false);
    blair.send({ type: 'presence', presence: 'available' });
    expect((await blair.next('offer')).conversation.customer.name).toBe('Two');
  });

  it('hands the open offers of an agent who lost the connection to someone else after the grace period', async () => {
    const { s } = await server({ rerouteGraceSec: 1 });
    const alex = await agent(s, AGENTS[0]!.token);
    await createChat(s, 'One');
    const offer = await alex.next('offer');
    const blair = await agent(s, AGENTS[1]!.token);
    await alex.close();
    const moved = await blair.next('offer', () => true, 4000);
    expect(moved.conversation.id).toBe(offer.conversation.id);
    expect((await s.service.store.offer(offer.offerId))?.state).toBe('withdrawn');
  });

  it('reroutes an offer the agent\'s client never acknowledged, and leaves an acknowledged one alone', async () => {
    const { s } = await server({ ackTimeoutSec: 1 });
    const silent = await agent(s, AGENTS[0]!.token);
    await createChat(s, 'One');
    const offer = await silent.next('offer');
    const blair = await agent(s, AGENTS[1]!.token);
    expect(await silent.next('offer-withdrawn', () => true, 3000)).toMatchObject({ offerId: offer.offerId, reason: 'rerouted' });
    const moved = await blair.next('offer', () => true, 3000);
    blair.send({ type: 'ack', seq: moved.seq });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await s.service.store.offer(moved.offerId))?.state).toBe('open');
  });

  it('keeps an accepted webhook message across a restart', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await startFeedServer({ ...(await storeOptions(dataDir)), agents: AGENTS, apiKey: API_KEY, channels: { sms: SMS }, logger: silentLogger });
    await sms(first, smsFields('SM1'));
    const port = first.port;
    await first.close();
    const { s } = await server({ dataDir, port });
    const a = await agent(s, AGENTS[1]!.token);
    expect((await a.next('offer')).conversation.customer.phone).toBe('+31612345678');
    expect((await sms(s, smsFields('SM1'))).status).toBe(200);
    expect(await s.service.store.waitingConversations()).toHaveLength(0);
  });
});

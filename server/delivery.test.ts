/**
 * Agent replies reach SMS and Messenger customers: through the official
 * `twilio` library to a fake Twilio, and the Send API to a fake Graph, both on
 * 127.0.0.1 and checking what the real ones check. Exactly once across a
 * restart, failures with the provider's reason, statuses back to the agent.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Delivery } from '../protocol/feed';
import { MessengerSender, TwilioSmsSender, type TwilioSmsOptions } from './channels/outbound';
import { smsStatusUrl } from './channels/webhooks';
import { FakeGraph } from './fakes/graph-api';
import { FakeTwilio } from './fakes/twilio-api';
import { type FeedServer, type FeedServerOptions, startFeedServer } from './feed-server';
import { TestAgent } from './test-agent';
import { startNodeProcess } from './fakes/node-process.ts';
import { storeOptions } from './fakes/test-store.ts';

const AGENTS = [{ id: 'a1', name: 'Alex', token: 'token-alex-0123456789abcdef' }];
const API_KEY = 'test-api-key-0123456789abcdef';
const ACCOUNT = `AC${'1f'.repeat(16)}`;
const AUTH_TOKEN = 'twilio-auth-token-0123456789';
const FROM = '+3197010000000';
const CUSTOMER = '+31612345678';
const SMS = { authToken: AUTH_TOKEN, publicUrl: 'https://feed.example.com/webhooks/sms' };
const MESSENGER = { appSecret: 'messenger-app-secret', verifyToken: 'verify-me' };
const PAGE_TOKEN = 'page-access-token-0123456789';
const PSID = '6543210987';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function fakes() {
  const twilio = await new FakeTwilio({ accountSid: ACCOUNT, authToken: AUTH_TOKEN, apiKey: { sid: `SK${'2e'.repeat(16)}`, secret: 'api-key-secret-0123456789' } }).start();
  const graph = await new FakeGraph({ pageAccessToken: PAGE_TOKEN, appSecret: MESSENGER.appSecret, requireProof: true }).start();
  cleanup.push(() => twilio.close(), () => graph.close());
  return { twilio, graph };
}

function smsSender(twilio: FakeTwilio, over: Partial<TwilioSmsOptions> = {}) {
  return new TwilioSmsSender({ accountSid: ACCOUNT, authToken: AUTH_TOKEN, from: FROM, statusCallback: smsStatusUrl(SMS.publicUrl), apiBaseUrl: twilio.url, ...over });
}

async function server(f: Awaited<ReturnType<typeof fakes>>, over: Partial<FeedServerOptions> = {}) {
  const s = await startFeedServer({
    agents: AGENTS,
    apiKey: API_KEY,
    channels: { sms: SMS, messenger: MESSENGER },
    senders: {
      sms: smsSender(f.twilio),
      facebook: new MessengerSender({ pageAccessToken: PAGE_TOKEN, appSecret: MESSENGER.appSecret, graphUrl: `${f.graph.url}/v21.0` }),
    },
    delivery: { baseDelayMs: 20, smsDoubtMs: 50, echoWaitMs: 400, stopGraceMs: 100 },
    ...over,
    ...(await storeOptions(over.dataDir)),
  });
  f.twilio.callbackBase = s.httpUrl;
  let closed = false;
  cleanup.push(() => (closed ? undefined : s.close()));
  return Object.assign(s, {
    async stop() {
      closed = true;
      await s.close();
    },
  });
}

async function agent(s: FeedServer) {
  const a = await TestAgent.connect(s.feedUrl, AGENTS[0]!.token, { validate: true });
  cleanup.push(async () => {
    await a.close();
    expect(a.invalid).toEqual([]);
  });
  await a.next('welcome');
  return a;
}

/** A customer texts in; the agent accepts. */
async function smsConversation(s: FeedServer, a: TestAgent, sid = 'SM-in-1'): Promise<string> {
  const fields = { MessageSid: sid, From: CUSTOMER, To: FROM, Body: 'Where is my parcel?', AccountSid: ACCOUNT };
  const res = await fetch(`${s.httpUrl}/webhooks/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, SMS.publicUrl, fields) },
    body: new URLSearchParams(fields),
  });
  expect(res.status).toBe(200);
  const offer = await a.next('offer', (o) => o.conversation.channel === 'sms' && !a.frames.some((f) => f.type === 'accepted' && f.offerId === o.offerId));
  a.send({ type: 'accept', offerId: offer.offerId });
  await a.next('accepted', (f) => f.offerId === offer.offerId);
  return offer.conversation.id;
}

async function messengerConversation(s: FeedServer, a: TestAgent, graph: FakeGraph): Promise<string> {
  graph.lastCustomerMessageAt.set(PSID, Date.now());
  expect(await graph.webhook(`${s.httpUrl}/webhooks/messenger`, [{ sender: { id: PSID }, recipient: { id: 'page-1' }, timestamp: Date.now(), message: { mid: 'm_in_1', text: 'Do you ship to Belgium?' } }])).toBe(200);
  const offer = await a.next('offer', (o) => o.conversation.channel === 'facebook');
  a.send({ type: 'accept', offerId: offer.offerId });
  await a.next('accepted', (f) => f.offerId === offer.offerId);
  return offer.conversation.id;
}

/** The agent writes; resolves with the stored message id. */
async function reply(a: TestAgent, conversationId: string, text: string, clientMsgId = `c-${text.length}-${Math.random()}`): Promise<string> {
  a.send({ type: 'send', conversationId, clientMsgId, text });
  const echoed = await a.next('message', (m) => m.message.clientMsgId === clientMsgId);
  return echoed.message.id;
}

const statusOf = (a: TestAgent, messageId: string, status: Delivery['status'], timeoutMs = 5000) =>
  a.next('message-status', (f) => f.messageId === messageId && f.delivery.status === status, timeoutMs);

describe('SMS replies through Twilio', () => {
  it('go out through the twilio library as Twilio takes them, once; the signed status callback reaches the agent', async () => {
    const f = await fakes();
    const s = await server(f);
    const a = await agent(s);
    const conversationId = await smsConversation(s, a);
    a.send({ type: 'send', conversationId, clientMsgId: 'c1', text: 'Refunded! Anything else?' });
    const echoed = await a.next('message', (m) => m.message.clientMsgId === 'c1');
    expect(echoed.message.delivery).toMatchObject({ status: 'queued' });
    await statusOf(a, echoed.message.id, 'sent');

    expect(f.twilio.requests).toEqual([
      {
        method: 'POST',
        path: `/2010-04-01/Accounts/${ACCOUNT}/Messages.json`,
        user: ACCOUNT,
        fields: { To: CUSTOMER, From: FROM, Body: 'Refunded! Anything else?', StatusCallback: 'https://feed.example.com/webhooks/sms/status' },
      },
    ]);
    const [sent] = f.twilio.messages;
    expect(await s.service.store.outbox(echoed.message.id)).toMatchObject({ status: 'sent', providerId: sent!.sid, attempts: 1 });

    // Twilio reports as it goes, signed with the account's token; a forged report is refused.
    const forged = await fetch(`${s.httpUrl}/webhooks/sms/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'forged' },
      body: new URLSearchParams({ MessageSid: sent!.sid, MessageStatus: 'failed', ErrorCode: '30005' }),
    });
    expect(forged.status).toBe(403);
    expect(await f.twilio.callback(sent!.sid, 'delivered')).toBe(204);
    expect((await statusOf(a, echoed.message.id, 'delivered')).delivery).toEqual({ status: 'delivered', at: expect.any(Number) });
    // A late report never moves a reply back.
    expect(await f.twilio.callback(sent!.sid, 'sent')).toBe(204);
    expect((await s.service.store.outbox(echoed.message.id))?.status).toBe('delivered');
    // What a reconnecting agent gets carries the delivery too.
    expect((await s.service.store.transcript(conversationId)).at(-1)).toMatchObject({ id: echoed.message.id, delivery: { status: 'delivered' } });
    expect(f.twilio.messages).toHaveLength(1);
  });

  it('signs in with an API key and sends through a Messaging Service when configured so', async () => {
    const f = await fakes();
    const s = await server(f, {
      senders: { sms: smsSender(f.twilio, { authToken: undefined, apiKeySid: f.twilio.options.apiKey!.sid, apiKeySecret: f.twilio.options.apiKey!.secret, from: undefined, messagingServiceSid: `MG${'3d'.repeat(16)}` }) },
    });
    const a = await agent(s);
    const id = await reply(a, await smsConversation(s, a), 'Hello from the service');
    await statusOf(a, id, 'sent');
    expect(f.twilio.requests[0]).toMatchObject({ user: f.twilio.options.apiKey!.sid, fields: { To: CUSTOMER, MessagingServiceSid: `MG${'3d'.repeat(16)}`, Body: 'Hello from the service' } });
    expect(f.twilio.requests[0]!.fields.From).toBeUndefined();
  });

  it('retries what Twilio could not take now, honouring Retry-After, and sends it once', async () => {
    const f = await fakes();
    f.twilio.respond({ kind: 'error', status: 429, code: 20429, message: 'Too Many Requests', retryAfterSec: 1 }, { kind: 'error', status: 503, code: 20503, message: 'Service Unavailable' });
    const s = await server(f);
    const a = await agent(s);
    const id = await reply(a, await smsConversation(s, a), 'Third time lucky');
    await statusOf(a, id, 'sent', 8000);
    expect(f.twilio.requests.filter((r) => r.method === 'POST')).toHaveLength(3);
    expect(f.twilio.messages.map((m) => m.body)).toEqual(['Third time lucky']);
    expect(await s.service.store.outbox(id)).toMatchObject({ status: 'sent', attempts: 3 });
    // Nothing was said to the agent but queued, then sent: retries are the server's business.
    expect(a.frames.filter((fr) => fr.type === 'message-status' && fr.messageId === id).map((fr) => (fr as { delivery: Delivery }).delivery.status)).toEqual(['sent']);
  });

  it('honours Retry-After: the second attempt waits at least that long', async () => {
    const f = await fakes();
    f.twilio.respond({ kind: 'error', status: 429, code: 20429, message: 'Too Many Requests', retryAfterSec: 2 });
    const s = await server(f);
    const a = await agent(s);
    const id = await reply(a, await smsConversation(s, a), 'Patience');
    await expect.poll(async () => (await s.service.store.outbox(id))?.errorCode).toBe('20429');
    const row = (await s.service.store.outbox(id))!;
    expect(row.nextAt - row.attemptAt!).toBeGreaterThanOrEqual(2000);
    await statusOf(a, id, 'sent', 8000);
  });

  it('a permanent refusal is final, with Twilio\'s code and words; Retry is refused', async () => {
    const f = await fakes();
    f.twilio.respond({ kind: 'error', status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' });
    const s = await server(f);
    const a = await agent(s);
    const conversationId = await smsConversation(s, a);
    const id = await reply(a, conversationId, 'Are you there?');
    const failed = await statusOf(a, id, 'failed');
    expect(failed.delivery).toEqual({ status: 'failed', at: expect.any(Number), error: { code: '21610', text: 'Twilio: Attempt to send to unsubscribed recipient' }, retryable: false });
    a.send({ type: 'retry-delivery', conversationId, messageId: id });
    expect(await a.next('error', (e) => e.ref === id)).toMatchObject({ code: 'cannot-retry' });
    expect(f.twilio.messages).toHaveLength(0);
  });

  it('a reply Twilio could not deliver (phone off) can be retried by the agent, and is then delivered', async () => {
    const f = await fakes();
    const s = await server(f);
    const a = await agent(s);
    const conversationId = await smsConversation(s, a);
    const id = await reply(a, conversationId, 'Your parcel is on its way');
    await statusOf(a, id, 'sent');
    expect(await f.twilio.callback(f.twilio.messages[0]!.sid, 'undelivered', '30003')).toBe(204);
    const failed = await statusOf(a, id, 'failed');
    expect(failed.delivery).toMatchObject({ error: { code: '30003', text: "Twilio 30003: the customer's phone is unreachable (off, or out of coverage)" }, retryable: true });

    a.send({ type: 'retry-delivery', conversationId, messageId: id });
    await a.next('message-status', (m) => m.messageId === id && m.delivery.status === 'queued');
    await a.next('message-status', (m) => m.messageId === id && m.delivery.status === 'sent' && m.seq > failed.seq);
    expect(f.twilio.messages).toHaveLength(2);
    expect(await f.twilio.callback(f.twilio.messages[1]!.sid, 'delivered')).toBe(204);
    await statusOf(a, id, 'delivered');
  });

  it('keeps a conversation\'s replies in order while one waits for a retry', async () => {
    const f = await fakes();
    f.twilio.respond({ kind: 'error', status: 500, code: 20500, message: 'Internal Server Error' });
    const s = await server(f);
    const a = await agent(s);
    const conversationId = await smsConversation(s, a);
    const first = await reply(a, conversationId, 'First');
    const second = await reply(a, conversationId, 'Second');
    await statusOf(a, second, 'sent');
    expect((await s.service.store.outbox(first))?.status).toBe('sent');
    expect(f.twilio.messages.map((m) => m.body)).toEqual(['First', 'Second']);
  });

  it('answers signed status reports it cannot use clearly, and changes nothing for them', async () => {
    const f = await fakes();
    const s = await server(f);
    const a = await agent(s);
    const id = await reply(a, await smsConversation(s, a), 'Hello');
    await statusOf(a, id, 'sent');
    const report = (fields: Record<string, string>) =>
      fetch(`${s.httpUrl}/webhooks/sms/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, smsStatusUrl(SMS.publicUrl), fields) },
        body: new URLSearchParams(fields),
      });
    const noSid = await report({ MessageStatus: 'delivered' });
    expect([noSid.status, await noSid.json()]).toEqual([400, { error: { code: 'invalid', message: 'MessageSid is required' } }]);
    expect((await report({ MessageSid: 'S'.repeat(201), MessageStatus: 'delivered' })).status).toBe(400);
    // Statuses before "sent", unknown statuses and unknown messages: taken (Twilio would retry otherwise), nothing changes.
    expect((await report({ MessageSid: f.twilio.messages[0]!.sid, MessageStatus: 'sending' })).status).toBe(204);
    expect((await report({ MessageSid: f.twilio.messages[0]!.sid, MessageStatus: 'exploded' })).status).toBe(204);
    expect((await report({ MessageSid: 'SMunknown', MessageStatus: 'delivered' })).status).toBe(204);
    expect((await s.service.store.outbox(id))?.status).toBe('sent');
    // A GET, or a report signed for another URL, is refused.
    expect((await fetch(`${s.httpUrl}/webhooks/sms/status`)).status).toBe(405);
    const elsewhere = { MessageSid: f.twilio.messages[0]!.sid, MessageStatus: 'failed', ErrorCode: '30005' };
    const wrongUrl = await fetch(`${s.httpUrl}/webhooks/sms/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, SMS.publicUrl, elsewhere) },
      body: new URLSearchParams(elsewhere),
    });
    expect(wrongUrl.status).toBe(403);
    expect((await s.service.store.outbox(id))?.status).toBe('sent');
  });

  it('refuses a reply too long for SMS before anything is stored', async () => {
    const f = await fakes();
    const s = await server(f);
    const a = await agent(s);
    const conversationId = await smsConversation(s, a);
    a.send({ type: 'send', conversationId, clientMsgId: 'long', text: 'x'.repeat(1601) });
    expect(await a.next('error', (e) => e.ref === 'long')).toMatchObject({ code: 'not-deliverable', message: 'an SMS reply is at most 1600 characters; this one has 1601' });
    expect(await s.service.store.transcript(conversationId)).toHaveLength(1);
  });

  it('without a configured sender, a reply fails at once and says why', async () => {
    const f = await fakes();
    const s = await server(f, { senders: {} });
    const a = await agent(s);
    const id = await reply(a, await smsConversation(s, a), 'Hello?');
    expect((await statusOf(a, id, 'failed')).delivery.error).toEqual({ code: 'not-configured', text: 'this server sends no SMS replies: its operator has not configured a sender' });
  });
});

describe('exactly once across a restart', () => {
  async function restartable() {
    const f = await fakes();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-delivery-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    return { f, dataDir };
  }

  it('the server stopped before Twilio took the reply: the next start sends it, once', async () => {
    const { f, dataDir } = await restartable();
    f.twilio.respond({ kind: 'hold', created: false });
    const first = await server(f, { dataDir });
    const a = await agent(first);
    const id = await reply(a, await smsConversation(first, a), 'Sent across a restart');
    await expect.poll(() => f.twilio.requests.length).toBe(1);
    await first.stop();

    const second = await server(f, { dataDir });
    await expect.poll(async () => (await second.service.store.outbox(id))?.status).toBe('sent');
    expect(f.twilio.messages.map((m) => m.body)).toEqual(['Sent across a restart']);
    // It asked Twilio first (GET), and only then sent again.
    expect(f.twilio.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
  });

  it('the server stopped after Twilio took the reply: the next start finds it there and does not send it again', async () => {
    const { f, dataDir } = await restartable();
    f.twilio.respond({ kind: 'hold', created: true });
    const first = await server(f, { dataDir });
    const a = await agent(first);
    const id = await reply(a, await smsConversation(first, a), 'Only once, please');
    await expect.poll(() => f.twilio.messages.length).toBe(1);
    await first.stop();

    const second = await server(f, { dataDir });
    await expect.poll(async () => (await second.service.store.outbox(id))?.status).toBe('sent');
    expect((await second.service.store.outbox(id))?.providerId).toBe(f.twilio.messages[0]!.sid);
    expect(f.twilio.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
    // Its status callback still finds it.
    expect(await f.twilio.callback(f.twilio.messages[0]!.sid, 'delivered')).toBe(204);
    await expect.poll(async () => (await second.service.store.outbox(id))?.status).toBe('delivered');
  });

  it('kill -9 of the real server mid-send: the restarted server sends the reply once', async () => {
    const { f, dataDir } = await restartable();
    f.twilio.respond({ kind: 'hold', created: false });
    writeFileSync(path.join(dataDir, 'agents.json'), JSON.stringify(AGENTS));
    const where = await storeOptions(path.join(dataDir, 'data'));
    const start = async () => {
      const node = await startNodeProcess([
        '--data-dir', where.dataDir, ...(where.store ? ['--store', where.store] : []), '--agents', path.join(dataDir, 'agents.json'), '--api-key', API_KEY,
        '--sms-auth-token', AUTH_TOKEN, '--sms-public-url', SMS.publicUrl, '--twilio-account-sid', ACCOUNT, '--sms-from', FROM, '--twilio-api-url', f.twilio.url,
      ]);
      cleanup.push(() => node.kill());
      return { ...node, s: { httpUrl: node.httpUrl, feedUrl: node.feedUrl } as FeedServer };
    };
    const first = await start();
    const a = await agent(first.s);
    await reply(a, await smsConversation(first.s, a), 'Killed mid-send');
    await expect.poll(() => f.twilio.requests.length, { timeout: 10_000 }).toBe(1);
    await first.kill();

    // The restarted server: Twilio is asked first (after the in-doubt wait), then it is sent, once.
    await start();
    await expect.poll(() => f.twilio.messages.map((m) => m.body), { timeout: 25_000 }).toEqual(['Killed mid-send']);
    await new Promise((r) => setTimeout(r, 300));
    expect(f.twilio.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
  }, 40_000);

  it('a Messenger reply in doubt is known sent by its echo; one with no echo is sent again after the wait', async () => {
    const { f, dataDir } = await restartable();
    f.graph.respond({ kind: 'hold', created: true }, { kind: 'hold', created: false });
    // Long enough for the echo to beat the wait on a busy machine; the third server waits it out.
    const delivery = { baseDelayMs: 20, smsDoubtMs: 50, echoWaitMs: 1500, stopGraceMs: 100 };
    const first = await server(f, { dataDir, delivery });
    const a = await agent(first);
    const conversationId = await messengerConversation(first, a, f.graph);
    const echoed = await reply(a, conversationId, 'Echoed');
    await expect.poll(() => f.graph.requests.length).toBe(1);
    await first.stop();

    const second = await server(f, { dataDir, delivery });
    // Meta echoes the page's message with our metadata: it was sent.
    expect(await f.graph.webhook(`${second.httpUrl}/webhooks/messenger`, [f.graph.echoOf(f.graph.sent[0]!)])).toBe(200);
    await expect.poll(async () => (await second.service.store.outbox(echoed))).toMatchObject({ status: 'sent', providerId: f.graph.sent[0]!.mid });
    await new Promise((r) => setTimeout(r, 600));
    expect(f.graph.sent.map((m) => m.text)).toEqual(['Echoed']);

    const b = await agent(second);
    const lost = await reply(b, conversationId, 'Lost on the way');
    await expect.poll(() => f.graph.requests.length).toBe(2);
    await second.stop();
    const third = await server(f, { dataDir, delivery });
    // No echo comes: after the wait it is sent again, once.
    await expect.poll(async () => (await third.service.store.outbox(lost))?.status, { timeout: 5000 }).toBe('sent');
    expect(f.graph.sent.map((m) => m.text)).toEqual(['Echoed', 'Lost on the way']);
  });
});

describe('Messenger replies through the Send API', () => {
  it('go out with the page token, the appsecret proof and messaging_type RESPONSE; delivery and read receipts reach the agent', async () => {
    const f = await fakes();
    const s = await server(f);
    const a = await agent(s);
    const conversationId = await messengerConversation(s, a, f.graph);
    const id = await reply(a, conversationId, 'Yes, we do.');
    await statusOf(a, id, 'sent');
    expect(f.graph.requests).toEqual([
      {
        path: '/v21.0/me/messages',
        token: PAGE_TOKEN,
        body: { recipient: { id: PSID }, messaging_type: 'RESPONSE', message: { text: 'Yes, we do.', metadata: `deskbell:${id}` } },
      },
    ]);
    const mid = f.graph.sent[0]!.mid;
    const hook = `${s.httpUrl}/webhooks/messenger`;
    expect(await f.graph.webhook(hook, [{ sender: { id: PSID }, recipient: { id: 'page-1' }, delivery: { mids: [mid], watermark: Date.now() } }])).toBe(200);
    await statusOf(a, id, 'delivered');
    expect(await f.graph.webhook(hook, [{ sender: { id: PSID }, recipient: { id: 'page-1' }, read: { watermark: Date.now() } }])).toBe(200);
    await statusOf(a, id, 'read');
    // The page's own echo changes nothing, and opens no conversation.
    expect(await f.graph.webhook(hook, [f.graph.echoOf(f.graph.sent[0]!)])).toBe(200);
    expect((await s.service.store.outbox(id))?.status).toBe('read');
    expect(await s.service.store.waitingConversations()).toHaveLength(0);
  });

  it('a blocked customer is final with Graph\'s reason; a rate limit is retried', async () => {
    const f = await fakes();
    f.graph.respond({ kind: 'error', status: 400, code: 613, message: 'Calls to this api have exceeded the rate limit.' }, { kind: 'error', status: 400, code: 551, message: 'This person isn\'t available right now.' });
    const s = await server(f);
    const a = await agent(s);
    const id = await reply(a, await messengerConversation(s, a, f.graph), 'Hello?');
    const failed = await statusOf(a, id, 'failed');
    expect(failed.delivery).toMatchObject({ error: { code: '551', text: "Messenger: This person isn't available right now." }, retryable: false });
    expect(f.graph.requests).toHaveLength(2);
  });

  it('refuses a reply once the 24-hour window has closed, before the provider would', async () => {
    const f = await fakes();
    let shift = 0;
    const s = await server(f, { now: () => Date.now() + shift });
    const a = await agent(s);
    const conversationId = await messengerConversation(s, a, f.graph);
    shift = 24 * 3600_000 + 60_000;
    a.send({ type: 'send', conversationId, clientMsgId: 'late', text: 'Sorry for the wait' });
    const error = await a.next('error', (e) => e.ref === 'late');
    expect(error.code).toBe('not-deliverable');
    expect(error.message).toMatch(/^Messenger's 24-hour window closed at .*: the customer has to write first$/);
    expect(f.graph.requests).toHaveLength(0);
  });
});

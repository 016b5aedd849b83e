/**
 * The server at the edge (issue 16): requests that once ended the process,
 * credentials, what one client may cost, frame discipline, webhooks as the
 * official provider library signs them, and durability.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_TRANSCRIPT_MESSAGES, type Message } from '../protocol/feed.ts';
import { messengerSignature } from './channels/signatures.ts';
import { CLOSE, type FeedServer, type FeedServerOptions, startFeedServer } from './feed-server.ts';
import type { Logger } from './logger.ts';
import { SqliteStore } from './store-sqlite.ts';
import { TestAgent } from './test-agent.ts';
import { storeOptions, TEST_STORE } from './fakes/test-store.ts';
import { PostgresStore } from './store-postgres.ts';

const AGENTS = [
  { id: 'a1', name: 'Alex', token: 'edge-token-alex-0123456789' },
  { id: 'a2', name: 'Blair', token: 'edge-token-blair-0123456789' },
];
const API_KEY = 'edge-api-key-0123456789abcdef';
const SMS = { authToken: 'edge-sms-auth-token', publicUrl: 'https://feed.example.com/webhooks/sms' };
const MESSENGER = { appSecret: 'edge-app-secret', verifyToken: 'edge-verify-token' };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** The SQLite store under a server, for checks of the file itself. */
function sqlite(s: FeedServer): SqliteStore {
  if (!(s.service.store instanceof SqliteStore)) throw new Error('this check reads the SQLite file');
  return s.service.store;
}

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'deskbell-edge-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger that keeps every line, to check what is (and is not) logged. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (msg, data) => lines.push(JSON.stringify({ msg, ...data })), warn: (msg, data) => lines.push(JSON.stringify({ msg, ...data })) };
}

async function server(over: Partial<FeedServerOptions> = {}): Promise<FeedServer> {
  const s = await startFeedServer({ agents: AGENTS, apiKey: API_KEY, channels: { sms: SMS, messenger: MESSENGER }, ...over, ...(await storeOptions(over.dataDir)) });
  cleanup.push(() => s.close());
  return s;
}

async function agent(s: FeedServer, token: string, opts: Parameters<typeof TestAgent.connect>[2] = {}) {
  const a = await TestAgent.connect(s.feedUrl, token, opts);
  cleanup.push(() => a.close());
  return a;
}

function api(s: FeedServer, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
  return fetch(`${s.httpUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

/** Sends raw bytes and resolves with what came back before the server closed or 2 s passed. */
function raw(s: FeedServer, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(s.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.write(bytes);
    setTimeout(() => socket.destroy(), 2000).unref();
  });
}

async function healthy(s: FeedServer): Promise<boolean> {
  return (await fetch(`${s.httpUrl}/healthz`)).status === 200;
}

describe('no request ends the process', () => {
  it('answers a request target that is not a URL with 400 and keeps serving', async () => {
    const s = await server();
    // A path that only looks like a host is a path (404), never a new host.
    expect(await raw(s, 'GET //%5B HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 404/);
    expect(await raw(s, 'GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    // As a browser sends it from an <img src> on any page.
    expect((await fetch(`${s.httpUrl}//%5B`)).status).toBeLessThan(500);
    expect(await healthy(s)).toBe(true);
  });

  it('logs and counts an unexpected exception, answers 500, and only that request fails', async () => {
    const logger = recordingLogger();
    const s = await server({
      logger,
      routes: (_req, _res, url) => {
        if (url.pathname === '/boom') throw new TypeError('a bug');
        return false;
      },
    });
    expect((await fetch(`${s.httpUrl}/boom`)).status).toBe(500);
    expect(s.stats.internalErrors).toBe(1);
    expect(logger.lines.some((l) => l.includes('HTTP request failed unexpectedly') && l.includes('a bug'))).toBe(true);
    expect(await healthy(s)).toBe(true);
  });
});

describe('credentials', () => {
  it('makes a random API key on first start, keeps it readable by its owner only, and never has a built-in one', async () => {
    const dataDir = tempDir();
    const first = await startFeedServer({ ...(await storeOptions(dataDir)), agents: AGENTS });
    expect(first.apiKey.created).toBe(true);
    expect(first.apiKey.value.length).toBeGreaterThanOrEqual(22);
    // SQLite: a file readable by its owner only; PostgreSQL: a row every server on the database shares.
    if (TEST_STORE === 'sqlite') expect(statSync(path.join(dataDir, 'api-key')).mode & 0o777).toBe(0o600);
    for (const key of ['demo-api-key', 'deskbell-demo-api-key-local', '']) {
      expect((await fetch(`${first.httpUrl}/api/queue`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    }
    expect((await fetch(`${first.httpUrl}/api/queue`, { headers: { authorization: `Bearer ${first.apiKey.value}` } })).status).toBe(200);
    const key = first.apiKey.value;
    await first.close();
    const second = await startFeedServer({ ...(await storeOptions(dataDir)), agents: AGENTS });
    cleanup.push(() => second.close());
    expect(second.apiKey).toMatchObject({ created: false, value: key });
  });

  it('refuses short tokens, short API keys, long names and duplicate tokens at start, naming each', async () => {
    await expect(startFeedServer({ ...(await storeOptions()), apiKey: API_KEY, agents: [{ id: 'x', name: 'X', token: 'demo-agent-token' }] })).rejects.toThrow(/agent "x": token is shorter than 22/);
    await expect(startFeedServer({ ...(await storeOptions()), apiKey: 'demo-api-key', agents: AGENTS })).rejects.toThrow(/API key is shorter/);
    await expect(startFeedServer({ ...(await storeOptions()), apiKey: API_KEY, agents: [{ ...AGENTS[0]!, name: 'n'.repeat(201) }] })).rejects.toThrow(/longer than 200/);
    await expect(startFeedServer({ ...(await storeOptions()), apiKey: API_KEY, agents: [AGENTS[0]!, { ...AGENTS[1]!, token: AGENTS[0]!.token }] })).rejects.toThrow(/token used by another agent/);
  });

  it('makes the agents list the truth: a removed agent is refused and its offers and chats go to someone else', async () => {
    const dataDir = tempDir();
    const first = await startFeedServer({ ...(await storeOptions(dataDir)), agents: AGENTS, apiKey: API_KEY, rerouteGraceSec: 600 });
    const alex = await agent(first, AGENTS[0]!.token);
    await alex.next('welcome');
    await api(first, 'POST', '/api/conversations', { scenario: 'chat', customer: { name: 'Offered' }, comment: 'one' });
    const offered = await alex.next('offer');
    await api(first, 'POST', '/api/conversations', { scenario: 'chat', customer: { name: 'Active' }, comment: 'two' });
    const second = await alex.next('offer', (o) => o.offerId !== offered.offerId);
    alex.send({ type: 'accept', offerId: second.offerId });
    await alex.next('accepted');
    await alex.close();
    const port = first.port;
    await first.close();

    const again = await startFeedServer({ ...(await storeOptions(dataDir)), agents: [AGENTS[1]!], apiKey: API_KEY, port });
    cleanup.push(() => again.close());
    const gone = await agent(again, AGENTS[0]!.token);
    await gone.next('error', (e) => e.code === 'unauthorized');
    const blair = await agent(again, AGENTS[1]!.token);
    await blair.next('offer', (o) => o.conversation.customer.name === 'Offered');
    await blair.next('offer', (o) => o.conversation.customer.name === 'Active');
    expect((await again.service.store.offer(offered.offerId))?.state).toBe('withdrawn');
  });

  it('keeps a keyed hash of each token, never the token or its plain SHA-256', async () => {
    const dataDir = tempDir();
    const s = await startFeedServer({ ...(await storeOptions(dataDir)), agents: AGENTS, apiKey: API_KEY });
    const select = 'select token_hash from agents';
    const rows = (s.service.store instanceof PostgresStore ? (await s.service.store.pool.query(select)).rows : sqlite(s).db.prepare(select).all()) as { token_hash: string }[];
    await s.close();
    for (const { token } of AGENTS) {
      const plain = createHash('sha256').update(token).digest('hex');
      expect(rows.map((r) => r.token_hash)).not.toContain(plain);
      expect(rows.map((r) => r.token_hash)).not.toContain(token);
    }
    // The key of the hashes: in the data directory, or in the database (every server hashes alike).
    if (TEST_STORE === 'sqlite') expect(statSync(path.join(dataDir, 'token-key')).mode & 0o777).toBe(0o600);
    expect(rows).toHaveLength(AGENTS.length);
  });
});

describe('what one client may cost', () => {
  it('closes an agent socket that stops reading (4413), and the agent resumes from its cursor with nothing lost', async () => {
    const logger = recordingLogger();
    const s = await server({ logger, limits: { maxSocketBacklogBytes: 256 * 1024 } });
    const a = await agent(s, AGENTS[0]!.token);
    await a.next('welcome');
    const body = (await (await api(s, 'POST', '/api/conversations', { scenario: 'chat', customer: { name: 'Talker' }, comment: 'hi' })).json()) as { conversation: { id: string } };
    a.send({ type: 'accept', offerId: (await a.next('offer')).offerId });
    await a.next('accepted');
    const handled = Math.max(...a.seqs());
    // The client stops reading; the customer keeps writing.
    (a.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    cleanup.push(() => a.socket.terminate());
    const text = 'x'.repeat(7900);
    for (let i = 0; i < 3000 && s.stats.tooSlow === 0; i++) {
      await s.service.postMessage(body.conversation.id, `${i} ${text}`);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(s.stats.tooSlow).toBe(1);
    expect(logger.lines.some((l) => l.includes('read too slowly'))).toBe(true);
    const sent = await s.service.store.lastSeq('a1');
    const back = await agent(s, AGENTS[0]!.token, { resumeFrom: handled });
    expect(await back.next('welcome')).toMatchObject({ resumed: true });
    await back.next('message', (m) => m.seq === sent, 10_000);
    expect(back.seqs()).toEqual(Array.from({ length: sent - handled }, (_, i) => handled + 1 + i));
  }, 20_000);

  it('caps event streams per chat and per address, and bounds web chat starts and messages per address', async () => {
    const s = await server({ limits: { streamsPerChat: 2, webchatStarts: { burst: 3, perMinute: 1 }, customerMessages: { burst: 4, perMinute: 1 } } });
    const start = () => fetch(`${s.httpUrl}/webchat/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Pat', question: 'Hello?' }) });
    const first = (await (await start()).json()) as { conversationId: string; token: string };
    expect((await start()).status).toBe(201);
    expect((await start()).status).toBe(201);
    const refused = await start();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    const events = `${s.httpUrl}/webchat/conversations/${first.conversationId}/events?token=${first.token}`;
    const streams = [new AbortController(), new AbortController()];
    cleanup.push(() => streams.forEach((c) => c.abort()));
    for (const c of streams) expect((await fetch(events, { signal: c.signal })).status).toBe(200);
    expect((await fetch(events)).status).toBe(429);
    // A closed stream frees its place.
    streams[0]!.abort();
    await expect
      .poll(async () => {
        const next = new AbortController();
        streams.push(next);
        return (await fetch(events, { signal: next.signal })).status;
      })
      .toBe(200);

    const post = () => fetch(`${s.httpUrl}/webchat/conversations/${first.conversationId}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${first.token}` }, body: JSON.stringify({ text: 'more' }) });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await post()).status);
    expect(statuses).toEqual([201, 201, 201, 201, 429, 429]);
  });

  it('throttles failed sign-ins per address, logs them without the token, and then refuses even a right token', async () => {
    const logger = recordingLogger();
    const s = await server({ logger, limits: { failedAuth: { burst: 3, perMinute: 1 } } });
    for (let i = 0; i < 3; i++) {
      const wrong = await agent(s, `wrong-guess-${i}-0123456789abc`);
      await wrong.next('error', (e) => e.code === 'unauthorized');
    }
    const real = await agent(s, AGENTS[0]!.token);
    expect(await real.next('error')).toMatchObject({ code: 'rate-limited', message: expect.stringContaining('failed sign-ins') });
    await expect.poll(() => real.closed?.code).toBe(CLOSE.flood);
    expect(s.stats.failedLogins).toBe(4);
    expect(logger.lines.filter((l) => l.includes('sign-in refused'))).toHaveLength(4);
    expect(logger.lines.join('\n')).not.toContain('wrong-guess');
    // Wrong API keys count against the same address.
    expect((await api(s, 'GET', '/api/queue')).status).toBe(429);
  });

  it('handles nothing a socket sends after its hello was refused', async () => {
    const s = await server();
    const real = await agent(s, AGENTS[0]!.token);
    await real.next('welcome');
    const socket = new WebSocket(s.feedUrl);
    cleanup.push(() => socket.terminate());
    await new Promise((r) => socket.once('open', r));
    const hello = (token: string) => JSON.stringify({ type: 'hello', v: 1, token, resumeFrom: 0, presence: 'available', client: { name: 'x', version: '1' } });
    socket.send(hello('not-a-real-token-0123456789'));
    socket.send(hello(AGENTS[0]!.token));
    await new Promise((r) => socket.once('close', r));
    real.send({ type: 'ping', t: 7 });
    expect(await real.next('pong', (p) => p.t === 7)).toBeTruthy();
    expect(real.closed).toBeUndefined();
  });

  it('parses the JSON content type instead of searching it', async () => {
    const s = await server();
    const res = await api(s, 'POST', '/api/conversations', { scenario: 'chat', customer: { name: 'Pat' } }, { 'content-type': 'text/plain;charset=application/json' });
    expect(res.status).toBe(415);
    const chat = await fetch(`${s.httpUrl}/webchat/conversations`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=application/json' }, body: JSON.stringify({ name: 'Pat', question: 'Hi' }) });
    expect(chat.status).toBe(415);
    expect((await api(s, 'POST', '/api/conversations', { scenario: 'chat', customer: { name: 'Pat' } }, { 'content-type': 'Application/JSON; charset=utf-8' })).status).toBe(201);
  });
});

describe('frame discipline', () => {
  it('sends an accepted event within the client schema however long the transcript is', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token);
    await a.next('welcome');
    const res = (await (await api(s, 'POST', '/api/conversations', { scenario: 'chat', customer: { name: 'Long' }, comment: 'start' })).json()) as { conversation: { id: string } };
    const id = res.conversation.id;
    await s.service.store.transaction(async (q) => {
      for (let i = 0; i < MAX_TRANSCRIPT_MESSAGES + 500; i++) await q.insertMessage({ id: `m${i}`, conversationId: id, from: 'customer', text: `line ${i}`, at: Date.now() + i });
    });
    a.send({ type: 'accept', offerId: (await a.next('offer')).offerId });
    const accepted = await a.next('accepted', () => true, 10_000);
    expect(accepted.transcript).toHaveLength(MAX_TRANSCRIPT_MESSAGES);
    expect(accepted.transcript.at(-1)?.text).toBe(`line ${MAX_TRANSCRIPT_MESSAGES + 499}`);
    // TestAgent validated every frame with the extension's schema: none was refused.
    expect(a.invalid).toEqual([]);
  });

  it('normalises customer names, and refuses one that is empty once invisible characters are gone', async () => {
    const s = await server();
    const create = (name: string) => api(s, 'POST', '/api/conversations', { scenario: 'chat', customer: { name }, comment: 'hi' });
    const made = (await (await create('Ma\u200Bria \u202EnesnaJ\u202C\u0301')).json()) as { conversation: { customer: { name: string } } };
    expect(made.conversation.customer.name).toBe('Maria nesnaJ\u0301'.normalize('NFC'));
    const empty = await create('\u200B\u202E\u2066 \uD800');
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { message: string } }).error.message).toMatch(/customer\.name: is empty once invisible/);
  });
});

describe('webhooks as the official library signs them', () => {
  const fields = { MessageSid: 'SM100', From: '+31612345678', To: '+3197010000000', Body: 'Hello', AccountSid: 'AC1' };
  const post = (s: FeedServer, body: Record<string, string>, signature: string, extra: Record<string, string> = {}) =>
    fetch(`${s.httpUrl}/webhooks/sms`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature, ...extra }, body: new URLSearchParams(body) });

  it('accepts the URL with and without :443 and the HMAC-SHA256 setting, as validateRequest does', async () => {
    const s = await server();
    const withPort = getExpectedTwilioSignature(SMS.authToken, 'https://feed.example.com:443/webhooks/sms', fields);
    expect((await post(s, fields, withPort)).status).toBe(200);
    const sha256 = getExpectedTwilioSignature(SMS.authToken, SMS.publicUrl, { ...fields, MessageSid: 'SM101' }, 'HMAC_SHA256');
    expect((await post(s, { ...fields, MessageSid: 'SM101' }, sha256, { 'x-twilio-webhooks-signature-settings': 'key=webhooks_sharedkey_1,algorithm=HMAC_SHA256' })).status).toBe(200);
    // The SHA-256 signature without the header that names it, and an unknown algorithm, fail.
    expect((await post(s, { ...fields, MessageSid: 'SM101' }, sha256)).status).toBe(403);
    expect((await post(s, fields, withPort, { 'x-twilio-webhooks-signature-settings': 'algorithm=HMAC_MD5' })).status).toBe(403);
  });

  it('keeps a media-only MMS and a Messenger attachment, with the media as https links', async () => {
    const s = await server();
    const a = await agent(s, AGENTS[0]!.token, { presence: 'busy' });
    await a.next('welcome');
    const mms = { MessageSid: 'MM1', From: '+31611111111', To: '+3197010000000', Body: '', NumMedia: '2', MediaUrl0: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1', MediaContentType0: 'image/jpeg', MediaUrl1: 'http://insecure.example.com/p.png', MediaContentType1: 'image/png' };
    expect((await post(s, mms, getExpectedTwilioSignature(SMS.authToken, SMS.publicUrl, mms))).status).toBe(200);
    const page = { object: 'page', entry: [{ messaging: [{ sender: { id: '123456789' }, message: { mid: 'mid.1', attachments: [{ type: 'image', payload: { url: 'https://scontent.example.com/photo.jpg' } }, { type: 'location', payload: null }] } }] }] };
    const rawBody = Buffer.from(JSON.stringify(page));
    expect((await fetch(`${s.httpUrl}/webhooks/messenger`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': messengerSignature(MESSENGER.appSecret, rawBody) }, body: rawBody })).status).toBe(200);

    a.send({ type: 'presence', presence: 'available' });
    const transcripts: Message[][] = [];
    for (let i = 0; i < 2; i++) {
      const offer = await a.next('offer', (o) => !a.frames.some((f) => f.type === 'accepted' && f.conversation.id === o.conversation.id));
      a.send({ type: 'accept', offerId: offer.offerId });
      transcripts.push((await a.next('accepted', (f) => f.offerId === offer.offerId)).transcript);
    }
    const sms = transcripts.find((t) => t[0]!.conversationId && t[0]!.media?.[0]?.contentType === 'image/jpeg')!;
    expect(sms[0]).toMatchObject({ media: [{ url: mms.MediaUrl0, contentType: 'image/jpeg' }], text: '[image/png: http://insecure.example.com/p.png]' });
    const fb = transcripts.find((t) => t !== sms)!;
    expect(fb[0]).toMatchObject({ media: [{ url: 'https://scontent.example.com/photo.jpg' }], text: '[location]' });
    expect(a.invalid).toEqual([]);
  });

  it('records the provider id in the same transaction as the conversation: a failure leaves nothing, the retry makes one', async () => {
    const s = await server();
    const store = s.service.store;
    // Inside the next transactions, the claim fails once: the store went away at that moment.
    const transaction = store.transaction.bind(store);
    let failOnce = true;
    store.transaction = (fn) =>
      transaction((q) =>
        fn(
          new Proxy(q, {
            get(target, key) {
              if (key === 'claimInbound' && failOnce) {
                return async () => {
                  failOnce = false;
                  throw new Error('disk went away');
                };
              }
              const value = Reflect.get(target, key, target) as unknown;
              return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
            },
          }),
        ),
      );
    const conversations = async () => (await store.waitingCount()) + (await store.openOffers()).length;
    const body = { ...fields, MessageSid: 'SM200' };
    const signature = getExpectedTwilioSignature(SMS.authToken, SMS.publicUrl, body);
    expect((await post(s, body, signature)).status).toBe(500);
    expect(await conversations()).toBe(0);
    expect((await post(s, body, signature)).status).toBe(200);
    expect((await post(s, body, signature)).status).toBe(200);
    expect(await conversations()).toBe(1);
  });
});

describe('durability', () => {
  it('commits durably, and a 201 means the row is there for any other reader of the store', async () => {
    const dataDir = tempDir();
    const where = await storeOptions(dataDir);
    const s = await startFeedServer({ ...where, agents: AGENTS, apiKey: API_KEY });
    cleanup.push(() => s.close());
    // Another connection to the same data: a second SQLite reader of the file, or a second PostgreSQL session.
    let read: (id: string) => Promise<unknown>;
    if (where.store) {
      const reader = new pg.Client({ connectionString: where.store });
      await reader.connect();
      cleanup.push(() => reader.end());
      read = async (id) => (await reader.query('select id from conversations where id = $1', [id])).rows[0];
    } else {
      expect(sqlite(s).db.pragma('synchronous', { simple: true })).toBe(2);
      const reader = new Database(path.join(dataDir, 'deskbell-feed.sqlite'), { readonly: true });
      cleanup.push(() => void reader.close());
      read = async (id) => reader.prepare('select id from conversations where id = ?').get(id);
    }
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api(s, 'POST', '/api/conversations', { scenario: 'chat', customer: { name: `C${i}` }, comment: 'hi' }).then(async (r) => ({ status: r.status, id: ((await r.json()) as { conversation: { id: string } }).conversation.id }))),
    );
    for (const { status, id } of answers) {
      expect(status).toBe(201);
      expect(await read(id)).toEqual({ id });
    }
  });
});

/**
 * Sign-in with the organisation's identity provider (issue 22), on the
 * server: every way a token is refused, key rotation, and what a signed-in
 * connection may do (renew, end, be signed out, be routed by its groups).
 */
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLOSE, type FeedServer, startFeedServer } from './feed-server.ts';
import { TestIssuer, testKey, type TestKey, unsignedToken } from './fakes/test-issuer.ts';
import { ProviderUnavailable, type SignInOptions, TokenRefused, TokenVerifier } from './sign-in.ts';
import { TestAgent } from './test-agent.ts';
import { storeOptions } from './fakes/test-store.ts';

const CLIENT_ID = 'deskbell-extension';
const API_KEY = 'sign-in-api-key-0123456789abcdef';

let issuer: TestIssuer;
let key: TestKey;
const cleanup: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  issuer = await TestIssuer.start();
  key = await testKey('key-1');
  issuer.published = [key];
  cleanup.push(() => issuer.close());
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const verifier = (over: Partial<SignInOptions> = {}) =>
  new TokenVerifier({ issuer: issuer.issuer, audiences: [CLIENT_ID], keyRefetchCooldownSec: 0, ...over });
const claims = (over: Record<string, unknown> = {}) => ({ sub: 'user-1', aud: CLIENT_ID, email: 'Sam@Example.com', name: 'Sam Jones', ...over });

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenRefused);
  return (error as TokenRefused).reason;
}

describe('TokenVerifier', () => {
  it('accepts a token signed by the provider, for Deskbell, in date; the login is the e-mail, lower-cased', async () => {
    const who = await verifier().verify(await issuer.token(key, claims({ groups: ['Support', 7] })));
    expect(who).toMatchObject({ subject: 'user-1', login: 'sam@example.com', name: 'Sam Jones', groups: ['Support'], issuer: issuer.issuer });
    expect(who.expiresAt).toBeGreaterThan(Date.now() + 590_000);
  });

  it('refuses a bad signature, another audience or issuer, an expired token, an unknown key, alg none, HMAC and junk', async () => {
    const v = verifier({ clockToleranceSec: 5 });
    const stranger = await testKey('key-1');
    expect(await refusal(v.verify(await issuer.token(stranger, claims())))).toBe('bad-signature');
    expect(await refusal(v.verify(await issuer.token(key, claims({ aud: 'some-other-app' }))))).toBe('wrong-audience');
    expect(await refusal(v.verify(await issuer.token(key, claims({ iss: 'https://login.evil.example' }))))).toBe('wrong-issuer');
    expect(await refusal(v.verify(await issuer.token(key, claims(), { issuedAgoSec: 120, expiresInSec: 60 })))).toBe('expired');
    expect(await refusal(v.verify(await issuer.token(await testKey('key-unpublished'), claims())))).toBe('unknown-key');
    expect(await refusal(v.verify(unsignedToken({ ...claims(), iss: issuer.issuer, exp: Math.floor(Date.now() / 1000) + 600 })))).toBe('unsigned');
    // HS256 "signed" with the public key: the classic key-confusion attack.
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'key-1' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ ...claims(), iss: issuer.issuer, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
    const mac = createHmac('sha256', JSON.stringify(key.publicJwk)).update(`${header}.${body}`).digest('base64url');
    expect(await refusal(v.verify(`${header}.${body}.${mac}`))).toBe('bad-algorithm');
    expect(await refusal(v.verify('not.a-token'))).toBe('malformed');
    expect(await refusal(v.verify(await issuer.token(key, claims({ email: undefined }))))).toBe('missing-claim');
    expect(await refusal(v.verify(await issuer.token(key, claims(), { issuedAgoSec: -600 })))).toBe('not-yet-valid');
    expect(await refusal(v.verify(await issuer.token(key, claims({ nbf: Math.floor(Date.now() / 1000) + 600 }))))).toBe('not-yet-valid');
  });

  it('tolerates the configured clock difference, and no more', async () => {
    const lateBy30 = await issuer.token(key, claims(), { issuedAgoSec: 90, expiresInSec: 60 });
    await expect(verifier({ clockToleranceSec: 60 }).verify(lateBy30)).resolves.toMatchObject({ subject: 'user-1' });
    expect(await refusal(verifier({ clockToleranceSec: 10 }).verify(lateBy30))).toBe('expired');
  });

  it('follows a key rotation: a token signed with a newly published key is accepted after one fetch', async () => {
    const v = verifier();
    await v.verify(await issuer.token(key, claims()));
    const fetches = issuer.keyFetches;
    const next = await testKey('key-2', 'ES256');
    issuer.published = [key, next];
    await expect(v.verify(await issuer.token(next, claims()))).resolves.toMatchObject({ subject: 'user-1' });
    expect(issuer.keyFetches).toBe(fetches + 1);
    // The old key retired: its tokens no longer open anything.
    issuer.published = [next];
    await v.verify(await issuer.token(await testKey('key-3'), claims())).catch(() => {});
    expect(await refusal(v.verify(await issuer.token(key, claims())))).toBe('unknown-key');
  });

  it('says the provider is unavailable (not that the token is wrong) when discovery fails, and asks again later', async () => {
    issuer.down = true;
    const v = verifier();
    const token = await issuer.token(key, claims());
    await expect(v.verify(token)).rejects.toBeInstanceOf(ProviderUnavailable);
    issuer.down = false;
    await expect(v.verify(token)).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('refuses a discovery document that names another issuer', async () => {
    issuer.claimedIssuer = 'https://login.evil.example';
    await expect(verifier().verify(await issuer.token(key, claims()))).rejects.toThrow(/names the issuer "https:\/\/login.evil.example"/);
  });

  it('refuses settings it cannot work with, naming each', () => {
    expect(() => new TokenVerifier({ issuer: 'http://idp.example.com', audiences: [] })).toThrow(/issuer must be https[\s\S]*client id/);
  });
});

describe('signed-in agents on the feed', () => {
  async function server(over: Partial<SignInOptions> = {}, agents = [{ id: 'a1', name: 'Sam', login: 'sam@example.com' }]): Promise<FeedServer> {
    const s = await startFeedServer({ ...(await storeOptions()), agents, apiKey: API_KEY, signIn: { issuer: issuer.issuer, audiences: [CLIENT_ID], keyRefetchCooldownSec: 0, clockToleranceSec: 0, ...over } });
    cleanup.push(() => s.close());
    return s;
  }
  async function agent(s: FeedServer, token: string): Promise<TestAgent> {
    const a = await TestAgent.connect(s.feedUrl, token);
    cleanup.push(() => a.close());
    return a;
  }
  const api = (s: FeedServer, path: string, body: unknown) =>
    fetch(`${s.httpUrl}/api/${path}`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('welcomes the agent whose login the token names, and refuses a token the agents file does not know', async () => {
    const s = await server();
    const sam = await agent(s, await issuer.token(key, claims()));
    expect(await sam.next('welcome')).toMatchObject({ agentId: 'a1', agentName: 'Sam' });
    const stranger = await agent(s, await issuer.token(key, claims({ sub: 'user-2', email: 'kim@example.com' })));
    expect(await stranger.next('error')).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('kim@example.com signed in, but is not a Deskbell agent') });
    await expect.poll(() => stranger.closed?.code).toBe(CLOSE.unauthorized);
  });

  it('handles frames sent right behind the hello, in order, once the token is checked', async () => {
    const s = await server();
    const sam = await agent(s, await issuer.token(key, claims()));
    sam.send({ type: 'presence', presence: 'busy' });
    sam.send({ type: 'ping', t: Date.now() });
    await sam.next('pong');
    await sam.next('welcome');
    await api(s, 'conversations', { scenario: 'chat', customer: { name: 'Pat' }, comment: 'hi' });
    await new Promise((r) => setTimeout(r, 300));
    // Busy, as the frame behind the hello said: no offer, and no refusal.
    expect(sam.frames.map((f) => f.type).sort()).toEqual(['pong', 'welcome']);
    expect(sam.closed).toBeUndefined();
  });

  it('refuses an expired token at hello and ends a session whose token runs out, unless a renewed one came', async () => {
    const s = await server();
    const expired = await agent(s, await issuer.token(key, claims(), { issuedAgoSec: 60, expiresInSec: 30 }));
    expect(await expired.next('error')).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('expired') });

    const renewing = await agent(s, await issuer.token(key, claims(), { expiresInSec: 2 }));
    await renewing.next('welcome');
    renewing.send({ type: 'auth', token: await issuer.token(key, claims(), { expiresInSec: 600 }) });
    await new Promise((r) => setTimeout(r, 3500));
    expect(renewing.closed).toBeUndefined();
    // Only a sign-in token renews: a static one (another agent's, guessed) is refused as it is.
    renewing.send({ type: 'auth', token: 'static-dev-token-0123456789' });
    expect(await renewing.next('error')).toMatchObject({ code: 'bad-frame', message: expect.stringContaining('auth carries a renewed sign-in token') });
    // A renewal that is another person does not extend anything.
    renewing.send({ type: 'auth', token: await issuer.token(key, claims({ sub: 'user-2', email: 'kim@example.com' })) });
    expect(await renewing.next('error', (f) => f.code === 'unauthorized')).toMatchObject({ message: expect.stringContaining('renewed sign-in refused') });
    await renewing.close();

    const lapsing = await agent(s, await issuer.token(key, claims(), { expiresInSec: 2 }));
    await lapsing.next('welcome');
    expect(await lapsing.next('error', () => true, 5000)).toMatchObject({ code: 'unauthorized', message: 'the sign-in has expired: sign in again' });
    await expect.poll(() => lapsing.closed?.code).toBe(CLOSE.unauthorized);
    expect(s.stats.signInsEnded).toBe(1);
  }, 15_000);

  it('an admin signs an agent out: the connection closes and tokens issued before open nothing', async () => {
    const s = await server();
    const token = await issuer.token(key, claims(), { issuedAgoSec: 1 });
    const sam = await agent(s, token);
    await sam.next('welcome');
    expect((await api(s, 'agents/a1/sign-out', {})).status).toBe(200);
    await expect.poll(() => sam.closed?.code).toBe(CLOSE.unauthorized);
    const again = await agent(s, token);
    expect(await again.next('error')).toMatchObject({ message: 'signed out by an admin: sign in again' });
    expect((await api(s, 'agents/nobody/sign-out', {})).status).toBe(404);
  });

  it('provisions someone new on first sign-in, and routes queues by their groups', async () => {
    const s = await server({ provision: true, groupQueues: { 'billing-team': ['billing'], 'support-team': ['support'] } }, []);
    const kim = await agent(s, await issuer.token(key, claims({ sub: 'user-2', email: 'kim@example.com', name: 'Kim Lee', groups: ['billing-team'] })));
    const welcome = await kim.next('welcome');
    expect(welcome).toMatchObject({ agentName: 'Kim Lee', agentId: expect.stringMatching(/^sso-/) });
    const lou = await agent(s, await issuer.token(key, claims({ sub: 'user-3', email: 'lou@example.com', name: 'Lou', groups: ['support-team'] })));
    await lou.next('welcome');
    await api(s, 'conversations', { scenario: 'chat', customer: { name: 'Pat' }, comment: 'invoice', queue: 'billing' });
    await api(s, 'conversations', { scenario: 'chat', customer: { name: 'Rio' }, comment: 'broken', queue: 'support' });
    expect(await kim.next('offer')).toMatchObject({ conversation: { customer: { name: 'Pat' } } });
    expect(await lou.next('offer')).toMatchObject({ conversation: { customer: { name: 'Rio' } } });
    // Signing in again is the same agent.
    await kim.close();
    const kimAgain = await agent(s, await issuer.token(key, claims({ sub: 'user-2', email: 'kim@example.com', name: 'Kim Lee', groups: ['billing-team'] })));
    expect(await kimAgain.next('welcome')).toMatchObject({ agentId: welcome.agentId });
  });

  it('asks the client to try again later, counting no failed sign-in, while the provider cannot be reached', async () => {
    const s = await server();
    issuer.down = true;
    const token = await issuer.token(key, claims());
    // More tries than the failed sign-ins an address may have: none counts.
    for (let i = 0; i < 12; i++) {
      const sam = await agent(s, token);
      expect(await sam.next('error')).toMatchObject({ code: 'unavailable' });
      await expect.poll(() => sam.closed?.code).toBe(CLOSE.tryAgain);
    }
    expect(s.stats.failedLogins).toBe(0);
    issuer.down = false;
    expect(await (await agent(s, token)).next('welcome')).toMatchObject({ agentId: 'a1' });
  });

  it('keeps static tokens working beside sign-in, and refuses a JWT when sign-in is off', async () => {
    const s = await server({}, [{ id: 'a1', name: 'Sam', login: 'sam@example.com' }, { id: 'dev', name: 'Dev', token: 'static-dev-token-0123456789' } as never]);
    const dev = await agent(s, 'static-dev-token-0123456789');
    expect(await dev.next('welcome')).toMatchObject({ agentId: 'dev' });
    const plain = await startFeedServer({ ...(await storeOptions()), agents: [{ id: 'a1', name: 'Sam', token: 'static-dev-token-0123456789' }], apiKey: API_KEY });
    cleanup.push(() => plain.close());
    const jwt = await agent(plain, await issuer.token(key, claims()));
    expect(await jwt.next('error')).toMatchObject({ message: expect.stringContaining('does not accept sign-in tokens') });
  });
});

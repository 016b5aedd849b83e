/**
 * The worker's sign-in state machine against a scripted provider: the code
 * flow with PKCE, renewal, and every way the sign-in ends. The whole flow
 * against a real provider in Chromium is in tests/e2e/sign-in.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import { SignIn, type SignInView, type StoredSignIn } from './sign-in';
import { renewAt } from '../../utils/oidc';

const ISSUER = 'https://login.example.com';
const CLIENT = 'deskbell';
const REDIRECT = 'https://abcdefghijklmnop.chromiumapp.org/';
const CONFIG = { issuer: ISSUER, clientId: CLIENT, scope: 'openid email offline_access' };

function jwt(claims: Record<string, unknown>): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`;
}

/** A provider as the extension sees it: discovery, authorize (through launchWebAuthFlow), token, revocation. */
function provider(now: () => number) {
  const p = {
    up: true,
    /** The provider's own session: a silent authorize succeeds while it lasts. */
    session: false,
    refreshValid: true,
    lifeSec: 600,
    nonceOverride: undefined as string | undefined,
    codes: new Map<string, { nonce: string; challenge: string }>(),
    revoked: [] as string[],
    /** The `prompt` of each interactive request. */
    prompts: [] as (string | null)[],
    requests: [] as string[],
    idToken(nonce?: string) {
      const iat = Math.floor(now() / 1000);
      return jwt({ iss: ISSUER, aud: CLIENT, sub: 'u1', email: 'sam@example.com', name: 'Sam Jones', iat, exp: iat + p.lifeSec, ...(nonce ? { nonce } : {}) });
    },
    async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
      const url = String(input);
      p.requests.push(url);
      if (!p.up) throw new TypeError('fetch failed');
      const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
      if (url === `${ISSUER}/.well-known/openid-configuration`) {
        return json(200, { issuer: ISSUER, authorization_endpoint: `${ISSUER}/authorize`, token_endpoint: `${ISSUER}/token`, revocation_endpoint: `${ISSUER}/revoke` });
      }
      const form = new URLSearchParams(String(init?.body));
      if (url === `${ISSUER}/revoke`) {
        p.revoked.push(form.get('token')!);
        return new Response('', { status: 200 });
      }
      if (form.get('grant_type') === 'authorization_code') {
        const code = p.codes.get(form.get('code')!);
        const digest = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(form.get('code_verifier')!))).toString('base64url');
        if (!code || digest !== code.challenge || form.get('redirect_uri') !== REDIRECT) return json(400, { error: 'invalid_grant' });
        return json(200, { id_token: p.idToken(p.nonceOverride ?? code.nonce), refresh_token: 'r1', token_type: 'Bearer' });
      }
      if (form.get('grant_type') === 'refresh_token') {
        if (!p.refreshValid) return json(400, { error: 'invalid_grant', error_description: 'grant revoked' });
        return json(200, { id_token: p.idToken(), refresh_token: 'r2' });
      }
      return json(400, { error: 'unsupported_grant_type' });
    },
    /** launchWebAuthFlow: the agent signs in (interactive), or the provider answers at once (silent). */
    async launch({ url, interactive }: { url: string; interactive: boolean }): Promise<string> {
      const q = new URL(url).searchParams;
      expect(q.get('code_challenge_method')).toBe('S256');
      expect(q.get('client_id')).toBe(CLIENT);
      if (interactive) p.prompts.push(q.get('prompt'));
      if (!interactive && !p.session) return `${REDIRECT}?error=login_required&state=${q.get('state')}`;
      if (interactive) p.session = true;
      const code = `code-${p.codes.size}`;
      p.codes.set(code, { nonce: q.get('nonce')!, challenge: q.get('code_challenge')! });
      return `${REDIRECT}?code=${code}&state=${q.get('state')}`;
    },
  };
  return p;
}

function setup(stored: StoredSignIn | null = null) {
  let clock = 1_800_000_000_000;
  const now = () => clock;
  const idp = provider(now);
  const log = { views: [] as (SignInView | null)[], tokens: [] as (string | null)[], lapsed: [] as string[], scheduled: [] as (number | null)[], saved: stored, askLogin: false };
  const signIn = new SignIn({
    launchWebAuthFlow: (d) => idp.launch(d),
    redirectUrl: () => REDIRECT,
    fetch: (i, init) => idp.fetch(i, init),
    load: async () => log.saved,
    save: async (v) => void (log.saved = v),
    loadAskLogin: async () => log.askLogin,
    saveAskLogin: async (v) => void (log.askLogin = v),
    schedule: (at) => void log.scheduled.push(at),
    onChange: (v) => void log.views.push(v),
    onToken: (tk) => void log.tokens.push(tk),
    onLapsed: (r) => void log.lapsed.push(r),
    now,
  });
  return { signIn, idp, log, advance: (ms: number) => void (clock += ms), now };
}

describe('SignIn', () => {
  it('signs in with the code flow and PKCE, keeps the tokens, and schedules the renewal', async () => {
    const t = setup();
    await t.signIn.configure(CONFIG);
    expect(t.signIn.view).toEqual({ status: 'signed-out' });
    await t.signIn.signIn();
    expect(t.signIn.view).toMatchObject({ status: 'signed-in', user: { name: 'Sam Jones', email: 'sam@example.com' } });
    const token = await t.signIn.token();
    expect(token).toBe(t.log.saved!.idToken);
    expect(t.log.tokens).toEqual([token]);
    expect(t.log.saved).toMatchObject({ refreshToken: 'r1', subject: 'u1' });
    expect(t.log.scheduled.at(-1)).toBe(renewAt(t.log.saved!.issuedAt, t.log.saved!.expiresAt));
  });

  it('renews with the refresh token; a token too near its end is renewed before it is handed out', async () => {
    const t = setup();
    await t.signIn.configure(CONFIG);
    await t.signIn.signIn();
    const first = await t.signIn.token();
    t.advance(590_000);
    const second = await t.signIn.token();
    expect(second).not.toBe(first);
    expect(t.log.saved).toMatchObject({ refreshToken: 'r2' });
    expect(t.log.tokens).toEqual([first, second]);
  });

  it('a refused refresh falls back to the provider session; with none left the agent is told and the feed stops', async () => {
    const t = setup();
    await t.signIn.configure(CONFIG);
    await t.signIn.signIn();
    t.idp.refreshValid = false;
    // The provider's session still stands: a silent sign-in renews.
    await expect(t.signIn.renew()).resolves.toMatch(/\./);
    expect(t.log.lapsed).toEqual([]);
    t.idp.session = false;
    await expect(t.signIn.renew()).resolves.toBeNull();
    expect(t.signIn.view).toMatchObject({ status: 'signed-out', error: 'Your sign-in has ended: the sign-in provider asks you to sign in again.' });
    expect(t.log.lapsed).toHaveLength(1);
    expect(t.log.tokens.at(-1)).toBeNull();
    expect(t.log.saved).toBeNull();
    expect(await t.signIn.token()).toBeNull();
  });

  it('keeps a token with life left when the provider cannot be reached, says so, and tries again soon', async () => {
    const t = setup();
    await t.signIn.configure(CONFIG);
    await t.signIn.signIn();
    const token = t.log.saved!.idToken;
    t.idp.up = false;
    t.advance(450_000);
    await expect(t.signIn.renew()).resolves.toBe(token);
    expect(t.signIn.view).toMatchObject({ status: 'signed-in', error: expect.stringContaining('cannot be reached') });
    expect(t.log.scheduled.at(-1)).toBe(t.now() + 30_000);
    // Past the end, with the provider still away: signed out, and told.
    t.advance(140_000);
    await expect(t.signIn.renew()).resolves.toBeNull();
    expect(t.log.lapsed).toHaveLength(1);
  });

  it('refuses an ID token that does not answer its request', async () => {
    const t = setup();
    await t.signIn.configure(CONFIG);
    t.idp.nonceOverride = 'replayed-nonce';
    await expect(t.signIn.signIn()).rejects.toThrow(/nonce/);
    expect(t.signIn.view).toMatchObject({ status: 'signed-out', error: expect.stringContaining('nonce') });
    expect(t.log.saved).toBeNull();
  });

  it('signs out: forgets the tokens, asks the provider to revoke the refresh token, and stops the feed', async () => {
    const t = setup();
    await t.signIn.configure(CONFIG);
    await t.signIn.signIn();
    await t.signIn.signOut();
    expect(t.idp.revoked).toEqual(['r1']);
    expect(t.log.saved).toBeNull();
    expect(t.log.tokens.at(-1)).toBeNull();
    expect(t.signIn.view).toEqual({ status: 'signed-out' });
    expect(t.log.lapsed).toEqual([]);
    // The next person at this PC is asked for their password, whatever the provider's session.
    await t.signIn.signIn();
    expect(t.idp.prompts).toEqual([null, 'login']);
    await t.signIn.renew();
    await t.signIn.signOut();
    await t.signIn.signIn();
    expect(t.idp.prompts).toEqual([null, 'login', 'login']);
  });

  it('the feed refusing the agent ends the sign-in with its words; another provider in the settings drops it too', async () => {
    const t = setup();
    await t.signIn.configure(CONFIG);
    await t.signIn.signIn();
    await t.signIn.refusedByFeed('signed out by an admin: sign in again');
    expect(t.signIn.view).toEqual({ status: 'signed-out', error: 'signed out by an admin: sign in again' });
    expect(t.log.lapsed).toEqual(['signed out by an admin: sign in again']);

    await t.signIn.signIn();
    await t.signIn.configure({ ...CONFIG, clientId: 'other' });
    expect(t.log.saved).toBeNull();
  });

  it('a worker that starts again carries on the stored sign-in; a browser that starts again signs in silently if it can', async () => {
    const first = setup();
    await first.signIn.configure(CONFIG);
    await first.signIn.signIn();
    const again = setup(first.log.saved);
    await again.signIn.configure(CONFIG);
    expect(again.signIn.view).toMatchObject({ status: 'signed-in' });
    expect(await again.signIn.token()).toBe(first.log.saved!.idToken);

    const fresh = setup();
    await fresh.signIn.configure(CONFIG);
    // No provider session: a page would be needed, so nothing happens without the agent.
    expect(await fresh.signIn.trySilent()).toBe(false);
    expect(fresh.signIn.view).toEqual({ status: 'signed-out' });
    fresh.idp.session = true;
    expect(await fresh.signIn.trySilent()).toBe(true);
    expect(fresh.signIn.view).toMatchObject({ status: 'signed-in' });
  });
});

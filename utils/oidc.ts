/**
 * The OpenID Connect pieces of the agent's sign-in, as plain functions: the
 * provider's discovery document, PKCE, the authorization request, the
 * redirect it comes back on, the token endpoint's answer and the ID token's
 * claims. The worker's SignIn (entrypoints/background/sign-in.ts) drives them.
 *
 * The ID token comes straight from the token endpoint over TLS, so its
 * signature is the feed server's to check (OpenID Connect Core 3.1.3.7); the
 * extension checks that it is the token it asked for: issuer, audience,
 * nonce, expiry.
 */
import { isLoopbackHost } from './feed-url';

/** The agent's sign-in as the worker keeps it between its lives (storage.session). */
export interface StoredSignIn {
  issuer: string;
  clientId: string;
  idToken: string;
  refreshToken?: string;
  subject: string;
  issuedAt: number;
  expiresAt: number;
  user: SignedInUser;
}

export interface SignedInUser {
  name?: string;
  email?: string;
}

/** What the views show; null when sign-in is not configured (static tokens). */
export interface SignInView {
  status: 'signed-out' | 'signing-in' | 'signed-in';
  user?: SignedInUser;
  expiresAt?: number;
  /** Why the agent is signed out, or why the last renewal failed. */
  error?: string;
}

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint?: string;
  end_session_endpoint?: string;
}

export interface TokenAnswer {
  idToken: string;
  refreshToken?: string;
}

export interface IdClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nonce?: string;
  azp?: string;
  name?: string;
  email?: string;
  preferred_username?: string;
}

/** Errors a person can act on: the message is shown as it is. */
export class SignInError extends Error {
  constructor(
    message: string,
    /** The provider refused the grant (`invalid_grant`): only a new sign-in helps. */
    readonly grantRefused = false,
  ) {
    super(message);
  }
}

/** https, or http on this machine (a provider under test). */
export function isProviderUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    if (url.protocol === 'https:') return true;
    return url.protocol === 'http:' && isLoopbackHost(url.hostname);
  } catch {
    return false;
  }
}

/** Reads and checks the provider's discovery document; its issuer must be the configured one exactly. */
export async function discover(issuer: string, fetcher: typeof fetch): Promise<Discovery> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let doc: Partial<Discovery>;
  try {
    const response = await fetcher(url, { credentials: 'omit', signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    doc = (await response.json()) as Partial<Discovery>;
  } catch (error) {
    throw new SignInError(`the sign-in provider cannot be reached (${url}: ${(error as Error).message})`);
  }
  if (doc.issuer !== issuer) throw new SignInError(`the sign-in provider at ${url} calls itself ${JSON.stringify(doc.issuer)}, not ${issuer}`);
  for (const key of ['authorization_endpoint', 'token_endpoint'] as const) {
    if (typeof doc[key] !== 'string' || !isProviderUrl(doc[key])) throw new SignInError(`the sign-in provider's ${key} is missing or not https`);
  }
  for (const key of ['revocation_endpoint', 'end_session_endpoint'] as const) if (doc[key] !== undefined && !isProviderUrl(String(doc[key]))) delete doc[key];
  return doc as Discovery;
}

function base64url(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A random string of `bytes` bytes of entropy, base64url. */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** PKCE (RFC 7636) with S256: the verifier stays here, the challenge goes to the provider. */
export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = randomToken(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}

export interface AuthRequest {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string;
  nonce: string;
  challenge: string;
  /** `none`: no page may be shown (a silent renewal); `login`: ask for the password even with a session. */
  prompt?: 'none' | 'login';
  loginHint?: string;
}

export function authorizationUrl(discovery: Discovery, request: AuthRequest): string {
  const url = new URL(discovery.authorization_endpoint);
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    scope: request.scope,
    state: request.state,
    nonce: request.nonce,
    code_challenge: request.challenge,
    code_challenge_method: 'S256',
    ...(request.prompt ? { prompt: request.prompt } : {}),
    ...(request.loginHint ? { login_hint: request.loginHint } : {}),
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

/** The code from the redirect the flow ended on, after checking it answers our request. */
export function readRedirect(redirect: string | undefined, redirectUri: string, state: string): string {
  if (!redirect || !redirect.startsWith(redirectUri)) throw new SignInError('the sign-in did not come back to Deskbell');
  const url = new URL(redirect);
  const params = url.searchParams.has('state') || url.searchParams.has('error') ? url.searchParams : new URLSearchParams(url.hash.slice(1));
  if (params.get('state') !== state) throw new SignInError('the sign-in answer is not for this request (state)');
  const error = params.get('error');
  if (error) {
    const description = params.get('error_description');
    throw new SignInError(`the sign-in provider said ${error}${description ? `: ${description.slice(0, 300)}` : ''}`, ['login_required', 'interaction_required', 'consent_required', 'account_selection_required'].includes(error));
  }
  const code = params.get('code');
  if (!code) throw new SignInError('the sign-in answer has no code');
  return code;
}

/** POSTs a grant to the token endpoint; an OAuth error answer becomes a SignInError naming it. */
export async function tokenRequest(discovery: Discovery, body: Record<string, string>, fetcher: typeof fetch): Promise<TokenAnswer> {
  let response: Response;
  try {
    response = await fetcher(discovery.token_endpoint, {
      method: 'POST',
      credentials: 'omit',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(body).toString(),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new SignInError(`the sign-in provider cannot be reached (${(error as Error).message})`);
  }
  let json: Record<string, unknown>;
  try {
    json = (await response.json()) as Record<string, unknown>;
  } catch {
    throw new SignInError(`the sign-in provider answered HTTP ${response.status} without JSON`);
  }
  if (!response.ok || typeof json.error === 'string') {
    const error = typeof json.error === 'string' ? json.error : `HTTP ${response.status}`;
    const description = typeof json.error_description === 'string' ? `: ${json.error_description.slice(0, 300)}` : '';
    throw new SignInError(`the sign-in provider refused (${error}${description})`, error === 'invalid_grant');
  }
  if (typeof json.id_token !== 'string') throw new SignInError('the sign-in provider sent no ID token: is the openid scope allowed for this client?');
  return { idToken: json.id_token, ...(typeof json.refresh_token === 'string' ? { refreshToken: json.refresh_token } : {}) };
}

/** The claims of a JWT, unverified (see the module comment). */
export function jwtClaims(token: string): IdClaims {
  const part = token.split('.')[1];
  if (!part) throw new SignInError('the ID token is not a JWT');
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as IdClaims;
  } catch {
    throw new SignInError('the ID token cannot be read');
  }
}

/**
 * Checks that an ID token is the one asked for (OpenID Connect Core 3.1.3.7):
 * this issuer, for this client, the nonce of the request (on a refresh, the
 * same person as before), and not expired. Returns its claims.
 */
export function checkIdToken(token: string, expect: { issuer: string; clientId: string; nonce?: string; subject?: string; now: number }): IdClaims {
  const claims = jwtClaims(token);
  if (claims.iss !== expect.issuer) throw new SignInError(`the ID token comes from ${String(claims.iss)}, not ${expect.issuer}`);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(expect.clientId)) throw new SignInError('the ID token is for another application (audience)');
  if (audiences.length > 1 && claims.azp !== expect.clientId) throw new SignInError('the ID token is for another application (azp)');
  if (expect.nonce !== undefined && claims.nonce !== expect.nonce) throw new SignInError('the ID token does not answer this sign-in (nonce)');
  if (expect.subject !== undefined && claims.sub !== expect.subject) throw new SignInError('the renewed ID token is another person');
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= expect.now) throw new SignInError('the ID token has already expired: check the clock of this computer');
  if (typeof claims.sub !== 'string' || !claims.sub) throw new SignInError('the ID token names nobody (sub)');
  return claims;
}

/**
 * When to renew a token: at three quarters of its life, and at least a
 * minute before it ends (half its life for a token shorter than two minutes).
 */
export function renewAt(issuedAt: number, expiresAt: number): number {
  const life = expiresAt - issuedAt;
  return Math.min(issuedAt + life * 0.75, expiresAt - Math.min(60_000, life / 2));
}

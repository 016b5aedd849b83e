/**
 * Agents who sign in with their organisation's identity provider: the
 * extension sends the ID token it got from the provider (OpenID Connect,
 * authorization code with PKCE) in its hello, and sends each renewed one on
 * the open connection. This module checks such a token and says who it is.
 *
 * The checks are jose's (`jwtVerify`): the signature against the provider's
 * published keys (discovered from the issuer, fetched again when a token names
 * a key not seen yet, so a key rotation needs nothing of the operator), the
 * issuer, the audience, expiry and not-before with a clock tolerance, and only
 * asymmetric algorithms (`none` and HMAC are refused before any key is read).
 * Every refusal says which check failed, for the log and the agent.
 */
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';

/** What the operator sets (`--oidc-*` flags, docs/admin.md). */
export interface SignInOptions {
  /** The provider's issuer URL, exactly as its discovery document and tokens say it. */
  issuer: string;
  /** Audiences accepted: the extension's client id at the provider, and any other the operator names. */
  audiences: string[];
  /** The claim that names the agent, matched (case-insensitively) to `login` in the agents file. Default `email`. */
  loginClaim?: string;
  /** Someone the agents file does not name becomes an agent on first sign-in. Default: refused. */
  provision?: boolean;
  /** The claim listing the user's groups or roles. Default `groups`. */
  groupsClaim?: string;
  /** Group (or role) → the queues its members take; an agent's queues are the union over their groups. */
  groupQueues?: Record<string, string[]>;
  /** Seconds of clock difference tolerated on `exp` and `nbf`. Default 60. */
  clockToleranceSec?: number;
  /** Seconds between two key fetches when tokens name unknown keys (tests set 0). Default 30. */
  keyRefetchCooldownSec?: number;
}

export const SIGN_IN_REFUSALS = [
  'malformed',
  'unsigned',
  'bad-algorithm',
  'bad-signature',
  'unknown-key',
  'wrong-issuer',
  'wrong-audience',
  'expired',
  'not-yet-valid',
  'missing-claim',
  'revoked',
] as const;
export type SignInRefusal = (typeof SIGN_IN_REFUSALS)[number];

/** A token that does not let anyone in, and the check it failed. */
export class TokenRefused extends Error {
  constructor(
    readonly reason: SignInRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** The provider could not be asked (discovery or keys): nobody's fault on the agent's side; the client retries. */
export class ProviderUnavailable extends Error {}

export interface VerifiedToken {
  issuer: string;
  subject: string;
  /** The value of the login claim, lower-cased. */
  login: string;
  name?: string;
  groups: string[];
  /** When the token was issued, ms. */
  issuedAt: number;
  /** When the token ends, ms: the session ends then unless a renewed token comes. */
  expiresAt: number;
}

/** Asymmetric signatures only: with a key set, HMAC would let the public key sign. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** Three base64url parts: what a signed JWT looks like (a static agent token never does). */
export function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);
}

/** Loopback hosts may speak plain HTTP (tests, a provider on the same machine); anything else must be HTTPS. */
function checkProviderUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${what} is not a URL: ${raw}`);
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new Error(`${what} must be https: ${raw}`);
  return url;
}

/** Checks the operator's settings; throws naming every problem. */
export function checkSignInOptions(options: SignInOptions): void {
  const problems: string[] = [];
  try {
    checkProviderUrl(options.issuer, 'the issuer');
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (options.audiences.length === 0 || options.audiences.some((a) => !a.trim())) problems.push('name the client id of Deskbell at the provider (--oidc-client-id)');
  if (options.loginClaim !== undefined && !/^[\w.:/-]{1,100}$/.test(options.loginClaim)) problems.push(`the login claim ${JSON.stringify(options.loginClaim)} is not a claim name`);
  if (problems.length > 0) throw new Error(`sign-in settings refused:\n  ${problems.join('\n  ')}`);
}

export class TokenVerifier {
  readonly #o: Required<Omit<SignInOptions, 'groupQueues'>> & Pick<SignInOptions, 'groupQueues'>;
  #keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  constructor(options: SignInOptions) {
    checkSignInOptions(options);
    this.#o = { loginClaim: 'email', provision: false, groupsClaim: 'groups', clockToleranceSec: 60, keyRefetchCooldownSec: 30, ...options };
  }

  get options(): Readonly<SignInOptions> {
    return this.#o;
  }

  /**
   * Reads the provider's discovery document (once; again after a failure).
   * Its issuer must be the configured one, character for character, as
   * OpenID Connect Discovery requires.
   */
  discover(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.#keys ??= (async () => {
      const base = this.#o.issuer.replace(/\/$/, '');
      const url = `${base}/.well-known/openid-configuration`;
      let doc: { issuer?: unknown; jwks_uri?: unknown };
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        doc = (await response.json()) as typeof doc;
      } catch (error) {
        throw new ProviderUnavailable(`the identity provider's discovery document ${url} could not be read: ${(error as Error).message}`);
      }
      if (doc.issuer !== this.#o.issuer) {
        throw new ProviderUnavailable(`the discovery document at ${url} names the issuer ${JSON.stringify(doc.issuer)}, not ${JSON.stringify(this.#o.issuer)}`);
      }
      if (typeof doc.jwks_uri !== 'string') throw new ProviderUnavailable(`the discovery document at ${url} has no jwks_uri`);
      const jwksUri = checkProviderUrl(doc.jwks_uri, "the provider's jwks_uri");
      return createRemoteJWKSet(jwksUri, {
        timeoutDuration: 5000,
        cooldownDuration: this.#o.keyRefetchCooldownSec * 1000,
        cacheMaxAge: 10 * 60_000,
      });
    })();
    this.#keys.catch(() => (this.#keys = undefined));
    return this.#keys;
  }

  /** The token's holder, or TokenRefused naming the failed check, or ProviderUnavailable. */
  async verify(token: string): Promise<VerifiedToken> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new TokenRefused('malformed', 'the token is not a JWT');
    }
    if (alg === undefined || String(alg).toLowerCase() === 'none') throw new TokenRefused('unsigned', 'the token is not signed (alg none)');
    if (typeof alg !== 'string' || !ALGORITHMS.includes(alg)) throw new TokenRefused('bad-algorithm', `tokens signed with ${String(alg).slice(0, 20)} are not accepted`);
    const keys = await this.discover();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.#o.issuer,
        audience: this.#o.audiences,
        algorithms: ALGORITHMS,
        clockTolerance: this.#o.clockToleranceSec,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (error) {
      throw refusal(error);
    }
    // jose reads `iat` only against a maximum age; a token issued in the future means a clock is wrong.
    if (payload.iat! * 1000 > Date.now() + this.#o.clockToleranceSec * 1000) throw new TokenRefused('not-yet-valid', 'the token is not valid yet: check the clocks');
    const login = payload[this.#o.loginClaim];
    if (typeof login !== 'string' || !login.trim()) throw new TokenRefused('missing-claim', `the token has no ${this.#o.loginClaim} claim to name the agent by`);
    const groups = payload[this.#o.groupsClaim];
    const name = payload.name;
    return {
      issuer: payload.iss!,
      subject: payload.sub!,
      login: login.trim().toLowerCase(),
      ...(typeof name === 'string' && name.trim() ? { name: name.trim() } : {}),
      groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
      issuedAt: payload.iat! * 1000,
      expiresAt: payload.exp! * 1000,
    };
  }

  /** The queues the token's groups give, or undefined when no group mapping is set. */
  queuesOf(token: VerifiedToken): string[] | undefined {
    const map = this.#o.groupQueues;
    if (!map) return undefined;
    return [...new Set(token.groups.flatMap((g) => map[g] ?? []))].sort();
  }

  /** Grace after `exp` before a session without a renewed token ends: the same tolerance the check allows. */
  get toleranceMs(): number {
    return this.#o.clockToleranceSec * 1000;
  }
}

/** A stable agent id for someone provisioned on first sign-in: the same person always gets the same id. */
export function provisionedAgentId(token: VerifiedToken): string {
  return `sso-${createHash('sha256').update(`${token.issuer}\n${token.subject}`).digest('base64url').slice(0, 22)}`;
}

function refusal(error: unknown): Error {
  if (error instanceof errors.JWTExpired) return new TokenRefused('expired', 'the token has expired: sign in again');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return new TokenRefused('wrong-issuer', 'the token comes from another issuer');
    if (error.claim === 'aud') return new TokenRefused('wrong-audience', 'the token is not meant for Deskbell (audience)');
    if (error.claim === 'nbf' || error.claim === 'iat') return new TokenRefused('not-yet-valid', 'the token is not valid yet: check the clocks');
    return new TokenRefused('missing-claim', `the token's ${error.claim} claim is missing or wrong`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return new TokenRefused('bad-signature', "the token's signature does not verify");
  if (error instanceof errors.JWKSNoMatchingKey) return new TokenRefused('unknown-key', 'the token is signed with a key the provider does not publish');
  if (error instanceof errors.JWKSMultipleMatchingKeys) return new TokenRefused('bad-signature', "the token's signature does not verify with any of the provider's keys");
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenRefused('bad-algorithm', 'the token is signed with an algorithm that is not accepted');
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || (error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC')) {
    return new ProviderUnavailable(`the identity provider's keys could not be read: ${error.message}`);
  }
  if (error instanceof errors.JOSEError) return new TokenRefused('malformed', `the token is not a valid JWT: ${error.message}`);
  if (error instanceof TypeError || error instanceof SyntaxError) return new ProviderUnavailable(`the identity provider's keys could not be read: ${error.message}`);
  return error instanceof Error ? error : new Error(String(error));
}

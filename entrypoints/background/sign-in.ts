/**
 * The agent's sign-in with the organisation's identity provider (OpenID
 * Connect, authorization code with PKCE, through `identity.launchWebAuthFlow`
 * and its `https://<extension id>.chromiumapp.org/` redirect).
 *
 *   signed-out ──Sign in──► signing-in ──code exchanged──► signed-in
 *       ▲                        │ (window closed, refused)     │ renewal (refresh token,
 *       │                        ▼                              │  else a silent sign-in)
 *       └──── renewal refused, sign-out, feed refused ◄─────────┘
 *
 * Tokens live in storage.session: trusted extension contexts only, in
 * memory, gone when the browser closes (on a shared PC nothing stays on
 * disk). A browser that starts again signs in silently (`trySilent`, no page)
 * when the provider's own session allows it. Each token is renewed at three quarters of its life
 * by a wake-up alarm, so a stopped worker renews too; the feed gets the new
 * token on the open connection. When a renewal is refused the agent is told
 * at once (notification, toolbar, popup, side panel): offers never stop
 * without a word.
 */
import { t } from '../../utils/i18n';
import { authorizationUrl, checkIdToken, discover, type Discovery, type IdClaims, pkce, randomToken, readRedirect, renewAt, SignInError, type SignInView, type StoredSignIn, tokenRequest } from '../../utils/oidc';

export type { SignInView, StoredSignIn };

export interface SignInConfig {
  issuer: string;
  clientId: string;
  scope: string;
}

export interface SignInDeps {
  launchWebAuthFlow(details: { url: string; interactive: boolean; abortOnLoadForNonInteractive?: boolean; timeoutMsForNonInteractive?: number }): Promise<string | undefined>;
  redirectUrl(): string;
  fetch: typeof fetch;
  load(): Promise<StoredSignIn | null>;
  save(value: StoredSignIn | null): Promise<void>;
  /** Whether the next sign-in must ask for the password again (after a sign-out), kept across worker restarts. */
  loadAskLogin(): Promise<boolean>;
  saveAskLogin(value: boolean): Promise<void>;
  /** Wakes the worker at this time to renew (null: nothing to renew). */
  schedule(at: number | null): void;
  /** The view changed. */
  onChange(view: SignInView | null): void;
  /** A new token for the feed (sent on the open connection), or null: signed out, the feed stops. */
  onToken(token: string | null): void;
  /** A signed-in agent lost the sign-in without signing out: tell them, even with no view open. */
  onLapsed(reason: string): void;
  now?: () => number;
}

/** A token this close to its end (half a minute, or a quarter of a short life) is not sent to the feed: it is renewed first. */
function nearEnd(stored: StoredSignIn, now: number): boolean {
  return stored.expiresAt - now <= Math.min(30_000, (stored.expiresAt - stored.issuedAt) / 4);
}
/** After a renewal that failed for want of network, the next try. */
const RETRY_RENEWAL_MS = 30_000;

/** What the views show of a kept sign-in, with why the last renewal failed if it did. */
function signedIn(stored: StoredSignIn, error?: string): SignInView {
  return { status: 'signed-in', user: stored.user, expiresAt: stored.expiresAt, ...(error ? { error } : {}) };
}

export class SignIn {
  #config: SignInConfig | null = null;
  #stored: StoredSignIn | null = null;
  #view: SignInView | null = null;
  #discovery: { issuer: string; doc: Promise<Discovery> } | undefined;
  #renewing: Promise<string | null> | undefined;
  #signingIn: Promise<void> | undefined;
  /**
   * The agent signed out, or the feed or an admin ended the sign-in: the next
   * sign-in asks for the password (`prompt=login`) even while the provider's
   * session lasts, so on a shared PC the next person does not walk into the
   * last one's account.
   */
  #askLogin = false;
  readonly #ready: Promise<void>;
  readonly #now: () => number;

  constructor(private readonly deps: SignInDeps) {
    this.#now = deps.now ?? Date.now;
    this.#ready = Promise.all([deps.load(), deps.loadAskLogin()]).then(
      ([stored, askLogin]) => {
        this.#stored = stored;
        this.#askLogin = askLogin;
      },
      () => undefined,
    );
  }

  get view(): SignInView | null {
    return this.#view;
  }

  /** The settings say which provider (or none). A sign-in with another provider or client is dropped. */
  async configure(config: SignInConfig | null): Promise<void> {
    await this.#ready;
    const changed = JSON.stringify(config) !== JSON.stringify(this.#config);
    this.#config = config;
    if (!changed) return;
    this.#discovery = undefined;
    const stored = this.#stored;
    if (stored && (!config || stored.issuer !== config.issuer || stored.clientId !== config.clientId)) await this.#forget();
    if (!config) return this.#publish(null);
    if (this.#stored) {
      this.deps.schedule(renewAt(this.#stored.issuedAt, this.#stored.expiresAt));
      return this.#publish(signedIn(this.#stored));
    }
    this.#publish({ status: 'signed-out' });
  }

  /**
   * The token for the feed's hello: the current one while it has life left,
   * else a renewed one; null when the agent must sign in.
   */
  async token(): Promise<string | null> {
    await this.#ready;
    if (!this.#config) return null;
    const stored = this.#stored;
    if (!stored) return null;
    if (!nearEnd(stored, this.#now())) return stored.idToken;
    return this.renew();
  }

  /** The agent's click: the provider's page in a window of its own. */
  signIn(): Promise<void> {
    this.#signingIn ??= this.#interactive().finally(() => (this.#signingIn = undefined));
    return this.#signingIn;
  }

  async #interactive(): Promise<void> {
    await this.#ready;
    const config = this.#config;
    if (!config) throw new SignInError('sign-in is not set up: an admin sets the provider on the options page');
    this.#publish({ status: 'signing-in', ...(this.#stored ? { user: this.#stored.user } : {}) });
    try {
      await this.#authorize(config, true);
    } catch (error) {
      const message = (error as Error).message;
      this.#publish(this.#stored ? signedIn(this.#stored, message) : { status: 'signed-out', error: message });
      throw error;
    }
  }

  /** Renews the token now (the alarm, or a token too old to send); the new one, or null when signed out. */
  renew(): Promise<string | null> {
    this.#renewing ??= this.#renew().finally(() => (this.#renewing = undefined));
    return this.#renewing;
  }

  async #renew(): Promise<string | null> {
    await this.#ready;
    const config = this.#config;
    const stored = this.#stored;
    if (!config || !stored) return null;
    try {
      if (stored.refreshToken) {
        try {
          const discovery = await this.#discover(config.issuer);
          const answer = await tokenRequest(discovery, { grant_type: 'refresh_token', refresh_token: stored.refreshToken, client_id: config.clientId }, this.deps.fetch);
          return await this.#keep(config, answer.idToken, answer.refreshToken ?? stored.refreshToken, { subject: stored.subject });
        } catch (error) {
          // A refused refresh token may still leave the provider's session: try that before asking the agent.
          if (!(error instanceof SignInError && error.grantRefused)) throw error;
        }
      }
      await this.#authorize(config, false);
      return this.#stored?.idToken ?? null;
    } catch (error) {
      const message = (error as Error).message;
      const refused = error instanceof SignInError && error.grantRefused;
      const current = this.#stored;
      if (!refused && current && !nearEnd(current, this.#now())) {
        // The provider could not be asked; the token still has life: keep it, try again soon.
        this.deps.schedule(Math.min(this.#now() + RETRY_RENEWAL_MS, current.expiresAt - 30_000));
        this.#publish(signedIn(current, message));
        return current.idToken;
      }
      // The provider's own words are for the admin; the agent is told what to do.
      console.warn('[deskbell] the sign-in could not be renewed:', message);
      await this.#lapse(refused ? t('sign_in_ended') : t('sign_in_ended_unreachable', message));
      return null;
    }
  }

  /** The feed refused the signed-in agent (signed out by an admin, not an agent, token expired on its clock). */
  async refusedByFeed(reason: string): Promise<void> {
    await this.#ready;
    if (!this.#stored) return;
    await this.#setAskLogin(true);
    await this.#lapse(reason);
  }

  /** The agent's Sign out: the provider is asked to revoke the refresh token, and nothing is kept here. */
  async signOut(): Promise<void> {
    await this.#ready;
    const stored = this.#stored;
    await this.#forget();
    await this.#setAskLogin(true);
    this.#publish(this.#config ? { status: 'signed-out' } : null);
    const config = this.#config;
    if (!stored?.refreshToken || !config) return;
    try {
      const discovery = await this.#discover(config.issuer);
      if (discovery.revocation_endpoint) {
        await this.deps.fetch(discovery.revocation_endpoint, {
          method: 'POST',
          credentials: 'omit',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: stored.refreshToken, token_type_hint: 'refresh_token', client_id: config.clientId }).toString(),
          signal: AbortSignal.timeout(10_000),
        });
      }
    } catch (error) {
      console.warn('[deskbell] the sign-in provider could not be asked to revoke the refresh token:', error);
    }
  }

  /**
   * The browser started again (its session storage, and the tokens, are
   * gone): the provider's own session may sign the agent in with no page.
   * False when a page would be needed; the agent then uses Sign in.
   */
  async trySilent(): Promise<boolean> {
    await this.#ready;
    const config = this.#config;
    if (!config || this.#stored) return !!this.#stored;
    try {
      await this.#authorize(config, false);
      return true;
    } catch (error) {
      console.info('[deskbell] no silent sign-in at start:', (error as Error).message);
      return false;
    }
  }

  /** One authorization request: interactive (a window), or silent (`prompt=none`, no page shown). */
  async #authorize(config: SignInConfig, interactive: boolean): Promise<void> {
    const discovery = await this.#discover(config.issuer);
    const redirectUri = this.deps.redirectUrl();
    const state = randomToken();
    const nonce = randomToken();
    const { verifier, challenge } = await pkce();
    const url = authorizationUrl(discovery, {
      clientId: config.clientId,
      redirectUri,
      scope: config.scope,
      state,
      nonce,
      challenge,
      ...(interactive ? (this.#askLogin ? { prompt: 'login' as const } : {}) : { prompt: 'none' as const }),
      ...(this.#stored?.user.email ? { loginHint: this.#stored.user.email } : {}),
    });
    let redirect: string | undefined;
    try {
      redirect = await this.deps.launchWebAuthFlow(interactive ? { url, interactive } : { url, interactive, abortOnLoadForNonInteractive: true, timeoutMsForNonInteractive: 10_000 });
    } catch (error) {
      const message = (error as Error).message;
      // Chrome's words when the agent closes the window, or when a silent try needs a page.
      throw new SignInError(/did not approve|closed|user/i.test(message) ? 'the sign-in window was closed before signing in' : `the sign-in did not finish (${message})`, !interactive);
    }
    const code = readRedirect(redirect, redirectUri, state);
    const answer = await tokenRequest(discovery, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: config.clientId, code_verifier: verifier }, this.deps.fetch);
    if (JSON.stringify(config) !== JSON.stringify(this.#config)) throw new SignInError('the sign-in settings changed meanwhile: sign in again');
    await this.#keep(config, answer.idToken, answer.refreshToken, { nonce });
    if (interactive) await this.#setAskLogin(false);
  }

  async #setAskLogin(value: boolean): Promise<void> {
    if (this.#askLogin === value) return;
    this.#askLogin = value;
    await this.deps.saveAskLogin(value).catch((error: unknown) => console.warn('[deskbell] could not store the sign-in prompt:', error));
  }

  /** Checks and keeps a token from the provider; tells the feed and the views. */
  async #keep(config: SignInConfig, idToken: string, refreshToken: string | undefined, expect: { nonce?: string; subject?: string }): Promise<string> {
    const claims: IdClaims = checkIdToken(idToken, { issuer: config.issuer, clientId: config.clientId, now: this.#now(), ...expect });
    const stored: StoredSignIn = {
      issuer: config.issuer,
      clientId: config.clientId,
      idToken,
      ...(refreshToken ? { refreshToken } : {}),
      subject: claims.sub,
      issuedAt: Math.min(claims.iat * 1000, this.#now()),
      expiresAt: claims.exp * 1000,
      user: {
        ...(claims.name ? { name: claims.name } : {}),
        ...((claims.email ?? claims.preferred_username) ? { email: claims.email ?? claims.preferred_username } : {}),
      },
    };
    this.#stored = stored;
    await this.deps.save(stored);
    this.deps.schedule(renewAt(stored.issuedAt, stored.expiresAt));
    this.#publish(signedIn(stored));
    this.deps.onToken(idToken);
    return idToken;
  }

  /** The sign-in ended without the agent choosing it: forget it and say why. */
  async #lapse(reason: string): Promise<void> {
    const wasSignedIn = !!this.#stored;
    await this.#forget();
    this.#publish(this.#config ? { status: 'signed-out', error: reason } : null);
    if (wasSignedIn) this.deps.onLapsed(reason);
  }

  async #forget(): Promise<void> {
    this.#stored = null;
    this.deps.schedule(null);
    await this.deps.save(null).catch((error: unknown) => console.warn('[deskbell] could not clear the stored sign-in:', error));
    this.deps.onToken(null);
  }

  #discover(issuer: string): Promise<Discovery> {
    if (this.#discovery?.issuer !== issuer) {
      const doc = discover(issuer, this.deps.fetch);
      this.#discovery = { issuer, doc };
      // A failure is not kept: the next call asks again.
      doc.catch(() => {
        if (this.#discovery?.doc === doc) this.#discovery = undefined;
      });
    }
    return this.#discovery.doc;
  }

  #publish(view: SignInView | null): void {
    this.#view = view;
    this.deps.onChange(view);
  }
}

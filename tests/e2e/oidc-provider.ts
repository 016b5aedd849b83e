/**
 * A real OpenID provider for the sign-in tests: `oidc-provider` (an
 * OpenID-certified implementation) on 127.0.0.1, with test users who sign in
 * on its login page with a password, an in-memory store the test can revoke
 * a user's sessions and grants in, and the extension registered as a public
 * client (PKCE, refresh tokens) once its id is known.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Adapter, type AdapterPayload, type ClientMetadata } from 'oidc-provider';

export interface TestUser {
  sub: string;
  email: string;
  password: string;
  name: string;
  groups: string[];
}

export const TEST_USERS: TestUser[] = [{ sub: 'user-sam', email: 'sam@example.com', password: 'correct horse battery staple', name: 'Sam Jones', groups: ['support'] }];

export interface TestProvider {
  issuer: string;
  /** Registers the extension as a public client with this redirect URI, its token endpoint open to this origin (CORS). */
  registerClient(clientId: string, redirectUri: string, origin: string): void;
  /** Ends everything the provider holds for the user: sessions, grants, refresh tokens (the employee left). */
  revokeUser(sub: string): void;
  /** Sign-ins completed on the login page. */
  readonly logins: string[];
  close(): Promise<void>;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid: string, error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in: Example Corp</title></head><body>
<h1>Example Corp sign-in</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>E-mail <input name="login" type="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></body></html>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return new URLSearchParams(body);
}

export async function startTestProvider(options: { idTokenTtlSec: number }): Promise<TestProvider> {
  const stores = new Map<string, Map<string, AdapterPayload>>();
  const clients = new Map<string, ClientMetadata>();
  /** Per client, the browser origin allowed to call the token endpoint, as an admin sets it at a provider. */
  const origins = new Map<string, string>();
  const store = (model: string) => stores.get(model) ?? stores.set(model, new Map()).get(model)!;
  class MemoryAdapter implements Adapter {
    constructor(private readonly model: string) {}
    async upsert(id: string, payload: AdapterPayload) {
      store(this.model).set(id, payload);
    }
    async find(id: string) {
      if (this.model === 'Client') return clients.get(id) as AdapterPayload | undefined;
      return store(this.model).get(id);
    }
    async findByUserCode() {
      return undefined;
    }
    async findByUid(uid: string) {
      return [...store(this.model).values()].find((p) => p.uid === uid);
    }
    async consume(id: string) {
      const payload = store(this.model).get(id);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store(this.model).delete(id);
    }
    async revokeByGrantId(grantId: string) {
      for (const s of stores.values()) for (const [id, p] of s) if (p.grantId === grantId) s.delete(id);
    }
  }

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  const logins: string[] = [];
  /** Made once the server listens: its issuer needs the port. */
  const ref: { provider?: Provider } = {};

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const provider = ref.provider!;
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(req.url ?? '');
    if (!match) return provider.callback()(req, res);
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        const uid = match[1]!;
        if (details.prompt.name === 'consent') {
          // A first-party app the admin consented to for everyone: no consent page, as with enterprise providers.
          const grant = details.grantId ? (await provider.Grant.find(details.grantId))! : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
          const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
          if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
          if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
          return await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
        }
        if (!match[2]) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          return res.end(loginPage(uid));
        }
        const form = await readForm(req);
        const user = TEST_USERS.find((u) => u.email === form.get('login') && u.password === form.get('password'));
        if (!user) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          return res.end(loginPage(uid, 'Wrong e-mail or password.'));
        }
        logins.push(user.email);
        await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(String(error));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  ref.provider = new Provider(issuer, {
    adapter: MemoryAdapter,
    clients: [],
    jwks: { keys: [signingKey] },
    cookies: { keys: ['deskbell-test-cookie-key-0123456789'] },
    findAccount: async (_ctx, sub) => {
      const user = TEST_USERS.find((u) => u.sub === sub);
      return user && { accountId: sub, claims: async () => ({ sub, email: user.email, email_verified: true, name: user.name, groups: user.groups }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    // The ID token carries the profile and e-mail claims: the feed server maps the agent by them.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    clientBasedCORS: (_ctx, origin, client) => origins.get(client.clientId) === origin,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: { IdToken: options.idTokenTtlSec, AccessToken: options.idTokenTtlSec, AuthorizationCode: 60, RefreshToken: 3600, Session: 3600, Grant: 3600, Interaction: 600 },
    renderError: async (ctx, out) => {
      ctx.type = 'text/plain';
      ctx.body = `${out.error}: ${out.error_description ?? ''}`;
    },
  });

  return {
    issuer,
    logins,
    registerClient(clientId, redirectUri, origin) {
      origins.set(clientId, origin);
      clients.set(clientId, {
        client_id: clientId,
        redirect_uris: [redirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
      });
    },
    revokeUser(sub) {
      for (const s of stores.values()) for (const [id, p] of s) if (p.accountId === sub || (p as { account?: string }).account === sub) s.delete(id);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

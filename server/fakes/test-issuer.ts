/**
 * Keys and tokens for the sign-in refusal tests: an HTTP server on 127.0.0.1
 * that publishes a discovery document and a key set as a provider does, and
 * signs tokens with jose, right or wrong on purpose. The whole sign-in flow
 * runs against a real provider (oidc-provider) in the e2e suite.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

export interface TestKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function testKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export class TestIssuer {
  /** The keys the key set publishes now; tests rotate them. */
  published: TestKey[] = [];
  /** Key set fetches so far. */
  keyFetches = 0;
  /** When set, the discovery document names this issuer instead of its own. */
  claimedIssuer: string | undefined;
  /** When true, every request fails with 503. */
  down = false;

  private constructor(
    private readonly server: Server,
    readonly issuer: string,
  ) {}

  static async start(): Promise<TestIssuer> {
    const ref: { self?: TestIssuer } = {};
    const server = createServer((req, res) => {
      const self = ref.self!;
      if (self.down) return res.writeHead(503).end();
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ issuer: self.claimedIssuer ?? self.issuer, jwks_uri: `${self.issuer}/jwks` }));
      }
      if (req.url === '/jwks') {
        self.keyFetches++;
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ keys: self.published.map((k) => k.publicJwk) }));
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (ref.self = new TestIssuer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  }

  /** A signed ID token: by default valid for ten minutes, for `audience`, from this issuer. */
  async token(key: TestKey, claims: JWTPayload & { aud?: string | string[] }, options: { expiresInSec?: number; issuedAgoSec?: number; alg?: string } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const iat = now - (options.issuedAgoSec ?? 0);
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: options.alg ?? String(key.publicJwk.alg), kid: key.kid, typ: 'JWT' })
      .setIssuer(typeof claims.iss === 'string' ? claims.iss : this.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(iat + (options.expiresInSec ?? 600))
      .sign(key.privateKey);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** An unsigned token (`alg: none`), as an attacker would make it. */
export function unsignedToken(payload: JWTPayload): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

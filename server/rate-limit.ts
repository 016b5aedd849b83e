import type { IncomingMessage } from 'node:http';

/**
 * Per-address token buckets: each address may spend `burst` at once and
 * earns `perMinute` back. What they guard is cheap for a client and costly
 * or sensitive for the server: opening web chats, customer messages, wrong
 * credentials. Full buckets are forgotten, so memory stays bounded by the
 * addresses active in the last few minutes.
 */
export interface BucketPolicy {
  burst: number;
  perMinute: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly policy: BucketPolicy,
    private readonly now: () => number = Date.now,
    /** Past this many addresses, full buckets are swept before a new one is added. */
    private readonly maxAddresses = 50_000,
  ) {}

  #refill(address: string): { tokens: number; at: number } {
    const now = this.now();
    const bucket = this.#buckets.get(address);
    if (!bucket) return { tokens: this.policy.burst, at: now };
    const earned = ((now - bucket.at) / 60_000) * this.policy.perMinute;
    return { tokens: Math.min(this.policy.burst, bucket.tokens + earned), at: now };
  }

  /** Spends one token; false when the address has none left (refuse the request). */
  take(address: string): boolean {
    const bucket = this.#refill(address);
    if (bucket.tokens < 1) {
      this.#buckets.set(address, bucket);
      return false;
    }
    bucket.tokens -= 1;
    if (!this.#buckets.has(address) && this.#buckets.size >= this.maxAddresses) this.#sweep();
    this.#buckets.set(address, bucket);
    return true;
  }

  /** True while the address still has a token, without spending one. */
  allows(address: string): boolean {
    return this.#refill(address).tokens >= 1;
  }

  /** Seconds until the address has a token again. */
  retryAfterSec(address: string): number {
    const missing = 1 - this.#refill(address).tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this.policy.perMinute) * 60);
  }

  #sweep(): void {
    for (const [address, bucket] of this.#buckets) {
      const { tokens } = this.#refill(address);
      if (tokens >= this.policy.burst || bucket.at < this.now() - 3_600_000) this.#buckets.delete(address);
    }
    // Still full of hot addresses: drop the oldest half rather than grow.
    if (this.#buckets.size >= this.maxAddresses) {
      let n = 0;
      for (const address of this.#buckets.keys()) if (n++ < this.maxAddresses / 2) this.#buckets.delete(address);
    }
  }
}

/** What one address, one chat or one connection may cost the server (docs/admin.md › Limits). */
export interface EdgeLimits {
  /** Web chats one address may open. */
  webchatStarts: BucketPolicy;
  /** Customer messages one address may post to web chats. */
  customerMessages: BucketPolicy;
  /** Wrong agent tokens and wrong API keys one address may send; past that every attempt is refused until it earns one back. */
  failedAuth: BucketPolicy;
  /** Open event streams per web chat, and per address. */
  streamsPerChat: number;
  streamsPerAddress: number;
  /** Bytes an agent's WebSocket may have unsent before it is closed (4413; the agent resumes from its cursor). */
  maxSocketBacklogBytes: number;
  /** Bytes a web chat event stream may have unsent before it is ended (the browser reconnects and gets the transcript). */
  maxStreamBacklogBytes: number;
}

export const DEFAULT_LIMITS: EdgeLimits = {
  webchatStarts: { burst: 5, perMinute: 5 },
  customerMessages: { burst: 30, perMinute: 60 },
  failedAuth: { burst: 10, perMinute: 10 },
  streamsPerChat: 4,
  streamsPerAddress: 20,
  maxSocketBacklogBytes: 8 * 1024 * 1024,
  maxStreamBacklogBytes: 1024 * 1024,
};

/** Where a request or socket comes from, as the limits count it: the peer's address. */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * The answer to a credential: `wrong` counts against the address, and once the
 * address has none left every attempt is `throttled`, right or wrong, so a
 * guess cannot be told from a hit.
 */
export type CredentialCheck<T> = { ok: true; value: T } | { ok: false; why: 'wrong' | 'throttled'; retryAfterSec: number };

/** The limiters and counters of one server, shared by its HTTP routes and its WebSocket. */
export class Edge {
  readonly limits: EdgeLimits;
  readonly webchatStarts: RateLimiter;
  readonly customerMessages: RateLimiter;
  readonly failedAuth: RateLimiter;
  readonly #streams = { byChat: new Map<string, number>(), byAddress: new Map<string, number>() };

  constructor(limits: Partial<EdgeLimits> = {}, now: () => number = Date.now) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.webchatStarts = new RateLimiter(this.limits.webchatStarts, now);
    this.customerMessages = new RateLimiter(this.limits.customerMessages, now);
    this.failedAuth = new RateLimiter(this.limits.failedAuth, now);
  }

  /** Checks a credential (an agent token, the API key) under the address's failed-attempt limit. */
  checkCredential<T>(address: string, check: () => T | undefined): CredentialCheck<T> {
    if (!this.failedAuth.allows(address)) return { ok: false, why: 'throttled', retryAfterSec: this.failedAuth.retryAfterSec(address) };
    const value = check();
    if (value !== undefined) return { ok: true, value };
    this.failedAuth.take(address);
    return { ok: false, why: 'wrong', retryAfterSec: 0 };
  }

  /** Counts an event stream in; undefined when the chat or the address has its share already, else the release function. */
  openStream(chatId: string, address: string): (() => void) | undefined {
    const { byChat, byAddress } = this.#streams;
    if ((byChat.get(chatId) ?? 0) >= this.limits.streamsPerChat || (byAddress.get(address) ?? 0) >= this.limits.streamsPerAddress) return undefined;
    const bump = (map: Map<string, number>, key: string, by: number) => {
      const n = (map.get(key) ?? 0) + by;
      if (n > 0) map.set(key, n);
      else map.delete(key);
    };
    bump(byChat, chatId, 1);
    bump(byAddress, address, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      bump(byChat, chatId, -1);
      bump(byAddress, address, -1);
    };
  }
}
